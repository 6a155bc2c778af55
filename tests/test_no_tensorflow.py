"""The device side must install and run without TensorFlow: prove it with TensorFlow blocked."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.device  # no TensorFlow: run in the device install too

BLOCKED_RUN = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("tensorflow", "keras", "tf_keras", "matplotlib"):
            raise ModuleNotFoundError("blocked for this test: " + name, name=name)  # as an absent package
sys.meta_path.insert(0, Block())
import edge_emotion.device, edge_emotion.device.io.loop, edge_emotion.device.engine.recognizer
from edge_emotion.cli import app
sys.argv = ["edge-emotion", *sys.argv[1:]]
try:
    app()
except SystemExit as done:
    status = done.code or 0
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
print("LOADED", heavy, file=sys.stderr)
sys.exit(status)
"""


def run_blocked(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKED_RUN, *args], capture_output=True, text=True, timeout=120)


def test_help_loads_no_tensorflow() -> None:
    result = run_blocked("--help")
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stderr
    assert "run" in result.stdout and "convert" in result.stdout


def test_run_works_with_tensorflow_blocked(tiny_model: Path, astronaut: Path) -> None:
    result = run_blocked("run", "--image", str(astronaut), "--model", str(tiny_model))
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stderr
    assert len(json.loads(result.stdout.splitlines()[-1])["faces"]) == 1


def test_train_without_tensorflow_says_how_to_install(fer_csv: Path, tmp_path: Path) -> None:
    result = run_blocked("train", "--data", str(fer_csv), "--out", str(tmp_path / "r"))
    assert result.returncode == 1
    assert "pip install 'edge-emotion[train]'" in result.stderr
    assert "Traceback" not in result.stderr
