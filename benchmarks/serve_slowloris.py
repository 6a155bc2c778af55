"""A token holder's /health latency and the loop's frame rate on the live server (a looped 640x480
video), without and with N slow clients that send a header byte every few seconds (a slowloris).

Each slow client sends a request line, then one header byte every ``--every`` seconds, and
connects again as soon as the server closes it, as an attacker would; they run in a process of
their own, as they would on another machine, not in the server's. The token holder asks for
/health ``--requests`` times, a new connection each, once the attack has run past the server's
header deadline.

    python benchmarks/serve_slowloris.py [--slow 40] [--every 3] [--seconds 20] [--requests 20]
"""

import argparse
import contextlib
import http.client
import multiprocessing
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from common import save
from device_loop import scene, write_clip
from serve_clients import LoopedVideo

from edge_emotion.device.engine.recognizer import EmotionRecognizer
from edge_emotion.device.engine.settings import Outputs
from edge_emotion.device.io.loop import run_loop
from edge_emotion.device.io.serve import HEADER_SECONDS, LiveServer
from edge_emotion.shipped import shipped_model

TOKEN = "benchmark-token"


def slowloris(port: int, count: int, every: float, stop: Any, out: Any) -> None:
    """``count`` connections dribbling their headers; each one the server closes or answers is opened again. Puts
    ``count`` on ``out`` once they are open, then, at ``stop``, the seconds each lived, from connect
    until it was seen closed (at the next byte's turn)."""

    def connect() -> tuple[socket.socket, float]:
        client = socket.create_connection(("127.0.0.1", port))
        client.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
        return client, time.monotonic()

    clients, lifetimes = [connect() for _ in range(count)], []
    out.put(count)
    while not stop.wait(every):
        for index, (client, opened) in enumerate(clients):
            try:
                client.recv(1, socket.MSG_DONTWAIT)  # the end (b"") or an answer (a 503): it is done either way
                closed = True
            except BlockingIOError:
                closed = False
            except OSError:
                closed = True
            if closed:
                lifetimes.append(time.monotonic() - opened)
                client.close()
                clients[index] = client, opened = connect()
            with contextlib.suppress(OSError):
                client.send(b"X")
    for client, _ in clients:
        client.close()
    out.put(lifetimes)


def health(port: int) -> tuple[float, str]:
    """Seconds for one /health answer with the token, and its status (or the error that came instead)."""
    started = time.perf_counter()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/health", headers={"Authorization": f"Bearer {TOKEN}"})
        response = connection.getresponse()
        response.read()
        status = str(response.status)
    except OSError as error:
        status = type(error).__name__
    return time.perf_counter() - started, status


def measure(clip: Path, slow: int, every: float, seconds: float, requests: int) -> dict:
    recognizer = EmotionRecognizer(shipped_model(), track=True)
    summary: dict = {}
    spawn = multiprocessing.get_context("spawn")
    stop, out = spawn.Event(), spawn.Queue()
    with LiveServer("127.0.0.1:0", token=TOKEN) as server:
        attack = spawn.Process(target=slowloris, args=(server.port, slow, every, stop, out))
        attack.start()
        out.get()  # the slow clients are connected
        loop = threading.Thread(
            target=lambda: summary.update(
                run_loop(LoopedVideo(clip, seconds), recognizer, Outputs(Path("/dev/null")), server=server)
            )
        )
        loop.start()
        time.sleep(HEADER_SECONDS + 1)  # past the first deadline: the attack has been closed and reconnected
        answers = []
        for _ in range(requests):
            answers.append(health(server.port))
            time.sleep(0.25)
        loop.join()
        stop.set()
        lifetimes = out.get()
        attack.join()
    latencies = [seconds for seconds, _ in answers]
    statuses = [status for _, status in answers]
    return {
        "slow_clients": slow,
        "health_ms_median": round(1000 * statistics.median(latencies), 1),
        "health_ms_max": round(1000 * max(latencies), 1),
        "health_statuses": {status: statuses.count(status) for status in sorted(set(statuses))},
        "fps": summary["fps"],
        "frames": summary["frames"],
        "slow_clients_closed": len(lifetimes),
        "slow_client_lifetime_s_median": round(statistics.median(lifetimes), 2) if lifetimes else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=40, help="slow clients in the attack")
    parser.add_argument("--every", type=float, default=3.0, help="seconds between a slow client's header bytes")
    parser.add_argument("--seconds", type=float, default=20, help="the loop's run in each case")
    parser.add_argument("--requests", type=int, default=20, help="/health requests by the token holder in each case")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        clip = write_clip(Path(folder) / "clip.avi", scene(1), 150)
        rows = [measure(clip, slow, args.every, args.seconds, args.requests) for slow in (0, args.slow)]
    save(
        "serve_slowloris",
        {"every_s": args.every, "seconds_each": args.seconds, "header_deadline_s": HEADER_SECONDS, "cases": rows},
    )


if __name__ == "__main__":
    main()
