"""evaluate: a model (run or member folder, .keras or .tflite) scored on a split: metrics JSON, confusion PNG."""

from pathlib import Path
from typing import NamedTuple

from edge_emotion.atomic import check_writable, write_json
from edge_emotion.data import FaceSet, canonical_split, load_faces
from edge_emotion.labels import CLASS_NAMES
from edge_emotion.metrics import Scores, score
from edge_emotion.plots import plot_confusion
from edge_emotion.resolve import load_model, model_kind


class Evaluation(NamedTuple):
    scores: Scores
    title: str  # what was scored on what: "MODEL on DATA:SPLIT (N faces)"
    report: Path  # the folder holding metrics.json and confusion.png


def evaluate(
    *, model: Path, data: Path = Path("fer2013.csv"), split: str = "PublicTest", out: Path | None = None,
    mirror: bool = False,
) -> Evaluation:  # fmt: skip
    """Score ``model`` on ``split`` of ``data`` and write the report to ``out`` (default: beside the model).

    A .tflite model runs in the device's interpreter, a Keras model as its run trained it;
    ``mirror`` averages each face with its mirror image, as ``run --mirror`` does.
    """
    model_kind(model)  # a wrong path fails before the data is read
    report = out or default_report_dir(model, split)
    check_writable(report)
    faces = load_faces(data, split)
    scores = score(load_model(model).predict(faces, mirror=mirror), faces.labels)
    write_report(scores, faces, model, report)
    return Evaluation(scores, f"{model} on {faces.source} ({len(faces)} faces)", report)


def default_report_dir(model: Path, split: str) -> Path:
    name = f"eval-{canonical_split(split)}"
    return model / name if model.is_dir() else model.with_name(f"{model.stem}-{name}")


def write_report(scores: Scores, faces: FaceSet, model: Path, out: Path) -> None:
    """metrics.json and confusion.png in ``out``."""
    write_json(
        out / "metrics.json",
        {"model": str(model), "data": faces.source, "faces": len(faces), **scores.as_dict()},
    )
    title = f"{model.name} on {faces.source.split(':')[-1]}: accuracy {scores.accuracy:.1%}"
    plot_confusion(scores.confusion, CLASS_NAMES, title, out / "confusion.png")
