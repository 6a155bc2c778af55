"""The device stage: a TFLite interpreter, a face detector, a tracker and the live loop.

Needs numpy, OpenCV and a TFLite interpreter (LiteRT or tflite-runtime); never TensorFlow.
"""
