"""convert: a trained model -> a checked .tflite with its metadata, ready for the device."""

import json
import logging
import signal
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

from edge_emotion import __version__
from edge_emotion.atomic import atomic_paths, check_writable, remove_partials, write_errors
from edge_emotion.convert.check import compare
from edge_emotion.convert.edgetpu import compile_for_edgetpu, op_report
from edge_emotion.convert.ensemble import combine
from edge_emotion.convert.quantize import MODES, representative_faces, to_tflite
from edge_emotion.device.engine.classifier import Classifier, tensor_quantization
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.metadata import ModelMetadata, sidecar_path, write_metadata
from edge_emotion.preprocess import scale
from edge_emotion.training.data import FaceSet, canonical_split, load_faces, load_splits
from edge_emotion.training.evaluate import DEFAULT_DATA
from edge_emotion.training.members import MEMBER_FILE
from edge_emotion.training.models import predict_keras
from edge_emotion.training.resolve import LoadedModel, find_model, load_model
from edge_emotion.training.run_folder import RunFolder
from edge_emotion.training.tf_import import import_tf

log = logging.getLogger(__name__)
CALIBRATION_SPLIT = "Training"
WEIGHT_BYTES = {"int8": 1, "float16": 2, "float32": 4}  # per parameter, to check the disk has room before converting
METADATA_ROOM = 64 * 1024  # the graph and the sidecar, beyond the weights
SIDECAR_FIELDS = ("class_names", "input_size", "quantization")  # what every sidecar convert writes holds


class Conversion(NamedTuple):
    model: Path  # the .tflite written, its metadata beside it (model.json)
    metadata: ModelMetadata
    report: dict[str, Any]  # what the Edge TPU would make of it (edgetpu.op_report)
    edgetpu_model: Path | None = None  # edgetpu_compiler's build, with ``edgetpu``
    edgetpu_error: EdgeEmotionError | None = None  # why there is none: EdgetpuCompilerMissing when not installed


@contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """SIGTERM stops the block as Ctrl-C does (a KeyboardInterrupt), so its temporary files are removed on the
    way out instead of left behind by the kill; the previous handler is back after it. A SIGTERM the parent
    ignores stays ignored, and outside the main thread (where Python handles no signal) nothing changes."""
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is not threading.main_thread() or previous in (signal.SIG_IGN, None):
        yield
        return

    def interrupt(number: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@sigterm_as_ctrl_c()
def convert(
    *,
    sources: str | Path | Sequence[str | Path],
    out: Path | None = None,
    mode: str = "float32",
    data: Path | None = None,
    calibration_faces: int = 500,
    seed: int = 0,
    check_data: Path | None = None,
    check_split: str = "PublicTest",
    max_drop: float = 1.0,
    edgetpu: bool = False,
    force: bool = False,
) -> Conversion:
    """Convert a trained model to TFLite, check it against the float model on the same faces, and write it
    with its metadata sidecar; the .tflite is kept only if the check passes.

    ``sources`` is a run folder, a member folder or a .keras file; several become one ensemble
    model that averages them. ``mode`` is int8 (full-integer, calibrated on ``calibration_faces``
    training faces of ``data``: what devices run), float16 or float32. ``data`` defaults to the
    data the first source (a run or member) trained on, else fer2013.csv. ``out`` defaults to
    ``model_<mode>.tflite`` beside the first source. The check scores both models on
    ``check_split`` of ``check_data`` (default: ``data``) and fails when the converted one loses
    more than ``max_drop`` points of accuracy. ``edgetpu`` fixes the batch at 1 and runs
    edgetpu_compiler; a missing or failing compiler leaves the .tflite written and says why in
    ``edgetpu_error``. SIGTERM stops it as Ctrl-C does, leaving no temporary files.
    """
    sources = [sources] if isinstance(sources, str | Path) else list(sources)
    if mode not in MODES:
        raise EdgeEmotionError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    if edgetpu and mode != "int8":
        raise EdgeEmotionError("--edgetpu needs --int8: the Edge TPU runs only full-integer models")
    if not sources:
        raise EdgeEmotionError("give a model to convert: a run folder, a member folder or a .keras file")
    paths = [find_model(source, keras=True)[0] for source in sources]  # each a Keras model, before anything slow
    first = paths[0]
    out = out or (first if first.is_dir() else first.parent) / f"model_{mode}.tflite"
    if out.is_dir():
        raise EdgeEmotionError(f"{out} is a folder; --out names the .tflite file to write")
    if out.suffix != ".tflite":
        raise EdgeEmotionError(f"{out}: the output name must end in .tflite")
    check_writable(out.parent)  # a read-only or full disk fails before the slow conversion
    check_outputs(out, mode, force=force)
    remove_partials([out, sidecar_path(out)])
    loaded = [load_model(path, keras=True) for path in paths]  # the models first, then their data
    model, origin = _combined(loaded)
    if data is None:  # as evaluate does: the data a run or member trained on
        data = Path(loaded[0].config.data) if loaded[0].config else DEFAULT_DATA
    for csv_path in dict.fromkeys([check_data or data, *([data] if mode == "int8" else [])]):
        if not csv_path.exists():
            raise EdgeEmotionError(f"data not found: {csv_path}")
    check_writable(out.parent, room=WEIGHT_BYTES[mode] * int(model.count_params()) + METADATA_ROOM)
    contract = ModelMetadata(quantization=mode, low_pass_sigma=float(origin.get("low_pass", 0.0)))
    calibration, faces = _calibration_and_check_faces(mode, data, check_data or data, check_split)
    representative = None
    if calibration is not None:
        representative = representative_faces(calibration, calibration_faces, seed, contract.low_pass_sigma)
    log.info("converting %s to %s", ", ".join(map(str, paths)), mode)
    content = to_tflite(model, mode, representative, static_batch=edgetpu)
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
        max_drop_points=max_drop,
    )
    if check["drop_points"] > max_drop:
        raise EdgeEmotionError(
            f"{mode} model loses {check['drop_points']:.2f} points of accuracy "
            f"({check['float_accuracy']:.4f} -> {check['converted_accuracy']:.4f}), more than "
            f"--max-drop {max_drop}; nothing written"
        )
    metadata = replace(
        contract,
        input_size=classifier.input_size,
        input_quantization=tensor_quantization(classifier.input),
        output_quantization=tensor_quantization(classifier.output),
        source={**origin, "calibration_faces": 0 if representative is None else len(representative)},
        check=check,
        edge_emotion_version=__version__,
        tensorflow_version=import_tf().__version__,
        converted_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    # The model and its sidecar as a pair, the model renamed in last (see atomic_paths). The
    # temporary model's sidecar, .NAME.partial.json, is the temporary that becomes NAME.json.
    with atomic_paths(out, sidecar_path(out)) as (model_file, _):
        model_file.write_bytes(content)
        write_metadata(model_file, metadata)
    if not edgetpu:
        return Conversion(out, metadata, report)
    try:
        return Conversion(out, metadata, report, edgetpu_model=compile_for_edgetpu(out, out.parent))
    except EdgeEmotionError as error:  # missing (EdgetpuCompilerMissing) or failing: the .tflite stays
        return Conversion(out, metadata, report, edgetpu_error=error)


def check_outputs(out: Path, mode: str, *, force: bool) -> None:
    """Refuse, before any slow work, to replace what is not an earlier conversion: ``out`` itself without
    ``force``; its sidecar (``out`` with .json) without ``force`` when that exists and is not a model's
    metadata; and, even with ``force``, a run or member folder's own file (config.json, summary.json...)."""
    if out.exists() and not force:
        raise EdgeEmotionError(f"{out} exists; pass --force to overwrite it")
    sidecar, run = sidecar_path(out), RunFolder(out.parent)
    kind = "member" if (run.root / MEMBER_FILE).is_file() else "run" if run.config.is_file() else None
    own = {run.config.name, run.summary.name, MEMBER_FILE}  # the JSON files of runs and members
    if kind is not None and sidecar.name.casefold() in own:
        raise EdgeEmotionError(
            f"the metadata of {out} would replace {sidecar}, the {kind} folder's own file; "
            f"choose another --out, e.g. {run.root / f'model_{mode}.tflite'}"
        )
    if sidecar.is_dir():
        raise EdgeEmotionError(f"{sidecar} is a folder, where the metadata of {out} would go; choose another --out")
    if sidecar.exists() and not force and not is_model_metadata(sidecar):
        raise EdgeEmotionError(
            f"{sidecar} exists and is not a model's metadata; the metadata of {out} would replace it: "
            "choose another --out, or pass --force to overwrite it"
        )


def is_model_metadata(path: Path) -> bool:
    """Whether ``path`` is a sidecar convert wrote (a JSON object with a model's contract), not another file."""
    try:
        data = json.loads(path.read_bytes()) if path.stat().st_size < 1_000_000 else None
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and all(name in data for name in SIDECAR_FIELDS)


def _combined(loaded: Sequence[LoadedModel]) -> tuple[Any, dict[str, Any]]:
    """One source's float Keras model and its origin, or several as one ensemble graph that averages them."""
    if len(loaded) == 1:
        return loaded[0].model, loaded[0].origin
    return combine([m.model for m in loaded], [m.origin for m in loaded])


def _calibration_and_check_faces(
    mode: str, data: Path, check_data: Path, check_split: str
) -> tuple[FaceSet | None, FaceSet]:
    """The training faces to calibrate int8 on (None otherwise) and the faces to check on.

    Both come before the slow conversion, so bad data fails fast; one CSV is parsed once.
    """
    if mode != "int8":
        return None, load_faces(check_data, check_split)
    if check_data == data:
        loaded = load_splits(data, [CALIBRATION_SPLIT, check_split])
        return loaded[CALIBRATION_SPLIT], loaded[canonical_split(check_split)]
    return load_faces(data, CALIBRATION_SPLIT), load_faces(check_data, check_split)
