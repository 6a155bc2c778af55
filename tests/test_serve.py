"""run --serve: the live page, MJPEG stream, SSE events and health, on a fake camera."""

import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from fakes import FakeCapture, ScriptedDetector

from edge_emotion.device.engine.recognizer import EmotionRecognizer
from edge_emotion.device.engine.settings import Outputs
from edge_emotion.device.io.loop import run_loop
from edge_emotion.device.io.serve import BOUNDARY, LiveServer
from edge_emotion.device.io.sources import CaptureSource
from edge_emotion.errors import EdgeEmotionError

pytestmark = pytest.mark.device  # no TensorFlow: run in the device install too


def start(tiny_model: Path, server: LiveServer, capture: FakeCapture) -> threading.Thread:
    """The loop on a fake camera, in a thread, publishing to ``server``; it ends with the camera's frames."""
    source = CaptureSource(lambda: capture, "fake", live=True, retries=0)
    recognizer = EmotionRecognizer(tiny_model, detector=ScriptedDetector(drift=0), track=True)
    server.calibrate = recognizer.calibrate
    thread = threading.Thread(
        target=run_loop,
        args=(source, recognizer, Outputs(Path("/dev/null"))),
        kwargs={"server": server},
        daemon=True,
    )
    thread.start()
    return thread


@pytest.fixture
def live(tiny_model: Path) -> Iterator[LiveServer]:
    camera = FakeCapture(100_000, delay=0.01)  # 100 FPS
    with LiveServer("127.0.0.1:0", token="s3cret") as server:
        loop = start(tiny_model, server, camera)
        yield server
        camera.frames = 0  # the camera ends, so the loop does too: no thread left inside the runtime at exit
        loop.join(timeout=10)


def get(server: LiveServer, path: str, headers: dict | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", path, headers=headers or {})
    return connection.getresponse()


def read_events(server: LiveServer, count: int, kind: str = "frame") -> list[dict]:
    """The next ``count`` SSE messages of type ``kind``; each message's ``event:`` field must name its JSON's kind."""
    response = get(server, "/events?token=s3cret")
    assert response.status == 200 and response.getheader("Content-Type") == "text/event-stream"
    events, sse_type = [], None
    while len(events) < count:
        line = response.fp.readline().decode()
        if line.startswith("event: "):
            sse_type = line.removeprefix("event: ").strip()
        elif line.startswith("data: "):
            event = json.loads(line.removeprefix("data: "))
            assert event["event"] == sse_type
            if sse_type == kind:
                events.append(event)
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
    seen = [e for e in events if e["faces"]]  # a face counts from its third frame
    assert seen and all(len(e["faces"]) == 1 and e["faces"][0]["id"] == 1 for e in seen)
    assert results["jpeg"].shape == (120, 160, 3)


def test_health_and_page(live: LiveServer) -> None:
    time.sleep(0.3)
    health = json.loads(get(live, "/health?token=s3cret").read())
    assert health["frames"] > 0 and health["fps"] > 0 and health["uptime_s"] > 0
    page = get(live, "/?token=s3cret").read().decode()
    assert "EventSource" in page and "/stream.mjpg" in page


def test_a_client_that_leaves_is_cleaned_up(live: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", live.port)) as client:
        client.sendall(b"GET /stream.mjpg?token=s3cret HTTP/1.1\r\nHost: localhost\r\n\r\n")
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


def test_a_client_that_never_reads_does_not_stall_the_loop(tiny_model: Path) -> None:
    with LiveServer("127.0.0.1:0") as server, socket.create_connection(("127.0.0.1", server.port)) as stalled:
        stalled.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: localhost\r\n\r\n")
        time.sleep(0.2)
        loop = start(tiny_model, server, FakeCapture(300))
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


def test_a_silent_client_is_dropped_and_others_are_still_served() -> None:
    """A socket that connects and sends nothing (half-open, or a slowloris) must not hold a thread for ever."""
    with (
        LiveServer("127.0.0.1:0", timeout=0.5) as server,
        socket.create_connection(("127.0.0.1", server.port)) as silent,
    ):
        silent.settimeout(10)
        started = time.monotonic()
        assert get(server, "/health").status == 200  # served while the silent one waits
        assert silent.recv(1) == b""  # closed by the server
        assert 0.4 < time.monotonic() - started < 5


def test_connections_beyond_the_cap_get_503() -> None:
    with LiveServer("127.0.0.1:0", max_clients=2) as server:
        held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(2)]
        for client in held:  # each one holds a slot: a live event stream
            client.sendall(b"GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert client.recv(12) == b"HTTP/1.1 200"
        busy = get(server, "/health")
        assert busy.status == 503 and busy.getheader("Retry-After")
        for client in held:
            client.close()
        deadline = time.monotonic() + 10  # a stream notices its client left at its next keep-alive (1 s)
        while get(server, "/health").status == 503 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert get(server, "/health").status == 200


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("localhost", 200), ("LOCALHOST:8080", 200), ("127.0.0.1:1234", 200), ("[::1]:80", 200),
        ("evil.example", 421), ("evil.example:8080", 421), ("localhost.evil.example", 421), ("127.0.0.1.nip.io", 421),
    ],
)  # fmt: skip
def test_loopback_answers_only_requests_addressed_to_this_machine(host: str, status: int) -> None:
    """DNS rebinding: a page from evil.example re-pointed at 127.0.0.1 still sends Host: evil.example."""
    with LiveServer("127.0.0.1:0") as server:
        assert get(server, "/health", {"Host": host}).status == status


