"""evaluate: a model (run or member folder, .keras or .tflite) scored on a split: metrics JSON, confusion PNG."""

from pathlib import Path
from typing import NamedTuple

from edge_emotion.atomic import check_writable, write_json
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.labels import CLASS_NAMES
from edge_emotion.metrics import LabelSets, score_label_sets
from edge_emotion.training.data import FaceSet, canonical_split, load_faces
from edge_emotion.training.plots import plot_confusion
from edge_emotion.training.resolve import find_model, load_model, trained_config

DEFAULT_DATA = Path("fer2013.csv")
FERPLUS_NAME = "fer2013new.csv"  # FER+ votes, looked for beside a FER2013 CSV when --ferplus is not given
PACKAGE = Path(__file__).resolve().parents[1]  # the installed edge_emotion folder: no reports written into it


class Evaluation(NamedTuple):
    scores: LabelSets
    title: str  # what was scored on what: "MODEL on DATA:SPLIT (N faces)"
    report: Path  # the folder holding metrics.json and confusion.png


def evaluate(
    *, model: str | Path, data: Path | None = None, split: str = "PublicTest", out: Path | None = None,
    mirror: bool = False, ferplus: Path | None = None,
) -> Evaluation:  # fmt: skip
    """Score ``model`` on ``split`` of ``data`` and write the report to ``out`` (default: ``default_report_dir``).

    Scored against FER2013's labels and, with FER+ votes (``ferplus``, else ``fer2013new.csv``
    beside a CSV ``data`` when it is there), against the FER+ majority too.

    ``model`` is a shipped model's name (fast, accurate) or a path. ``data`` defaults to the data
    a run or member trained on, else ``fer2013.csv``. A .tflite model runs in the device's
    interpreter, a Keras model as its run trained it; ``mirror`` averages each face with its
    mirror image, as ``run --mirror`` does.
    """
    model, kind = find_model(model)  # a wrong path fails before the data is read
    if data is None:
        trained = trained_config(model, kind)
        data = Path(trained.data) if trained else DEFAULT_DATA
    report = out or default_report_dir(model, split)
    check_writable(report)
    if ferplus is None and data.is_file() and (data.parent / FERPLUS_NAME).is_file():
        ferplus = data.parent / FERPLUS_NAME
    faces = load_faces(data, split, ferplus)
    loaded = load_model(model)
    names = loaded.class_names or list(CLASS_NAMES)
    if list(names) != list(CLASS_NAMES):
        raise EdgeEmotionError(
            f"{model}: its classes ({', '.join(names)}) are not FER2013's ({', '.join(CLASS_NAMES)}), "
            "so it cannot be scored on FER2013's labels"
        )
    scores = score_label_sets(loaded.predict(faces, mirror=mirror), faces.labels, faces.human)
    write_report(scores, faces, model, report)
    return Evaluation(scores, f"{model} on {faces.source} ({len(faces)} faces)", report)


def default_report_dir(model: Path, split: str) -> Path:
    """Inside a run or member folder; beside a model file, except one installed with the package
    (the shipped model), whose report goes to ``runs/`` under the current folder instead."""
    name = f"eval-{canonical_split(split)}"
    if model.is_dir():
        return model / name
    if model.resolve().is_relative_to(PACKAGE):
        return Path("runs") / f"{model.stem}-{name}"
    return model.with_name(f"{model.stem}-{name}")


def write_report(scores: LabelSets, faces: FaceSet, model: Path, out: Path) -> None:
    """metrics.json (FER2013's scores at the top level, FER+'s under ``ferplus``) and confusion.png in ``out``."""
    both = scores.as_dict()
    write_json(
        out / "metrics.json",
        {"model": str(model), "data": faces.source, "faces": len(faces), **both.pop("fer2013"), **both},
    )
    title = f"{model.name} on {faces.source.split(':')[-1]}: accuracy {scores.fer2013.accuracy:.1%}"
    if scores.ferplus is not None:
        title += f" (FER+ majority {scores.ferplus.accuracy:.1%})"
    plot_confusion(scores.fer2013.confusion, CLASS_NAMES, title, out / "confusion.png")
