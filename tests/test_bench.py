"""edge-emotion bench: per-stage times and frame rates, as a table and as JSON, from synthetic frames or a video."""

import json
from pathlib import Path

import numpy as np
import pytest
from fakes import write_video
from typer.testing import CliRunner

from edge_emotion.cli import app

pytestmark = pytest.mark.device  # no TensorFlow: run in the device install too

runner = CliRunner()
QUICK = ["bench", "--seconds", "0.1", "--threads", "2"]


def test_bench_json_has_every_stage_the_frame_rates_and_the_machine() -> None:
    result = runner.invoke(app, [*QUICK, "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    stages = {(row["stage"], row["threads"]) for row in figures["stages"]}
    assert {("capture", None), ("detect full (320 px)", None), ("align", None)} <= stages
    assert any(stage.startswith("detect in a region") for stage, _ in stages)
    assert {("classify fast", 1), ("classify fast", 2), ("classify accurate", 2)} <= stages
    assert all(row["median_ms"] <= row["p95_ms"] and row["runs"] >= 3 for row in figures["stages"])
    assert set(figures["fps"]) == {"1 face", "4 faces"} and figures["fps"]["1 face"] > figures["fps"]["4 faces"] > 0
    assert {"machine", "cpus", "python", "opencv"} <= set(figures["machine"])
    assert figures["source"] == "synthetic 640x480"


def test_bench_table_and_a_video_source(tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.avi", 4, np.full((120, 160, 3), 90, np.uint8))
    result = runner.invoke(app, [*QUICK, "--video", str(video)], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "classify accurate" in text and "p95 ms" in text and "clip.avi" in text
    assert "1 face:" in text and "machine:" in text


def test_bench_refuses_two_sources_in_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, [*QUICK, "--video", str(tmp_path / "a.avi"), "--camera", "0"])
    assert result.exit_code == 1 and result.output.startswith("error: give one of --video and --camera")
