"""Training-side faults: members replaced unasked, resumes that change a run's flags and then fail, streams
that abort or leave a stale cache lock, shipped models named where a model is taken, and convert's checks,
default data and SIGTERM."""

import fcntl
import gc
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import cv2
import pytest
from fakes import one_error, synthetic_faces
from typer.testing import CliRunner

from edge_emotion.cli import app
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.labels import CLASS_NAMES
from edge_emotion.training import fit
from edge_emotion.training.config import TrainConfig
from edge_emotion.training.pipeline import cache_name
from edge_emotion.training.splits import load_split_pair

pytestmark = pytest.mark.faults
runner = CliRunner()
TESTS = Path(__file__).parent
# The CLI in a process of its own, with the test architecture registered.
CLI = (
    f"import sys; sys.path.insert(0, {str(TESTS)!r}); import fakes; fakes.register_tiny_arch(); "
    "from edge_emotion.cli import app; sys.argv[0] = 'edge-emotion'; app()"
)


def copy_tree(source: Path, target: Path) -> Path:
    return Path(shutil.copytree(source, target))


# Members


def test_a_member_of_another_run_is_replaced_only_with_force(trained_run: Path, tmp_path: Path) -> None:
    other = copy_tree(trained_run, tmp_path / "other")  # another run folder (the same weights will do)
    member = tmp_path / "member"
    assert runner.invoke(app, ["member", str(trained_run), "--out", str(member)]).exit_code == 0
    record = (member / "member.json").read_bytes()
    one_error(
        runner.invoke(app, ["member", str(other), "--out", str(member)]),
        rf"holds the member of another run \({re.escape(str(trained_run))}\); pass --force",
    )
    assert (member / "member.json").read_bytes() == record
    assert runner.invoke(app, ["member", str(trained_run), "--out", str(member)]).exit_code == 0  # refreshed
    assert len(json.loads((member / "member.json").read_text())["stretches"]) == 1
    result = runner.invoke(app, ["member", str(other), "--out", str(member), "--force"])
    assert result.exit_code == 0, result.output
    assert (member / "command.txt").read_text().splitlines() == [
        json.loads((member / "member.json").read_text())["stretches"][0]["command"]
    ]
    assert (member / "command.txt").read_text().strip().endswith(f"--out {other}")
    one_error(
        runner.invoke(app, ["member", str(trained_run), "--out", str(other), "--force"]),
        r"other holds a training run; a member goes in a folder of its own",
    )


# Resume


def test_a_failed_resume_leaves_config_json_as_it_was(trained_run: Path, tmp_path: Path) -> None:
    run = copy_tree(trained_run, tmp_path / "run")
    flags = (run / "config.json").read_bytes()
    one_error(runner.invoke(app, ["train", "--out", str(run), "--resume", "--stream"]), r"--stream reads an image")
    assert (run / "config.json").read_bytes() == flags
    checkpoint = (run / "last.keras").read_bytes()
    (run / "last.keras").write_bytes(b"PK\x03\x04 cut short")
    one_error(runner.invoke(app, ["train", "--out", str(run), "--resume", "--epochs", "13"]), r"last\.keras")
    assert (run / "config.json").read_bytes() == flags
    (run / "last.keras").write_bytes(checkpoint)
    result = runner.invoke(app, ["train", "--out", str(run), "--resume"])
    assert result.exit_code == 0, result.output
    assert (run / "config.json").read_bytes() == flags


# Streams


def with_broken_face(image_tree: Path, folder: Path, split: str) -> Path:
    """A copy of the image tree with a file in ``split``/happy/ that is no image."""
    copy_tree(image_tree, folder)
    (folder / split / "happy" / "broken.png").write_bytes(b"not a png")
    return folder / split / "happy" / "broken.png"


def live_iterators() -> int:
    from tensorflow.python.data.ops.iterator_ops import OwnedIterator

    gc.collect()
    return sum(isinstance(thing, OwnedIterator) for thing in gc.get_objects())


