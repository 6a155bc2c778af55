"""deploy/edge-emotion.service: systemd takes it (systemd-analyze verify, where it exists), and every flag it gives
`edge-emotion run` is one that run has, with the secrets in files rather than on the command line."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge_emotion.cli import app

UNIT = Path(__file__).resolve().parents[1] / "deploy" / "edge-emotion.service"


def exec_start(text: str) -> str:
    line = re.search(r"^ExecStart=((?:.*\\\n)*.*)$", text, re.MULTILINE).group(1)
    return re.sub(r"\\\n\s*", "", line)


def test_the_service_runs_edge_emotion_with_flags_run_has() -> None:
    text = UNIT.read_text()
    command = exec_start(text).split()
    assert command[0].endswith("/edge-emotion") and command[1] == "run"
    flags = [word for word in command if word.startswith("--")]
    help_text = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "300"}).output
    for flag in flags:
        assert re.search(rf"{re.escape(flag)}\b", help_text), f"run has no {flag}"
    assert "--token-file" in flags and "--mqtt-password-file" in flags and "--token" not in flags
    assert not re.search(r"mqtts?://[^/@\s]*:[^/@\s]*@", text), "a password in the MQTT URL"
    for setting in ("Restart=on-failure", "User=edge-emotion", "SupplementaryGroups=video", "KillSignal=SIGTERM"):
        assert re.search(rf"^{setting}$", text, re.MULTILINE), setting
    assert not re.search(r"^(PrivateDevices=yes|DevicePolicy=)", text, re.MULTILINE), "that hides the camera"


def test_systemd_analyze_verifies_the_service(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    # verify checks that the program exists: point it at this environment's edge-emotion (or Python)
    program = Path(sys.executable).with_name("edge-emotion")
    program = program if program.exists() else Path(sys.executable)
    unit = tmp_path / "edge-emotion.service"
    unit.write_text(UNIT.read_text().replace("/opt/edge-emotion/bin/edge-emotion", str(program)))
    result = subprocess.run([analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60)
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if "edge-emotion.service" in line]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr
