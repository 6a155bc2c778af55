"""The device stage: the inference engine (``engine``) and the input and output around it (``io``).

Needs numpy, OpenCV and a TFLite interpreter (LiteRT or tflite-runtime); never TensorFlow.
"""