@pytest.mark.parametrize("where", ["train", "test", "train cached"])
def test_a_bad_streamed_face_stops_its_pipelines(where: str, image_tree: Path, tiny_arch: str, tmp_path: Path) -> None:
    """Left alive, a failed fit's tf.data threads call into Python as the interpreter exits: it aborts or hangs."""
    broken = with_broken_face(image_tree, tmp_path / "faces", where.split()[0])
    cache = str(tmp_path / "cache" / "faces") if "cached" in where else None
    config = TrainConfig(
        data=str(tmp_path / "faces"), arch=tiny_arch, val_split="test", epochs=2, batch_size=8, stream=True, cache=cache
    )
    before = live_iterators()
    with pytest.raises(EdgeEmotionError, match=re.escape(f"{broken}: not an image")) as caught:
        fit.train(config=config, out=tmp_path / "run")
    # Gone while the error and its traceback are still held, as the CLI holds them until the process exits.
    assert caught.value.__traceback__ is not None and live_iterators() <= before


def test_a_bad_streamed_face_is_one_error_line_and_exit_1(tmp_path: Path, tiny_arch: str) -> None:
    """The whole process: before its pipelines were stopped, about every other run of this aborted (exit 134)
    or hung after the error line; the test above is the one that fails every time."""
    for split, per_class in (("train", 150), ("test", 5)):
        images, labels = synthetic_faces(per_class, 0)
        for index, (image, label) in enumerate(zip(images, labels, strict=True)):
            folder = tmp_path / "faces" / split / CLASS_NAMES[label]
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / f"{index}.png"), image)
    (tmp_path / "faces" / "train" / "happy" / "broken.png").write_bytes(b"not a png")
    args = ["train", "--data", str(tmp_path / "faces"), "--arch", tiny_arch, "--val-split", "test", "--stream"]
    args += ["--epochs", "2", "--batch-size", "8", "--out", str(tmp_path / "run")]
    done = subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr[-2000:]
    assert done.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'faces' / 'train' / 'happy' / 'broken.png'}: not an image (remove it from the data folder)"
    ]


def test_a_killed_first_cache_pass_does_not_stop_the_resume(image_tree: Path, tiny_arch: str, tmp_path: Path) -> None:
    """What a kill in the first epoch of a cached stream leaves: config.json, and TensorFlow's cache lock."""
    cache = str(tmp_path / "cache" / "faces")
    config = TrainConfig(
        data=str(image_tree), arch=tiny_arch, val_split="test", epochs=1, batch_size=16, stream=True, cache=cache
    )
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(asdict(config)))
    train_faces = load_split_pair(config, streaming=True)[0]
    left = Path(cache_name(cache, train_faces, 0.0) + "_0")
    left.parent.mkdir()
    lock = left.with_name(left.name + ".lockfile")
    lock.write_text("Created at: 1796289214")
    half = left.with_name(left.name + ".data-00000-of-00001.tempstate10040433445986455556")
    half.write_bytes(b"")
    result = runner.invoke(app, ["train", "--out", str(run), "--resume"])
    assert result.exit_code == 0, result.output
    assert not lock.exists() and not half.exists()
    assert len(list(lock.parent.glob("faces-*.index"))) == 2


def test_a_cache_in_use_by_another_process_is_one_error_line(image_tree: Path, tiny_arch: str, tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "faces"
    cache.parent.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
            "print('held', flush=True); time.sleep(300)",
            f"{cache}.lock",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        args = ["train", "--data", str(image_tree), "--arch", tiny_arch, "--val-split", "test", "--stream"]
        result = runner.invoke(app, [*args, "--epochs", "1", "--cache", str(cache), "--out", str(tmp_path / "run")])
        one_error(result, r"another process is training with this --cache")
    finally:
        holder.kill()
        holder.wait()
    with open(f"{cache}.lock", "a") as handle:  # the lock is the holder's alone: this process holds none
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)


