"""What --mqtt costs the loop: FPS on the real clip with every event (frame lines and changes) published to a
local mosquitto, against the same run without, in interleaved runs so a busy machine skews both alike; and the
process's CPU milliseconds per frame (every thread: the loop, the interpreter's, paho's), which another job on
the machine skews much less than FPS.

Needs Debian's mosquitto (apt-get install mosquitto) and the mqtt extra; run from this folder:
    ../.venv/bin/python mqtt_overhead.py [--pairs 4]
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import CLIPS, save

from edge_emotion.device.engine.settings import Outputs, RunSettings
from edge_emotion.device.io.live import run_live

CLIP = CLIPS / "WolfgangLanger_Pexels.mp4"


def start_broker(folder: Path) -> tuple[subprocess.Popen, int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = folder / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nuser root\npersistence false\n")
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    broker = subprocess.Popen([mosquitto, "-c", str(config)], stderr=subprocess.DEVNULL)
    for _ in range(500):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return broker, port
        time.sleep(0.02)
    raise RuntimeError("mosquitto did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=4, help="runs without and with --mqtt, taking turns")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        broker, port = start_broker(Path(folder))
        try:
            url = f"mqtt://127.0.0.1:{port}/bench/emotion"
            run_live(RunSettings(video=CLIP, outputs=Outputs(Path(os.devnull))))  # warm-up: the model, the file cache
            fps: dict[str, list[float]] = {"without": [], "with_mqtt": []}
            cpu: dict[str, list[float]] = {"without": [], "with_mqtt": []}
            published = dropped = 0
            for _ in range(args.pairs):
                for name, mqtt in (("without", None), ("with_mqtt", url)):
                    started = time.process_time()
                    summary = run_live(RunSettings(video=CLIP, outputs=Outputs(Path(os.devnull)), mqtt=mqtt))
                    cpu[name].append(round(1000 * (time.process_time() - started) / summary["frames"], 2))
                    fps[name].append(summary["fps"])
                published += summary["mqtt"]["published"]
                dropped += summary["mqtt"]["dropped"]
        finally:
            broker.kill()
            broker.wait()
    without, with_mqtt = statistics.median(fps["without"]), statistics.median(fps["with_mqtt"])
    cpu_without, cpu_with = statistics.median(cpu["without"]), statistics.median(cpu["with_mqtt"])
    save(
        "mqtt_overhead",
        {
            "clip": CLIP.name,
            "events_mode": "all (a frame line per frame and every typed event, to a mosquitto on 127.0.0.1)",
            "pairs": args.pairs,
            "fps_without": fps["without"],
            "fps_with_mqtt": fps["with_mqtt"],
            "median_fps_without": without,
            "median_fps_with_mqtt": with_mqtt,
            "fps_overhead_percent": round(100 * (without - with_mqtt) / without, 1),
            "cpu_ms_per_frame_without": cpu["without"],
            "cpu_ms_per_frame_with_mqtt": cpu["with_mqtt"],
            "cpu_overhead_percent": round(100 * (cpu_with - cpu_without) / cpu_without, 1),
            "messages_published": published,
            "messages_dropped": dropped,
            "load_average_after": os.getloadavg()[0],
        },
    )


if __name__ == "__main__":
    main()
