"""Faults on the training side: bad inputs, full and read-only disks, kills.

Every bad input ends in exit code 1 through the CLI's error path with exactly one error line
that names the problem, and nothing at the path that was to be written. One tiny run
trains in a subprocess (to be killed); everything else runs in-process to stay fast.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np
import pytest
from fakes import one_error
from typer.testing import CliRunner

import edge_emotion
from edge_emotion import atomic
from edge_emotion.atomic import atomic_paths
from edge_emotion.cli import app
from edge_emotion.training import fit
from edge_emotion.training.config import TrainConfig
from edge_emotion.training.run_folder import STATE_ENTRY, RunFolder

pytestmark = pytest.mark.faults
runner = CliRunner()
TESTS = Path(__file__).parent
SHIPPED = Path(edge_emotion.__file__).parent / "models" / "emotion_int8.tflite"
PIXELS = " ".join(["7"] * 2304)
STEPS = 4  # fer_csv's 210 training faces in batches of 64


def partials(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if ".partial" in path.name]


class Place:
    """A test's folder, with the bad things a row puts in it."""

    def __init__(self, root: Path, request: pytest.FixtureRequest) -> None:
        self.root, self.request = root, request
        self.mounts: list[Path] = []

    @property
    def csv(self) -> Path:
        return self.request.getfixturevalue("fer_csv")

    def file(self, name: str, content: bytes | str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    def run(self) -> Path:
        """A copy of the tiny trained run, to damage."""
        return Path(shutil.copytree(self.request.getfixturevalue("trained_run"), self.root / "run"))

    def tflite(self) -> Path:
        return self.file("model.tflite", SHIPPED.read_bytes())

    def faces(self, name: str, image: np.ndarray) -> Path:
        """An image folder with one test face in happy/."""
        folder = self.root / "faces" / "test" / "happy"
        folder.mkdir(parents=True)
        assert cv2.imwrite(str(folder / name), image)
        return self.root / "faces"

    def disk(self, *, free: int | None = None, read_only: bool = False) -> Path:
        """A real 300 KiB tmpfs: ``free`` bytes left on it, or mounted read-only."""
        mount = self.root / "disk"
        mount.mkdir()
        options = "ro,size=300k" if read_only else "size=300k"
        command = ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)]
        if os.geteuid() != 0 or subprocess.run(command, capture_output=True).returncode != 0:
            pytest.skip("a full or read-only disk needs a tmpfs, and mounting one needs root")
        self.mounts.append(mount)
        if free is not None:
            filler = mount / "filler"
            with filler.open("wb") as handle:
                try:
                    handle.write(bytes(400 * 1024))
                    handle.flush()
                except OSError:  # full: exactly what this is for
                    pass
            os.truncate(filler, max(filler.stat().st_size - free, 0))
        return mount


@pytest.fixture
def place(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Place]:
    here = Place(tmp_path, request)
    yield here
    for mount in here.mounts:
        subprocess.run(["umount", "-l", str(mount)], check=False)


class Row(NamedTuple):
    """A bad input: ``make`` builds it and returns (command line, the path that must not appear)."""

    make: Callable[[Place], tuple[list[str], Path | None]]
    error: str


def evaluate_on(data: Path, place: Place, *extra: str) -> tuple[list[str], Path]:
    report = place.root / "report"
    return ["evaluate", str(place.tflite()), "--data", str(data), "--out", str(report), *extra], report / "metrics.json"


def damaged_run(name: str, content: str | bytes, command: str) -> Callable[[Place], tuple[list[str], Path | None]]:
    """The tiny run with ``name`` replaced by ``content``, then evaluated, converted or resumed."""

    def make(place: Place) -> tuple[list[str], Path | None]:
        run = place.run()
        (run / name).write_bytes(content.encode() if isinstance(content, str) else content)
        if command == "evaluate":
            return ["evaluate", str(run), "--data", str(place.csv)], run / "eval-PublicTest"
        if command == "convert":
            out = place.root / "m.tflite"
            return ["convert", str(run), "--data", str(place.csv), "--out", str(out)], out
        return ["train", "--out", str(run), "--resume"], None

    return make


def stateless_checkpoint(place: Place) -> tuple[list[str], Path | None]:
    """A run whose last.keras lacks the run's state (a checkpoint Keras alone wrote)."""
    run = place.run()
    with zipfile.ZipFile(run / "last.keras") as old, zipfile.ZipFile(run / "plain.keras", "w") as new:
        for name in old.namelist():
            if name != STATE_ENTRY:
                new.writestr(name, old.read(name))
    (run / "plain.keras").replace(run / "last.keras")
    return ["train", "--out", str(run), "--resume"], None


