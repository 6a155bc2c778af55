"""``run --serve``: the live annotated video, the event stream and a small emotion-aware page over HTTP.

Standard library only (light enough for a Pi). The loop publishes into channels and never
waits: each client thread picks up the newest frame and whatever events are still in a
bounded ring, so slow clients drop frames instead of holding memory, and a client that
vanishes ends its own thread.
"""

import hmac
import ipaddress
import json
import logging
import threading
import time
from collections import deque
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np

from edge_emotion.errors import EdgeEmotionError

log = logging.getLogger(__name__)
BOUNDARY = "edge-emotion-frame"


class Channel:
    """The newest ``size`` items, numbered; readers wait for items newer than the last they saw."""

    def __init__(self, size: int) -> None:
        self.items: deque[tuple[int, Any]] = deque(maxlen=size)
        self.sequence = 0
        self.changed = threading.Condition()

    def publish(self, item: object) -> None:
        with self.changed:
            self.sequence += 1
            self.items.append((self.sequence, item))
            self.changed.notify_all()

    def after(self, seen: int, timeout: float) -> list[tuple[int, Any]]:
        """Items newer than ``seen``; waits up to ``timeout`` seconds for one, then returns []."""
        with self.changed:
            self.changed.wait_for(lambda: self.sequence > seen, timeout)
            return [(number, item) for number, item in self.items if number > seen]


def parse_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:  # 0: any free port
        raise EdgeEmotionError(f"--serve {text}: use HOST:PORT, e.g. 127.0.0.1:8080")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LiveServer:
    """An HTTP server in a daemon thread: /, /stream.mjpg, /events (SSE), /health.

    Binding beyond loopback needs a ``token`` (checked on every route, as ``?token=`` or an
    ``Authorization: Bearer`` header), or ``insecure=True`` to serve anyone on the network.
    """

    def __init__(self, address: str, *, token: str | None = None, insecure: bool = False) -> None:
        host, port = parse_address(address)
        if not is_loopback(host) and not token and not insecure:
            raise EdgeEmotionError(
                f"--serve {address} is reachable from the network: add --token SECRET "
                "(or --insecure to serve anyone who can reach it)"
            )
        if not is_loopback(host) and not token:
            log.warning("serving %s to the network WITHOUT a token: anyone who reaches it sees the camera", address)
        self.token = token
        self.frames, self.events = Channel(1), Channel(256)
        self.started = time.monotonic()
        self.stats: dict[str, float] = {"frames": 0, "fps": 0.0}
        self.clients = {"/stream.mjpg": 0, "/events": 0}
        self.closed = False
        self.lock = threading.Lock()
        self.page = (resources.files("edge_emotion.device") / "web" / "index.html").read_bytes()
        try:
            self.httpd = _QuietServer((host, port), _handler(self))
        except OSError as error:
            raise EdgeEmotionError(f"--serve {address}: cannot listen ({error.strerror})") from None
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="edge-emotion-serve", daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.closed = True  # streaming threads end within a second
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def wants_frames(self) -> bool:
        """Whether a client is watching the video, so the loop encodes JPEGs only when someone looks."""
        return self.clients["/stream.mjpg"] > 0

    def publish(self, event: dict, frame: np.ndarray | None, stats: dict[str, float]) -> None:
        """Hand the newest event (and frame) to the clients; returns at once."""
        self.stats = stats
        self.events.publish(json.dumps(event))
        if frame is not None:
            ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
            if ok:
                self.frames.publish(jpeg.tobytes())

    def authorised(self, path: str, header: str | None) -> bool:
        if not self.token:
            return True
        given = parse_qs(urlsplit(path).query).get("token", [""])[0]
        if header and header.startswith("Bearer "):
            given = header.removeprefix("Bearer ")
        return hmac.compare_digest(given.encode(), self.token.encode())

    def health(self) -> dict:
        return {
            **self.stats,
            "uptime_s": round(time.monotonic() - self.started, 1),
            "clients": {"video": self.clients["/stream.mjpg"], "events": self.clients["/events"]},
        }

    def track(self, route: str, delta: int) -> None:
        with self.lock:
            self.clients[route] += delta


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: tuple) -> None:
        """A client that resets its connection is routine here, not a traceback on the terminal."""
        log.debug("connection from %s ended abruptly", client_address, exc_info=True)


def _handler(server: LiveServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "edge-emotion"
        protocol_version = "HTTP/1.1"
        default_request_version = "HTTP/1.0"  # a garbled request line still gets a status line (400)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("%s " + format, self.address_string(), *args)

        def do_GET(self) -> None:
            if not server.authorised(self.path, self.headers.get("Authorization")):
                return self.reply(HTTPStatus.UNAUTHORIZED, b"token required\n", "text/plain")
            route = urlsplit(self.path).path
            if route == "/":
                return self.reply(HTTPStatus.OK, server.page, "text/html; charset=utf-8")
            if route == "/health":
                return self.reply(HTTPStatus.OK, json.dumps(server.health()).encode(), "application/json")
            if route in ("/stream.mjpg", "/events"):
                return self.stream(route)
            return self.reply(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")

        def refuse(self) -> None:
            self.reply(HTTPStatus.METHOD_NOT_ALLOWED, b"read-only: GET only\n", "text/plain")

        do_POST = do_PUT = do_DELETE = do_PATCH = refuse

        def reply(self, status: HTTPStatus, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def stream(self, route: str) -> None:
            video = route == "/stream.mjpg"
            kind = f"multipart/x-mixed-replace; boundary={BOUNDARY}" if video else "text/event-stream"
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", kind)
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            channel, seen = (server.frames, 0) if video else (server.events, server.events.sequence)
            server.track(route, +1)
            try:
                while not server.closed:
                    items = channel.after(seen, timeout=1.0)
                    if not items and not video:
                        self.wfile.write(b": keep-alive\n\n")  # finds clients that left
                    for number, item in items[-1:] if video else items:  # video: only the newest frame
                        self.wfile.write(self.framed(item) if video else f"data: {item}\n\n".encode())
                        seen = number
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                pass  # the client left: its thread ends here
            finally:
                server.track(route, -1)

        @staticmethod
        def framed(jpeg: bytes) -> bytes:
            head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
            return head.encode() + jpeg + b"\r\n"

    return Handler
