"""The inference engine: detect, align, classify, track and calibrate, put together by the recognizer.

Frames in, faces with their emotions out; it knows nothing of cameras, files, pages or brokers
(``edge_emotion.device.io``). Needs numpy, OpenCV and a TFLite interpreter; never TensorFlow.
"""