def member(place: Place) -> tuple[list[str], Path | None]:
    folder = place.root / "member"
    place.file("member/member.json", json.dumps({"arch": "tiny-test"}))
    place.file("member/config.json", json.dumps(asdict(TrainConfig(data=str(place.csv)))))
    place.file("member/weights.npz", b"PK\x03\x04 cut short")
    return ["evaluate", str(folder), "--data", str(place.csv)], folder / "eval-PublicTest"


def not_a_model(place: Place) -> tuple[list[str], Path | None]:
    model = place.file("model.tflite", b"TFL3 but not really")
    return ["evaluate", str(model), "--data", str(place.csv)], model.with_name("model-eval-PublicTest")


def not_a_teacher(place: Place) -> tuple[list[str], Path | None]:
    args, final = train_into(lambda p: p.root / "run")(place)
    return [*args, "--teacher", str(place.file("teacher.tflite", b"junk"))], final.parent


def convert_into(out: Callable[[Place], Path]) -> Callable[[Place], tuple[list[str], Path | None]]:
    def make(place: Place) -> tuple[list[str], Path | None]:
        target = out(place)
        run = place.request.getfixturevalue("trained_run")
        return ["convert", str(run), "--mode", "float16", "--data", str(place.csv), "--out", str(target)], target

    return make


def train_into(out: Callable[[Place], Path]) -> Callable[[Place], tuple[list[str], Path | None]]:
    def make(place: Place) -> tuple[list[str], Path | None]:
        target, arch = out(place), place.request.getfixturevalue("tiny_arch")
        args = ["train", "--data", str(place.csv), "--arch", arch, "--epochs", "1", "--no-augment"]
        return [*args, "--out", str(target)], target / "last.keras"

    return make


