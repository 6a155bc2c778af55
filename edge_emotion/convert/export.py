"""convert: a trained model -> a checked .tflite with its metadata, ready for the device."""

import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from edge_emotion.atomic import atomic_paths, check_writable, remove_partials, write_errors
from edge_emotion.convert.check import compare
from edge_emotion.convert.edgetpu import op_report
from edge_emotion.convert.ensemble import combine
from edge_emotion.convert.quantize import convert, representative_faces
from edge_emotion.data import FaceSet, canonical_split, load_faces, load_splits
from edge_emotion.device.classifier import Classifier
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.metadata import ModelMetadata, sidecar_path, write_metadata
from edge_emotion.preprocess import scale
from edge_emotion.tf_import import import_keras
from edge_emotion.training.evaluate import predict_keras
from edge_emotion.training.run_folder import reading

log = logging.getLogger(__name__)
CALIBRATION_SPLIT = "Training"
WEIGHT_BYTES = {"int8": 1, "float16": 2, "float32": 4}  # per parameter, to check the disk has room before converting
METADATA_ROOM = 64 * 1024  # the graph and the sidecar, beyond the weights


@dataclass(frozen=True)
class ConvertOptions:
    mode: str = "int8"
    data: Path = Path("fer2013.csv")
    calibration_faces: int = 500
    seed: int = 0
    check_data: Path | None = None
    check_split: str = "PublicTest"
    max_drop: float = 1.0
    static_batch: bool = False
    force: bool = False


def load_source(source: Path) -> tuple[Any, dict[str, Any]]:
    """The float Keras model from a run folder or a .keras file, and what it came from."""
    if source.is_dir():
        from edge_emotion.training.run_folder import load_best_model

        model, config = load_best_model(source)
        return model, {"run": str(source), **config}
    if source.suffix != ".keras" or not source.is_file():
        raise EdgeEmotionError(f"{source}: not a model (give a run folder or a .keras file)")
    with reading(source, "not a Keras model: give a run folder or a .keras file that Keras saved"):
        return import_keras().models.load_model(source), {"model": str(source)}


def load_sources(sources: Sequence[Path]) -> tuple[Any, dict[str, Any]]:
    """One source's model, or several as one ensemble graph that averages their probabilities."""
    loaded = [load_source(source) for source in sources]
    if len(loaded) == 1:
        return loaded[0]
    models, origins = zip(*loaded, strict=True)
    return combine(models, origins)


def export(source: Path | Sequence[Path], out: Path, options: ConvertOptions) -> tuple[ModelMetadata, dict[str, Any]]:
    """Convert, score both models on the same faces, and keep the .tflite only if the check passes.

    Several sources become one ensemble model. Returns the metadata written beside the model
    and the Edge TPU op report.
    """
    sources = [source] if isinstance(source, Path) else list(source)
    if out.is_dir():
        raise EdgeEmotionError(f"{out} is a folder; --out names the .tflite file to write")
    if out.suffix != ".tflite":
        raise EdgeEmotionError(f"{out}: the output name must end in .tflite")
    check_writable(out.parent)  # a read-only or full disk fails before the slow conversion
    if out.exists() and not options.force:
        raise EdgeEmotionError(f"{out} exists; pass --force to overwrite it")
    remove_partials([out, sidecar_path(out)])
    model, origin = load_sources(sources)
    check_writable(out.parent, room=WEIGHT_BYTES.get(options.mode, 4) * int(model.count_params()) + METADATA_ROOM)
    contract = ModelMetadata(quantization=options.mode, low_pass_sigma=float(origin.get("low_pass", 0.0)))
    calibration, faces = _calibration_and_check_faces(options)
    representative = None
    if calibration is not None:
        representative = representative_faces(
            calibration, options.calibration_faces, options.seed, contract.low_pass_sigma
        )
    log.info("converting %s to %s", ", ".join(map(str, sources)), options.mode)
    content = convert(model, options.mode, representative, static_batch=options.static_batch)
    float_probs = predict_keras(model, faces, low_pass_sigma=contract.low_pass_sigma)
    # Checked in a scratch folder, so a kill during the check leaves nothing beside ``out``.
    with tempfile.TemporaryDirectory(prefix="edge-emotion-convert-") as scratch:
        candidate = Path(scratch) / out.name
        with write_errors(candidate):
            candidate.write_bytes(content)
        # The device-side interpreter, fed as the device will feed it: what is checked is what runs.
        classifier = Classifier(candidate, metadata=contract)
        check = compare(float_probs, classifier.predict(scale(faces.images)), faces.labels)
        report = op_report(candidate)
    check.update(
        split=faces.source,
        float_weight_bytes=4 * int(model.count_params()),
        converted_bytes=len(content),
        max_drop_points=options.max_drop,
    )
    if check["drop_points"] > options.max_drop:
        raise EdgeEmotionError(
            f"{options.mode} model loses {check['drop_points']:.2f} points of accuracy "
            f"({check['float_accuracy']:.4f} -> {check['converted_accuracy']:.4f}), more than "
            f"--max-drop {options.max_drop}; nothing written"
        )
    metadata = replace(
        contract,
        input_size=classifier.input_size,
        input_quantization=_quantization(classifier.input),
        output_quantization=_quantization(classifier.output),
        source={**origin, "calibration_faces": 0 if representative is None else len(representative)},
        check=check,
    )
    # The model and its sidecar as a pair, the model renamed in last (see atomic_paths). The
    # temporary model's sidecar, .NAME.partial.json, is the temporary that becomes NAME.json.
    with atomic_paths(out, sidecar_path(out)) as (model_file, _):
        model_file.write_bytes(content)
        write_metadata(model_file, metadata)
    return metadata, report


def _calibration_and_check_faces(options: ConvertOptions) -> tuple[FaceSet | None, FaceSet]:
    """The training faces to calibrate int8 on (None otherwise) and the faces to check on.

    Both come before the slow conversion, so bad data fails fast; one CSV is parsed once.
    """
    check_data = options.check_data or options.data
    if options.mode != "int8":
        return None, load_faces(check_data, options.check_split)
    if check_data == options.data:
        loaded = load_splits(check_data, [CALIBRATION_SPLIT, options.check_split])
        return loaded[CALIBRATION_SPLIT], loaded[canonical_split(options.check_split)]
    return load_faces(options.data, CALIBRATION_SPLIT), load_faces(check_data, options.check_split)


def _quantization(detail: dict[str, Any]) -> dict[str, float]:
    scale, zero_point = detail["quantization"]
    return {"scale": float(scale), "zero_point": int(zero_point)} if scale else {}
