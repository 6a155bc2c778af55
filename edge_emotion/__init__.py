"""edge-emotion: facial emotion recognition that trains on a workstation and runs on small devices.

    from edge_emotion import EmotionRecognizer
    faces = EmotionRecognizer(photos=True).predict(cv2.imread("group.jpg"))

The package root stays light: ``import edge_emotion`` imports neither TensorFlow nor OpenCV;
``EmotionRecognizer`` and ``Face`` are imported from ``edge_emotion.device.engine.recognizer`` when
first asked for, so a Raspberry Pi pulls in only what the device needs.

What a device imports is the package root's own modules (the shared contract: preprocessing,
labels, metadata, the shipped models and the device's model resolver, errors, atomic writes, the
command line) and ``device/``: its inference engine (``device/engine``) and the input and output
around it (``device/io``). ``training/`` and ``convert/`` are the workstation's, and nothing on the
device side imports them (``tests/test_layout_imports.py``).
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["EmotionRecognizer", "Face", "__version__"]
_LAZY = {"EmotionRecognizer": "edge_emotion.device.engine.recognizer", "Face": "edge_emotion.device.engine.recognizer"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'edge_emotion' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LAZY[name]), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
