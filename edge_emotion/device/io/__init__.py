"""Input and output around the engine: frame sources, drawing, outputs, events, sinks, the live page
and server, and the live loop that ties them to the recognizer (``edge_emotion.device.engine``).

Imports the engine, never the other way round. Needs numpy and OpenCV; never TensorFlow.
"""
