"""Settings as objects: each default defined once and shown by --help from there, no long keyword lists,
and every run recording the settings it resolved."""

import ast
import json
import re
from pathlib import Path

import pytest
import typer
from typer.core import TyperOption
from typer.testing import CliRunner

import edge_emotion
from edge_emotion.cli import app
from edge_emotion.device.engine.settings import (
    DETECT_WIDTH,
    DETECTOR_SCORES,
    FULL_WIDTH,
    MIN_FACE,
    PHOTO_TILT,
    PHOTO_WIDTH,
    DetectorSettings,
    Outputs,
    Regions,
    RunSettings,
    Steadiness,
    parse_size,
)
from edge_emotion.errors import EdgeEmotionError

pytestmark = pytest.mark.device  # no TensorFlow: run in the device install too

runner = CliRunner()
MAX_PARAMETERS = 12
PACKAGE = Path(edge_emotion.__file__).parent

# Each run option's default, as the code defines it (options the settings do not hold are absent).
CODE_DEFAULTS = {
    "camera": RunSettings.camera, "camera_size": RunSettings.camera_size, "fps": RunSettings.fps,
    "video": RunSettings.video, "image": RunSettings.image, "folder": RunSettings.folder,
    "model": RunSettings.model, "loop": RunSettings.loop, "realtime": RunSettings.realtime,
    "threads": RunSettings.threads, "edgetpu": RunSettings.edgetpu, "detector": DetectorSettings.name,
    "detect_width": DetectorSettings.detect_width, "tilt": DetectorSettings.tilt,
    "min_face": DetectorSettings.min_face, "min_score": DetectorSettings.min_score,
    "landmarks": Outputs.landmarks, "largest": RunSettings.largest, "mirror": RunSettings.mirror,
    "smooth_seconds": Steadiness.smooth_seconds, "hysteresis": Steadiness.hysteresis,
    "min_frames": Steadiness.min_frames, "calibrate": RunSettings.calibrate_seconds,
    "track_regions": RunSettings.regions is not None, "full_search_every": Regions.every,
    "events": Outputs.events, "events_mode": Outputs.events_mode, "save": Outputs.save, "show": Outputs.show,
    "no_fps": not Outputs.show_fps, "max_frames": Outputs.max_frames, "serve": RunSettings.serve,
    "insecure": RunSettings.insecure, "mqtt": RunSettings.mqtt, "mqtt_wait": RunSettings.mqtt_wait,
    "webhook": RunSettings.webhook,
}  # fmt: skip


def run_options() -> dict[str, TyperOption]:
    command = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
    return {param.name: param for param in command.params if isinstance(param, TyperOption)}


def test_every_run_option_default_is_the_codes() -> None:
    options = run_options()
    assert {name: options[name].default for name in CODE_DEFAULTS} == CODE_DEFAULTS


def test_help_shows_the_codes_defaults() -> None:
    result = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "400", "NO_COLOR": "1"}, terminal_width=400)
    assert result.exit_code == 0, result.output
    text = re.sub(r"[\s│]+", " ", result.output)
    for name, option in run_options().items():
        shown = option.default not in (None, False) and option.show_default is not False
        if name in CODE_DEFAULTS and shown:
            default = CODE_DEFAULTS[name]
            shown_as = name.replace("_", "-") if default is True else default  # a flag pair shows its flag's name
            assert f"[default: {shown_as}]" in text, name
    yunet, haar = DETECTOR_SCORES["yunet"], DETECTOR_SCORES["haar"]
    for words in (
        f"default: {DETECT_WIDTH} for camera and video, up to {PHOTO_WIDTH} for --image",
        f"default: {PHOTO_TILT:g} for --image and --dir",
        f"(default {MIN_FACE})",
        f"default: yunet {yunet.stream:g}, {yunet.photos:g} for --image and --dir; haar {haar.stream:g}",
        f"default up to {FULL_WIDTH}",
    ):
        assert words in text, words


def parameters(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    arguments = function.args
    named = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
    return [a.arg for a in named if a is not None and a.arg not in ("self", "cls")]


def test_no_function_outside_the_cli_takes_more_than_twelve_parameters() -> None:
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "cli.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and len(parameters(node)) > MAX_PARAMETERS:
                long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({len(parameters(node))})")
    assert long == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: DetectorSettings("dlib"), "unknown detector 'dlib'"),
        (lambda: DetectorSettings(detect_width=31), "--detect-width 31 is too small"),
        (lambda: DetectorSettings(tilt=61), "--tilt 61 is out of range"),
        (lambda: DetectorSettings(min_score=1.5), "--min-score 1.5 is out of range"),
        (lambda: Steadiness(hysteresis=1.0), "hysteresis must be within 0..1"),
        (lambda: Outputs(events_mode="some"), "unknown --events-mode 'some'"),
        (lambda: RunSettings(calibrate_seconds=61), "--calibrate takes 0 to 60 seconds"),
        (lambda: RunSettings(camera="0", camera_size=(0, 0)), "--camera-size 0x0 is out of range"),
        (lambda: RunSettings(camera="0", fps=-1), "--fps -1 is out of range"),
        (lambda: RunSettings(camera="0", fps=float("nan")), "--fps nan is out of range"),
        (lambda: RunSettings(video=Path("a.mp4"), fps=10), "use them with --camera"),
        (lambda: parse_size("abc"), "--camera-size 'abc': give WIDTHxHEIGHT"),
        (lambda: Regions(window_every=0), "a window every 1 to"),
    ],
)
def test_settings_check_themselves_when_made(make: object, message: str) -> None:
    with pytest.raises(EdgeEmotionError, match=re.escape(message)):
        make()  # type: ignore[operator]


def test_a_run_records_its_resolved_settings_in_its_events_and_summary(
    tiny_model: Path, astronaut: Path, tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    args = ["run", "--image", str(astronaut), "--model", str(tiny_model), "--events", str(events), "--quiet"]
    result = runner.invoke(app, [*args, "--webhook", "http://hook.local/secret-path?key=1"])
    assert result.exit_code == 0, result.output
    header, frame = map(json.loads, events.read_text().splitlines())
    assert header["event"] == "settings" and frame["event"] == "frame"
    settings = header["settings"]
    assert settings["model"] == str(tiny_model) and settings["track"] is False
    assert settings["detector"] == {  # photos' defaults, filled in
        "name": "yunet", "min_face": MIN_FACE, "min_score": DETECTOR_SCORES["yunet"].photos, "detect_width": None,
        "tilt": PHOTO_TILT, "photos": True,
    }  # fmt: skip
    assert settings["webhook"] == "http://hook.local"  # its path and query may hold a secret
    assert settings["outputs"]["events"] == str(events) and settings["image"] == str(astronaut)
    summary = json.loads(result.stderr.splitlines()[-1])["summary"]
    assert summary["settings"] == settings
