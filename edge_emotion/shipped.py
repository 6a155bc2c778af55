"""The models the project trained and installs with the package, by name: ``fast`` and ``accurate``.

Every command and API that names a model takes one of these names or a path: ``model_path`` is
the first step of the model resolver (``edge_emotion.resolve``). Each model's metadata carries
its measured figures as its ``card`` (written by ``benchmarks/model_card.py``: PrivateTest scored
once per shipped model), which ``edge-emotion models`` lists.
"""

from importlib import resources
from pathlib import Path
from typing import Any

from edge_emotion.errors import EdgeEmotionError
from edge_emotion.metadata import read_metadata

SHIPPED = {"fast": "emotion_int8.tflite", "accurate": "emotion_accurate_int8.tflite"}
DEFAULT = "fast"


def shipped_model(name: str = DEFAULT) -> Path:
    """The installed file of the shipped model ``name``."""
    if name not in SHIPPED:
        raise EdgeEmotionError(f"no shipped model {name!r}; choose one of: {', '.join(SHIPPED)}, or give a path")
    return Path(str(resources.files("edge_emotion") / "models" / SHIPPED[name]))


def model_path(model: str | Path | None) -> Path:
    """What ``--model`` names: a shipped model's name (None: the fast one), else a path as given.

    The names win over files of the same name in the current folder: write ``./fast`` for such a file.
    """
    if model is None:
        return shipped_model()
    if isinstance(model, str) and model in SHIPPED:
        return shipped_model(model)
    path = Path(model)
    if isinstance(model, str) and not path.exists() and not path.suffix and len(path.parts) == 1:
        # A bare word that is no file: most likely a misspelt name, so say which names there are.
        raise EdgeEmotionError(f"no model {model!r}: name a shipped model ({', '.join(SHIPPED)}) or a model file")
    return path


def installed_models() -> list[dict[str, Any]]:
    """Each shipped model that is installed: its name, file, size and the figures its sidecar records."""
    found = []
    for name in SHIPPED:
        path = shipped_model(name)
        if not path.is_file():
            continue
        try:
            metadata = read_metadata(path)
        except EdgeEmotionError:  # listed without figures: running it says what is wrong with its metadata
            metadata = None
        figures = metadata.card if metadata else {}
        found.append({"name": name, "path": path, "bytes": path.stat().st_size, **figures})
    return found