ROWS = {
    # CSVs
    "csv of random bytes": Row(
        lambda p: evaluate_on(p.file("bad.csv", b"\xff\xfe" + np.random.default_rng(0).bytes(3000)), p),
        r"bad\.csv: not a text CSV",
    ),
    "csv of NUL bytes": Row(
        lambda p: evaluate_on(p.file("bad.csv", bytes(200_000)), p),
        r"bad\.csv:\d+: not a valid CSV \(field larger than field limit",
    ),
    "pixel 99999999999": Row(
        lambda p: evaluate_on(p.file("bad.csv", f"emotion,pixels,Usage\n1,99999999999{PIXELS[1:]},PublicTest\n"), p),
        r"bad\.csv:2: pixels must be integers 0\.\.255",
    ),
    "row without a Usage field": Row(
        lambda p: evaluate_on(p.file("bad.csv", f"emotion,pixels,Usage\n1,{PIXELS},PublicTest\n2,{PIXELS}\n"), p),
        r"bad\.csv:3: no Usage field",
    ),
    "no row of a known Usage": Row(
        lambda p: evaluate_on(p.file("bad.csv", f"emotion,pixels,Usage\n1,{PIXELS},Validation\n"), p),
        r"split PublicTest is empty \(no rows with a known Usage\)",
    ),
    "empty csv": Row(lambda p: evaluate_on(p.file("bad.csv", b""), p), r"bad\.csv: not a FER2013 CSV"),
    # image folders
    "a text file among the faces": Row(
        lambda p: evaluate_on(p.file("faces/test/happy/notes.png", "not a face").parents[2], p, "--split", "test"),
        r"notes\.png: not an image",
    ),
    "float pixels": Row(
        lambda p: evaluate_on(p.faces("f.tiff", np.full((48, 48), 0.5, np.float32)), p, "--split", "test"),
        r"f\.tiff: float32 pixels; save faces as 8- or 16-bit images",
    ),
    "no folder for the split": Row(
        lambda p: evaluate_on(p.faces("a.png", np.zeros((48, 48), np.uint8)), p, "--split", "train"),
        r"no folder for split Training",
    ),
    # run folders
    "best.keras damaged": Row(damaged_run("best.keras", b"\x00" * 100, "evaluate"), r"best\.keras: cannot read it"),
    "config.json not JSON": Row(
        damaged_run("config.json", "{arch: tiny", "evaluate"), r"config\.json: cannot read it \(JSONDecodeError"
    ),
    "config.json of the wrong types": Row(
        damaged_run("config.json", json.dumps({"data": "x.csv", "arch": "tiny-test", "epochs": "5"}), "convert"),
        r'config\.json: epochs is "5", expected an integer',
    ),
    "last.keras damaged": Row(
        damaged_run("last.keras", b"PK\x03\x04", "resume"), r"last\.keras: cannot read it .*--init-from"
    ),
    "last.keras without the run's state": Row(
        stateless_checkpoint, r"last\.keras: cannot read it \(KeyError: .*edge_emotion_state\.json.*--init-from"
    ),
    "a flag that differs on resume": Row(
        lambda p: (["train", "--out", str(p.run()), "--resume", "--batch-size", "8"], None),
        r"leave out --batch-size 8 \(the run has --batch-size 16\)",
    ),
    "a member's weights cut short": Row(member, r"weights\.npz: cannot read it"),
    # models and their sidecars
    "a sidecar that is not JSON": Row(
        lambda p: (p.file("model.json", "{quantization"), evaluate_on(p.csv, p))[1], r"unreadable model metadata"
    ),
    "a .tflite that is not a model": Row(not_a_model, r"model\.tflite: not a TFLite model"),
    "a teacher that is not a model": Row(not_a_teacher, r"teacher\.tflite: not a TFLite model"),
    "a .keras that is not a model": Row(
        lambda p: (
            ["convert", str(p.file("m.keras", b"junk")), "--data", str(p.csv), "--out", str(p.root / "m.tflite")],
            p.root / "m.tflite",
        ),
        r"m\.keras: cannot read it \(not a zip archive.*not a Keras model",
    ),
    # where the output goes
    "train --out is a file": Row(train_into(lambda p: p.file("taken", "")), r"taken is a file, not a folder"),
    "evaluate --out is a file": Row(
        lambda p: (["evaluate", str(p.tflite()), "--data", str(p.csv), "--out", str(p.file("taken", ""))], None),
        r"taken is a file, not a folder",
    ),
    "convert --out is a folder": Row(
        lambda p: (convert_into(lambda p: p.file("out.tflite/keep", "").parent)(p)[0], None),
        r"out\.tflite is a folder; --out names",
    ),
    "member --out is a file": Row(
        lambda p: (["member", str(p.request.getfixturevalue("trained_run")), "--out", str(p.file("taken", ""))], None),
        r"taken is a file, not a folder",
    ),
    "convert on a full disk": Row(
        convert_into(lambda p: p.disk(free=0) / "m.tflite"), r"KiB free, about \d+ KiB needed; free some space"
    ),
    "convert on a read-only disk": Row(convert_into(lambda p: p.disk(read_only=True) / "m.tflite"), r"is read-only"),
    "evaluate on a full disk": Row(
        lambda p: evaluate_on(p.csv, p, "--out", str(p.disk(free=0) / "report")),
        r"cannot write .*metrics\.json: No space left on device; free some space",
    ),
    "train on a read-only disk": Row(train_into(lambda p: p.disk(read_only=True) / "run"), r"is read-only"),
    "train on a full disk": Row(
        train_into(lambda p: p.disk(free=12 * 1024) / "run"),
        r"cannot write .*last\.keras: No space left on device",
    ),
}


@pytest.mark.parametrize("name", ROWS)
def test_a_bad_input_is_one_error_line(name: str, place: Place) -> None:
    row = ROWS[name]
    args, final = row.make(place)
    result = runner.invoke(app, args)
    one_error(result, row.error)
    assert final is None or not final.exists()
    assert partials(place.root) == []


def assert_consistent(out: Path, epochs: int) -> None:
    """The run trained exactly ``epochs`` epochs, none twice, and every file in it says so."""
    from edge_emotion.training.tf_import import import_keras

    run = RunFolder(out)
    state = run.read_state()
    assert state["epoch"] == epochs
    assert int(import_keras().models.load_model(run.last).optimizer.iterations) == epochs * STEPS
    history = run.history.read_text().splitlines()[1:]
    assert [line.split(",")[0] for line in history] == [str(epoch) for epoch in range(1, epochs + 1)]
    with zipfile.ZipFile(run.best) as best:
        assert json.loads(best.read(STATE_ENTRY))["epoch"] == state["best_epoch"]
    assert json.loads(run.summary.read_text())["epochs"] == epochs
    assert partials(out) == []


