"""What a new user meets first: the import, --version, -v anywhere, help that says what to type, quiet output."""

import logging
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from edge_emotion import __version__
from edge_emotion.cli import app

runner = CliRunner()
CLI = (
    f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); from fakes import register_tiny_arch; "
    "register_tiny_arch(); from edge_emotion.cli import app; sys.argv[0] = 'edge-emotion'; app()"
)


def cli(*args: str) -> subprocess.CompletedProcess:
    """The command in a process of its own: what C++ writes to its stdout and stderr is seen here."""
    return subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, timeout=300)


def help_text(*args: str) -> str:
    """``--help`` of a command as one line of words, without the boxes and the wrapping."""
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output
    return " ".join(result.output.replace("│", " ").split())


@pytest.fixture
def root_level() -> object:
    """The CLI sets the root logger's level; put it back for the tests after this one."""
    level = logging.getLogger().level
    yield
    logging.getLogger().setLevel(level)


@pytest.fixture
def grey_image(tmp_path: Path) -> Path:
    path = tmp_path / "grey.png"
    cv2.imwrite(str(path), np.full((120, 160, 3), 128, np.uint8))
    return path


def test_the_package_imports_light_and_gives_the_recognizer_when_asked() -> None:
    code = (
        "import sys, edge_emotion\n"
        "heavy = lambda: sorted(m for m in ('cv2', 'tensorflow', 'keras') if m in sys.modules)\n"
        "assert heavy() == [], heavy()\n"
        "from edge_emotion import EmotionRecognizer, Face\n"
        "from edge_emotion.device.engine import recognizer\n"
        "assert EmotionRecognizer is recognizer.EmotionRecognizer and Face is recognizer.Face\n"
        "assert heavy() == ['cv2'], heavy()\n"
        "try:\n    edge_emotion.Nothing\nexcept AttributeError as error:\n    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "has no attribute 'Nothing'" in result.stdout


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"edge-emotion {__version__}"


@pytest.mark.parametrize(
    ("where", "level"), [((), logging.WARNING), (("-v",), logging.INFO), (("--verbose",), logging.INFO)]
)
@pytest.mark.parametrize("before_the_command", [True, False])
def test_verbose_before_or_after_the_command(
    where: tuple[str, ...],
    level: int,
    before_the_command: bool,
    grey_image: Path,
    caplog: pytest.LogCaptureFixture,
    root_level: object,
) -> None:
    run = ["run", "--image", str(grey_image)]
    result = runner.invoke(app, [*where, *run] if before_the_command else [*run, *where])
    assert result.exit_code == 0, result.output
    assert logging.getLogger().level == level
    assert any("TFLite runtime" in r.getMessage() for r in caplog.records) == (level == logging.INFO)


def test_help_says_what_to_type() -> None:
    run = help_text("run")
    assert "Needs a source: one of --camera, --video, --image or --dir" in run
    assert "Source (one is required)" in run
    assert "edge-emotion convert RUN --int8" in run
    convert = help_text("convert")
    assert "The default export is float32" in convert and "devices run int8: add --int8" in convert
    assert re.search(r"convert \[OPTIONS\] \{?SOURCE\}?\.\.\.", convert)  # {}: required, in newer Typer
    assert "MODEL" in help_text("evaluate") and "RUN" in help_text("member")
    for command in ("run", "convert", "train", "evaluate", "member"):
        text = help_text(command)
        assert "<bool>" not in text, command  # a flag takes no value
        assert "--verbose -v" in text, command
    assert "<bool>" not in help_text()


@pytest.mark.parametrize("name", ["runs/seed", "model.keras"])
def test_run_with_a_keras_model_says_to_convert_it(name: str, tmp_path: Path, grey_image: Path) -> None:
    model = tmp_path / name
    if model.suffix:
        model.write_bytes(b"PK")
    else:
        model.mkdir(parents=True)
    result = runner.invoke(app, ["run", "--image", str(grey_image), "--model", str(model)])
    assert result.exit_code == 1
    assert f"convert it first: edge-emotion convert {model} --int8" in result.output


def test_convert_modes(tmp_path: Path) -> None:
    missing = str(tmp_path / "absent.csv")  # unread: a wrong flag fails first
    both = runner.invoke(app, ["convert", str(tmp_path), "--int8", "--mode", "float16", "--data", missing])
    assert both.exit_code == 1 and "give one of --int8 and --mode float16" in both.output
    unknown = runner.invoke(app, ["convert", str(tmp_path), "--mode", "int4", "--data", missing])
    assert unknown.exit_code == 1 and "unknown mode 'int4'; use one of int8, float16, float32" in unknown.output


def test_device_output_is_quiet_unless_verbose(grey_image: Path) -> None:
    quiet = cli("run", "--image", str(grey_image))
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr.startswith('{"summary"'), quiet.stderr  # no "INFO: Created TensorFlow Lite XNNPACK ..."
    verbose = cli("run", "-v", "--image", str(grey_image))
    assert "XNNPACK" in verbose.stderr


def test_conversion_is_quiet_unless_verbose(trained_run: Path, fer_csv: Path, tmp_path: Path) -> None:
    args = ["convert", str(trained_run), "--int8", "--data", str(fer_csv), "--max-drop", "100"]
    quiet = cli(*args, "--out", str(tmp_path / "quiet.tflite"))
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""  # neither TensorFlow's start-up, absl's, nor the converter's fully_quantize line
    verbose = cli(*args, "--out", str(tmp_path / "verbose.tflite"), "-v")
    assert verbose.returncode == 0, verbose.stderr
    # Native lines pass with -v: LiteRT's delegate line always (the int8 check runs the model); which
    # lines TensorFlow's converter prints itself depends on its version.
    assert "XNNPACK" in verbose.stderr and verbose.stderr != quiet.stderr


def test_opencv_is_silenced_around_opening_a_source_unless_verbose(root_level: object) -> None:
    from edge_emotion.device.io.live import opencv_quiet

    levels = cv2.utils.logging
    before = levels.getLogLevel()
    with opencv_quiet():  # no "[ WARN:0@0.03] global cap_v4l.cpp ... can't open camera by index"
        assert levels.getLogLevel() == levels.LOG_LEVEL_SILENT
    assert levels.getLogLevel() == before
    logging.getLogger().setLevel(logging.INFO)  # -v
    with opencv_quiet():
        assert levels.getLogLevel() == before
