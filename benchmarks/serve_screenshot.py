"""Open the live page of `run --serve` in headless Chromium and save a screenshot.

Starts `edge-emotion run` on a generated clip of a real face with `--serve`, waits until
events flow, then lets Debian's Chromium (`apt-get install chromium`) render the page for a
few seconds: the screenshot shows the annotated video, a panel per tracked face with its
label and rolling probability chart, and the page tinted by the dominant emotion.

    python benchmarks/serve_screenshot.py [--out results/serve_page.png]
"""

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from device_loop import scene, write_clip

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--window-size=1280,800",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_events(port: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).read())
            if health["frames"] > 0:
                return health
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("the server never reported a frame")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "serve_page.png")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("Chromium is not installed: apt-get install chromium")
    port = free_port()
    with tempfile.TemporaryDirectory() as folder:
        clip = write_clip(Path(folder) / "clip.avi", scene(1), 900)
        edge = Path(sys.executable).with_name("edge-emotion")
        command = [str(edge), "run", "--video", str(clip), "--serve", f"127.0.0.1:{port}", "--events", "/dev/null"]
        server = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        try:
            wait_for_events(port)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={folder}/profile", f"--screenshot={args.out}",
                 "--timeout=12000", f"http://127.0.0.1:{port}/"],
                check=True, capture_output=True, timeout=120,
            )  # fmt: skip
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