def test_a_run_killed_in_its_first_epoch_resumes(tmp_path: Path, fer_csv: Path, tiny_arch: str) -> None:
    out = tmp_path / "run"
    script = (
        f"import sys; sys.path.insert(0, {str(TESTS)!r}); import fakes; fakes.register_tiny_arch(); "
        "from edge_emotion.cli import app; sys.argv[0] = 'edge-emotion'; app()"
    )
    args = ["train", "--data", str(fer_csv), "--arch", tiny_arch, "--epochs", "2", "--no-augment", "--out", str(out)]
    process = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    try:
        while not (out / "config.json").exists():  # written as the first epoch starts
            assert process.poll() is None, "the training subprocess ended before it started its first epoch"
            assert time.monotonic() < deadline, "the training subprocess took over two minutes to start"
            time.sleep(0.02)
    finally:
        process.kill()
        process.wait()
    (out / ".last.partial.keras").write_bytes(b"what a kill during a save leaves")
    result = runner.invoke(app, ["train", "--out", str(out), "--resume"])
    assert result.exit_code == 0, result.output
    assert_consistent(out, 2)


def test_a_run_that_never_saved_an_epoch_can_start_over_or_resume(
    tmp_path: Path, fer_csv: Path, tiny_arch: str
) -> None:
    """What a kill in the first epoch leaves: config.json and nothing else."""
    out = tmp_path / "run"
    out.mkdir()
    saved = TrainConfig(data=str(fer_csv), arch=tiny_arch, epochs=1, augment=False)
    (out / "config.json").write_text(json.dumps(asdict(saved)))
    result = runner.invoke(app, ["train", "--out", str(out), "--resume"])
    assert result.exit_code == 0, result.output
    assert_consistent(out, 1)
    again = tmp_path / "again"
    again.mkdir()
    (again / "config.json").write_text(json.dumps(asdict(saved)))
    args = ["train", "--data", str(fer_csv), "--arch", tiny_arch, "--epochs", "2", "--no-augment", "--out", str(again)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert_consistent(again, 2)


def test_a_kill_after_the_checkpoint_loses_nothing(
    tmp_path: Path, fer_csv: Path, tiny_arch: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after epoch 2's checkpoint, before its history: resume neither repeats nor loses an epoch."""
    out = tmp_path / "run"
    write_text = fit.write_text

    def killed_at_epoch_2(target: Path, text: str) -> None:
        if target.name == "history.csv" and text.count("\n") == 3:  # the header and two epochs
            raise KeyboardInterrupt
        write_text(target, text)

    monkeypatch.setattr(fit, "write_text", killed_at_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        fit.train(config=TrainConfig(data=str(fer_csv), arch=tiny_arch, epochs=2, augment=False), out=out)
    monkeypatch.undo()
    assert RunFolder(out).read_state()["epoch"] == 2  # epoch 2 was saved
    assert len((out / "history.csv").read_text().splitlines()) == 2  # but the history is one behind
    for epochs in ("2", "3"):  # nothing left to train: only the files are made whole; then one more epoch
        result = runner.invoke(app, ["train", "--out", str(out), "--resume", "--epochs", epochs])
        assert result.exit_code == 0, result.output
        assert_consistent(out, int(epochs))


def test_a_model_never_sits_beside_another_versions_sidecar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, sidecar = tmp_path / "m.tflite", tmp_path / "m.json"
    seen: list[tuple[str | None, str | None]] = []

    def look() -> None:
        seen.append((model.read_text() if model.exists() else None, sidecar.read_text() if sidecar.exists() else None))

    replace = os.replace
    monkeypatch.setattr(atomic.os, "replace", lambda *paths: (look(), replace(*paths))[1])
    for version in ("1", "2"):
        with atomic_paths(model, sidecar) as (model_file, sidecar_file):
            model_file.write_text(version)
            sidecar_file.write_text(version)
        look()
    assert seen[-1] == ("2", "2")
    assert all(found_model is None or found_model == found_sidecar for found_model, found_sidecar in seen), seen

    def killed_between(*paths: str) -> None:
        if Path(paths[1]) == model:
            raise KeyboardInterrupt
        replace(*paths)

    monkeypatch.setattr(atomic.os, "replace", killed_between)
    with pytest.raises(KeyboardInterrupt), atomic_paths(model, sidecar) as (model_file, sidecar_file):
        model_file.write_text("3")
        sidecar_file.write_text("3")
    assert not model.exists() and sidecar.read_text() == "3"  # a sidecar alone, never a mismatched pair


def test_a_convert_clears_what_a_killed_convert_left(place: Place, trained_run: Path) -> None:
    stale = [place.file(".m.partial.tflite", b"half a model"), place.file(".m.partial.json", "{")]
    out = place.root / "m.tflite"
    args = [
        "convert",
        str(trained_run),
        "--mode",
        "float16",
        "--data",
        str(place.root / "absent.csv"),
        "--out",
        str(out),
    ]
    one_error(runner.invoke(app, args), r"absent\.csv")
    assert not out.exists() and not any(path.exists() for path in stale)
