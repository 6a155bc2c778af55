"""The tree shows the device boundary, and this checks it.

The package root and ``device/`` are what a device imports: every module there imports, with
TensorFlow, Keras and matplotlib absent, without loading anything from ``training/`` or ``convert/``
(the workstation's packages). Marked ``device``: the device install runs them against its wheel.
"""

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import edge_emotion

DEVICE_SAFE = ("edge_emotion.device",)  # with the package root's own modules
WORKSTATION = ("edge_emotion.training", "edge_emotion.convert")
BLOCKED = ("tensorflow", "keras", "tf_keras", "matplotlib")
# Imports a training module only when a training command runs; checked here by importing it.
ENTRY_POINT = "edge_emotion.cli"

IMPORT_EVERY_DEVICE_MODULE = f"""
import importlib, json, pkgutil, sys
for name in {BLOCKED!r}:
    sys.modules[name] = None  # as on a device: importing one fails
import edge_emotion
names = ["edge_emotion"]
names += [f"edge_emotion.{{m.name}}" for m in pkgutil.iter_modules(edge_emotion.__path__) if not m.ispkg]
for package in {DEVICE_SAFE!r}:
    found = pkgutil.walk_packages(importlib.import_module(package).__path__, package + ".")
    names += [package, *(m.name for m in found)]
pulled = {{}}  # each module, and the workstation modules that importing it loaded
for name in names:
    before = set(sys.modules)
    importlib.import_module(name)
    pulled[name] = sorted(m for m in set(sys.modules) - before if m.startswith({WORKSTATION!r}))
print(json.dumps({{"file": edge_emotion.__file__, "pulled": pulled}}))
"""


def device_modules() -> set[str]:
    """The device side's modules as the tree lists them: the root's own modules and the device packages'."""
    root = Path(edge_emotion.__file__).parent
    names = {"edge_emotion", *(f"edge_emotion.{path.stem}" for path in root.glob("*.py") if path.stem != "__init__")}
    for package in DEVICE_SAFE:
        folder = root.joinpath(*package.split(".")[1:])
        for path in folder.rglob("*.py"):
            parts = path.relative_to(root.parent).with_suffix("").parts
            names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


@pytest.mark.device
def test_every_package_is_on_one_side() -> None:
    packages = {f"edge_emotion.{m.name}" for m in pkgutil.iter_modules(edge_emotion.__path__) if m.ispkg}
    assert packages == {*DEVICE_SAFE, *WORKSTATION}, "say which side a new package is on: DEVICE_SAFE or WORKSTATION"


@pytest.mark.device
def test_the_device_modules_import_no_workstation_module() -> None:
    root = Path(edge_emotion.__file__).parents[1]
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_DEVICE_MODULE], capture_output=True, text=True, timeout=120, cwd=root
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.splitlines()[-1])
    assert found["file"] == edge_emotion.__file__
    pulled = found["pulled"]
    assert set(pulled) == device_modules(), "the walk and the tree disagree"
    assert {"edge_emotion.resolve", "edge_emotion.device.engine.recognizer", "edge_emotion.device.io.live"} <= set(
        pulled
    )
    assert ENTRY_POINT in pulled
    assert {name: loaded for name, loaded in pulled.items() if loaded} == {}


def test_the_command_line_shows_the_trainers_peer_timeout() -> None:
    from edge_emotion.cli import PEER_TIMEOUT
    from edge_emotion.training import distribute

    assert PEER_TIMEOUT == distribute.PEER_TIMEOUT
