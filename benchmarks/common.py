"""What the benchmark scripts share: the data set's location, a timer, and saving figures."""

import json
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
SHARED_FER = Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013"
CLIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "clips"  # real footage, not committed


def fer_csv(path: Path = Path("/tmp/fer2013.csv")) -> Path:
    """The FER2013 CSV, rebuilt from ../shared/data/fer2013 when it is not there yet."""
    if not path.is_file():
        subprocess.run([sys.executable, str(SHARED_FER / "unpack.py"), str(path)], check=True)
    return path


def per_second(step: Callable[[int], object], count: int, min_seconds: float = 3.0) -> float:
    """Calls of ``step(i)`` per second, over at least ``min_seconds`` after a warm-up call."""
    step(0)
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < min_seconds:
        step(done % count)
        done += 1
    return done / (time.perf_counter() - started)


def batch1_faces_per_second(predict: Callable[[np.ndarray], np.ndarray], inputs: np.ndarray) -> float:
    """Faces per second, one face per interpreter call, as a single-user loop classifies."""
    return per_second(lambda i: predict(inputs[i : i + 1]), len(inputs))


def cpu() -> str:
    """The CPU's model name and whether it has AVX-512 VNNI, which int8 inference leans on."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "")
    return f"{name or platform.processor() or 'unknown'}{', AVX-512 VNNI' if 'avx512_vnni' in info else ''}"


def save(name: str, figures: dict) -> Path:
    """Print the figures and save them, with when and where they were measured."""
    record = {
        "measured": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}",
        "cpu": cpu(),
        **figures,
    }
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / f"{name}.json"
    target.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    print(f"saved {target}")
    return target