# Shipped models


@pytest.mark.parametrize("teacher", ["fast", "accurate"])
def test_a_shipped_model_teaches(teacher: str, fer_csv: Path, tiny_arch: str, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["train", "--data", str(fer_csv), "--arch", tiny_arch, "--epochs", "1", "--no-augment"]
    result = runner.invoke(app, [*args, "--teacher", teacher, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["teachers"] == [teacher]


@pytest.mark.parametrize("source", ["fast", "accurate", "a file"])
def test_init_from_a_tflite_model_says_so(source: str, fer_csv: Path, tiny_arch: str, tmp_path: Path) -> None:
    if source == "a file":
        source = str(tmp_path / "model.tflite")
        shutil.copy(TESTS.parent / "edge_emotion" / "models" / "emotion_int8.tflite", source)
    out = tmp_path / "run"
    args = ["train", "--data", str(fer_csv), "--arch", tiny_arch, "--epochs", "1", "--init-from", source]
    one_error(runner.invoke(app, [*args, "--out", str(out)]), r"is already a TFLite model; give the run folder")
    assert not (out / "config.json").exists()


@pytest.mark.parametrize("flag", ["--teacher", "--init-from"])
def test_a_keras_model_of_another_input_size_is_refused(
    flag: str, fer_csv: Path, tiny_arch: str, tmp_path: Path
) -> None:
    from edge_emotion.training.tf_import import import_keras

    keras = import_keras()
    other = keras.Sequential([keras.Input((64, 64, 1)), keras.layers.Flatten(), keras.layers.Dense(7, "softmax")])
    source = tmp_path / "wide.keras"
    other.save(source)
    out = tmp_path / "run"
    args = ["train", "--data", str(fer_csv), "--arch", tiny_arch, "--epochs", "1", flag, str(source)]
    one_error(runner.invoke(app, [*args, "--out", str(out)]), r"wide\.keras: takes inputs of .*64, 64, 1.*48x48x1")
    assert not out.exists()


# Convert


@pytest.mark.parametrize(("name", "message"), [("", "is not a training run"), ("m.keras", "not a Keras model")])
def test_convert_checks_the_model_before_the_data(name: str, message: str, tmp_path: Path) -> None:
    source = tmp_path / "source"  # a folder that is no run, or a .keras file that is no model
    source.mkdir()
    if name:
        source = source / name
        source.write_text("junk")
    args = ["convert", str(source), "--data", str(tmp_path / "absent.csv"), "--out", str(tmp_path / "m.tflite")]
    one_error(runner.invoke(app, args), message)


def test_convert_takes_the_runs_own_data(
    trained_run: Path, fer_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no fer2013.csv here
    before = signal.getsignal(signal.SIGTERM)
    out = tmp_path / "m.tflite"
    result = runner.invoke(app, ["convert", str(trained_run), "--mode", "float16", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.with_suffix(".json").read_text())["check"]["split"].startswith(str(fer_csv))
    assert signal.getsignal(signal.SIGTERM) is before


def test_sigterm_during_convert_leaves_no_temporary_folder(trained_run: Path, fer_csv: Path, tmp_path: Path) -> None:
    """SIGTERM arrives while the converted model is checked in its scratch folder."""
    script = CLI.replace(
        "from edge_emotion.cli import app;",
        "import os, signal; from edge_emotion.convert import export; report = export.op_report; "
        "export.op_report = lambda path: (os.kill(os.getpid(), signal.SIGTERM), report(path))[1]; "
        "from edge_emotion.cli import app;",
    )
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    out = tmp_path / "m.tflite"
    args = ["convert", str(trained_run), "--mode", "float16", "--data", str(fer_csv), "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TMPDIR": str(scratch)},
    )
    assert done.returncode == 130, (done.returncode, done.stderr[-2000:])
    assert list(scratch.glob("edge-emotion-convert-*")) == []
    assert not out.exists()
