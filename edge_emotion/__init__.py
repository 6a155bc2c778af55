"""edge-emotion: facial emotion recognition that trains on a workstation and runs on small devices.

The package root stays light: it imports neither TensorFlow nor OpenCV, so
``import edge_emotion.device`` on a Raspberry Pi pulls in only what the device needs.
"""

__version__ = "0.1.0"