def test_a_network_address_serves_any_host_name() -> None:
    with LiveServer("0.0.0.0:0", token="s3cret") as server:
        assert get(server, "/health?token=s3cret", {"Host": "camera.example:8080"}).status == 200


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)")
@pytest.mark.parametrize("address", ["[::1]:0", "::1:0"])
def test_ipv6_loopback_is_served(address: str) -> None:
    with LiveServer(address) as server:
        assert server.url == f"http://[::1]:{server.port}/" and server.local_only
        connection = http.client.HTTPConnection("::1", server.port, timeout=10)  # sends Host: [::1]:port
        connection.request("GET", "/health")
        assert connection.getresponse().status == 200


def post(server: LiveServer, path: str, headers: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", method="POST", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = error.read()
        return error.code, json.loads(body) if body.startswith(b"{") else {"text": body.decode()}


def wait_for_a_face(server: LiveServer) -> None:
    """Until a frame reports the face (from its third frame)."""
    while not read_events(server, 1)[0]["faces"]:
        pass


def test_the_page_carries_the_write_token_that_calibrate_needs(live: LiveServer) -> None:
    page = get(live, "/?token=s3cret").read().decode()
    assert f'content="{live.write_token}"' in page and "__WRITE_TOKEN__" not in page
    assert post(live, "/calibrate?id=1")[0] == 403  # no write token: refused
    assert post(live, "/calibrate?id=1", {"X-Write-Token": "guess"})[0] == 403
    wait_for_a_face(live)
    token = {"X-Write-Token": live.write_token}
    assert post(live, "/calibrate?id=1", token) == (202, {"id": 1, "calibrating": True})
    status, answer = post(live, "/calibrate?id=1", token)  # a second request while the first runs
    assert status == 409 and "already calibrating" in answer["error"]
    assert post(live, "/calibrate?id=99", token)[0] == 404
    assert post(live, "/calibrate?id=x", token)[0] == 400
    assert post(live, "/stream.mjpg", token)[0] == 405  # the one write route is /calibrate


def test_calibration_shows_in_the_stream_then_ends_in_a_calibrated_event(live: LiveServer) -> None:
    wait_for_a_face(live)
    assert post(live, "/calibrate?id=1", {"X-Write-Token": live.write_token})[0] == 202
    calibrating = read_events(live, 3)
    assert any(e["faces"] and e["faces"][0]["calibrating"] for e in calibrating)
    (done,) = read_events(live, 1, "calibrated")  # two seconds later
    assert done["id"] == 1 and done["label"] in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def test_a_post_body_is_never_read_as_a_second_request(live: LiveServer) -> None:
    """A request smuggled in a POST body (with its own Host: localhost) must not be answered."""
    hidden = b"GET /health?token=s3cret HTTP/1.1\r\nHost: localhost\r\n\r\n"
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as client:
        client.sendall(
            b"POST /calibrate?id=1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: "
            + str(len(hidden)).encode() + b"\r\n\r\n" + hidden
        )  # fmt: skip
        answer = b""
        while chunk := client.recv(4096):
            answer += chunk
    assert answer.count(b"HTTP/1.") == 1 and answer.startswith(b"HTTP/1.1 403")
