"""How long a newcomer waits: `make install`, `make lint` and `make test` in a fresh clone, as CI runs them.

    python benchmarks/make_test_time.py [--keep]

Clones the repository's committed HEAD into a temporary folder and runs the three targets there one
after the other, timing each; a target that fails stops the run with its output's tail and exit 1,
and nothing is saved. The load average before and after says how busy the machine was: the times
are this machine's, not a promise.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import save

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("install", "lint", "test")


def terminal_signals() -> None:
    """Ctrl-C, SIGHUP and SIGTERM at their defaults, as in a newcomer's terminal, even when this script runs
    under nohup or as a background job (which ignore them, and the fault tests stop runs with them)."""
    for number in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    args = parser.parse_args()
    clone = Path(tempfile.mkdtemp(prefix="edge-emotion-clone-")) / "edge-emotion"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    seconds: dict[str, float] = {}
    load_before = os.getloadavg()[0]
    try:
        for target in TARGETS:
            started = time.perf_counter()
            ran = subprocess.run(
                ["make", target], cwd=clone, capture_output=True, text=True, preexec_fn=terminal_signals
            )
            seconds[target] = round(time.perf_counter() - started, 1)
            print(f"make {target}: {seconds[target]} s", flush=True)
            if ran.returncode != 0:
                lines = (ran.stdout + ran.stderr).splitlines()
                failures = [line for line in lines if line.startswith(("FAILED", "ERROR", "E   ")) or " failed" in line]
                sys.exit(f"make {target} failed ({ran.returncode}):\n" + "\n".join(failures[-40:] or lines[-40:]))
            if target == "test":
                last = [line for line in ran.stdout.splitlines() if line.strip()]
                tests = [line for line in last if " passed" in line]
    finally:
        if args.keep:
            print(f"kept {clone}")
        else:
            shutil.rmtree(clone.parent, ignore_errors=True)
    save(
        "make_test_time",
        {
            "seconds": seconds,
            "pytest_lines": tests,
            "load_average_before": round(load_before, 2),
            "load_average_after": round(os.getloadavg()[0], 2),
        },
    )


if __name__ == "__main__":
    main()
