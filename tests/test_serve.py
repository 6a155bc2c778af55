"""run --serve: the live page, MJPEG stream, SSE events and health, on a fake camera."""

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from fakes import FakeCapture, ScriptedDetector

from edge_emotion.device.loop import run_loop
from edge_emotion.device.recognizer import EmotionRecognizer
from edge_emotion.device.serve import BOUNDARY, LiveServer
from edge_emotion.device.sources import CaptureSource
from edge_emotion.errors import EdgeEmotionError


def start(int8_model: Path, server: LiveServer, capture: FakeCapture) -> threading.Thread:
    """The loop on a fake camera, in a thread, publishing to ``server``."""
    source = CaptureSource(lambda: capture, "fake", live=True, retries=0)
    recognizer = EmotionRecognizer(int8_model, detector=ScriptedDetector(), track=True)
    thread = threading.Thread(
        target=run_loop,
        args=(source, recognizer),
        kwargs={"events": Path("/dev/null"), "server": server, "max_frames": capture.frames},
        daemon=True,
    )
    thread.start()
    return thread


@pytest.fixture
def live(int8_model: Path) -> Iterator[LiveServer]:
    camera = FakeCapture(100_000, delay=0.01)  # 100 FPS
    with LiveServer("127.0.0.1:0", token="s3cret") as server:
        loop = start(int8_model, server, camera)
        yield server
        camera.frames = 0  # the camera stops, so the loop ends before the process does (not inside OpenCV)
        loop.join(timeout=10)


def get(server: LiveServer, path: str, headers: dict | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", path, headers=headers or {})
    return connection.getresponse()


def read_events(server: LiveServer, count: int) -> list[dict]:
    response = get(server, "/events?token=s3cret")
    assert response.status == 200 and response.getheader("Content-Type") == "text/event-stream"
    events = []
    while len(events) < count:
        line = response.fp.readline().decode()
        if line.startswith("data: "):
            events.append(json.loads(line.removeprefix("data: ")))
    response.close()
    return events


def read_jpeg(server: LiveServer) -> np.ndarray:
    response = get(server, "/stream.mjpg", {"Authorization": "Bearer s3cret"})
    assert response.getheader("Content-Type") == f"multipart/x-mixed-replace; boundary={BOUNDARY}"
    assert response.fp.readline().strip() == f"--{BOUNDARY}".encode()
    headers = dict(line.decode().strip().split(": ", 1) for line in iter(response.fp.readline, b"\r\n"))
    image = cv2.imdecode(np.frombuffer(response.fp.read(int(headers["Content-Length"])), np.uint8), cv2.IMREAD_COLOR)
    response.close()
    return image


def test_events_and_frames_to_two_clients_at_once(live: LiveServer) -> None:
    results: dict = {}
    readers = [
        threading.Thread(target=lambda: results.update(events=read_events(live, 5))),
        threading.Thread(target=lambda: results.update(jpeg=read_jpeg(live))),
    ]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join(timeout=20)
    events = results["events"]
    assert [e["frame"] for e in events] == sorted(e["frame"] for e in events)
    assert all(len(e["faces"]) == 1 and e["faces"][0]["id"] == 1 for e in events)
    assert all(len(e["faces"][0]["landmarks"]) == 5 for e in events)  # the landmarks travel to the stream
    assert results["jpeg"].shape == (120, 160, 3)


def test_health_and_page(live: LiveServer) -> None:
    time.sleep(0.3)
    health = json.loads(get(live, "/health?token=s3cret").read())
    assert health["frames"] > 0 and health["fps"] > 0 and health["uptime_s"] > 0
    page = get(live, "/?token=s3cret").read().decode()
    assert "EventSource" in page and "/stream.mjpg" in page


def test_a_client_that_leaves_is_cleaned_up(live: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", live.port)) as client:
        client.sendall(b"GET /stream.mjpg?token=s3cret HTTP/1.1\r\nHost: x\r\n\r\n")
        assert client.recv(1024).startswith(b"HTTP/1.1 200")
        assert json.loads(get(live, "/health?token=s3cret").read())["clients"]["video"] == 1
    deadline = time.monotonic() + 5
    while json.loads(get(live, "/health?token=s3cret").read())["clients"]["video"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert json.loads(get(live, "/health?token=s3cret").read())["clients"]["video"] == 0
    assert read_jpeg(live).shape == (120, 160, 3)  # the server goes on serving others


@pytest.mark.parametrize("path", ["/", "/health", "/events", "/stream.mjpg", "/health?token=wrong"])
def test_token_is_checked_on_every_route(live: LiveServer, path: str) -> None:
    response = get(live, path)
    assert response.status == 401


def test_bad_requests_get_4xx_and_the_server_goes_on(live: LiveServer) -> None:
    assert get(live, "/nothing?token=s3cret").status == 404
    connection = http.client.HTTPConnection("127.0.0.1", live.port, timeout=5)
    connection.request("POST", "/events?token=s3cret", body=b"{}")
    assert connection.getresponse().status == 405
    with socket.create_connection(("127.0.0.1", live.port)) as client:
        client.sendall(b"\x00\x01 garbage \xff\r\n\r\n")
        assert client.recv(64).split()[1] == b"400"
    assert get(live, "/health?token=s3cret").status == 200


def test_a_client_that_never_reads_does_not_stall_the_loop(int8_model: Path) -> None:
    with LiveServer("127.0.0.1:0") as server, socket.create_connection(("127.0.0.1", server.port)) as stalled:
        stalled.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        loop = start(int8_model, server, FakeCapture(300))
        loop.join(timeout=60)
        assert not loop.is_alive()
        assert server.stats["frames"] == 300


def test_network_address_needs_a_token() -> None:
    with pytest.raises(EdgeEmotionError, match="--token"):
        LiveServer("0.0.0.0:0")
    with LiveServer("0.0.0.0:0", insecure=True) as server:
        assert get(server, "/health").status == 200
    with pytest.raises(EdgeEmotionError, match="HOST:PORT"):
        LiveServer("8080")
