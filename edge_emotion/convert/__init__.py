"""The conversion stage: Keras model -> TFLite (int8, float16, float32), checked and reported.

Needs TensorFlow (the ``train`` extra) to convert; the checks score the converted model
through the device-side interpreter.
"""
