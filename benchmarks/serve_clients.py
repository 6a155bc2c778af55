"""The loop's FPS with 0, 1 and 5 clients on the live server (a looped 640x480 video), and the
process's resident memory before and after a long run with 5 clients.

Each client reads what the page reads: /stream.mjpg and /events.

    python benchmarks/serve_clients.py [--seconds 20] [--long-minutes 10]
"""

import argparse
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import cv2
from common import save
from device_loop import scene, write_clip

from edge_emotion.device.engine.recognizer import EmotionRecognizer
from edge_emotion.device.engine.settings import Outputs
from edge_emotion.device.io.loop import run_loop
from edge_emotion.device.io.serve import LiveServer
from edge_emotion.device.io.sources import CaptureSource, Frame
from edge_emotion.shipped import shipped_model


class LoopedVideo:
    """A clip played over and over for ``seconds``, as a camera that never ends would be."""

    kind, fps, lost = "camera", None, False

    def __init__(self, clip: Path, seconds: float) -> None:
        self.capture = CaptureSource(lambda: cv2.VideoCapture(str(clip)), str(clip), live=False)
        self.seconds = seconds

    def frames(self) -> Iterator[Frame]:
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline:
            self.capture.capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            for frame in self.capture.frames():
                if time.monotonic() >= deadline:
                    return
                yield frame

    def close(self) -> None:
        self.capture.close()


def rss_mb() -> float:
    """Resident memory of this process now (not its peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def client(port: int, path: str, stop: threading.Event) -> None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}") as stream:
        while not stop.is_set() and stream.read(4096):
            pass


def measure(clip: Path, clients: int, seconds: float) -> dict:
    stop = threading.Event()
    with LiveServer("127.0.0.1:0") as server:
        for _ in range(clients):
            for path in ("/stream.mjpg", "/events"):
                threading.Thread(target=client, args=(server.port, path, stop), daemon=True).start()
        time.sleep(0.5)
        rss_before = rss_mb()
        recognizer = EmotionRecognizer(shipped_model(), track=True)
        summary = run_loop(LoopedVideo(clip, seconds), recognizer, Outputs(Path("/dev/null")), server=server)
        stop.set()
    return {"clients": clients, "fps": summary["fps"], "frames": summary["frames"],
            "rss_mb_start": rss_before, "rss_mb_end": rss_mb()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--long-minutes", type=float, default=10, help="0 skips the memory run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        clip = write_clip(Path(folder) / "clip.avi", scene(1), 150)
        rows = [measure(clip, clients, args.seconds) for clients in (0, 1, 5)]
        save("serve_clients", {"seconds_each": args.seconds, "fps_by_clients": rows})
        if args.long_minutes:
            save("serve_memory", {"minutes": args.long_minutes, **measure(clip, 5, args.long_minutes * 60)})


if __name__ == "__main__":
    main()
