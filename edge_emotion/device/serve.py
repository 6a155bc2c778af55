"""``run --serve``: the live annotated video, the event stream and a small emotion-aware page over HTTP.

Standard library only (light enough for a Pi). The loop publishes into channels and never
waits: each client thread picks up the newest frame and whatever events are still in a
bounded ring, so slow clients drop frames instead of holding memory, and a client that
vanishes ends its own thread. A client that sends or reads nothing for ``timeout`` seconds
is dropped, and connections beyond ``max_clients`` get 503 at once, so idle or half-open
sockets cannot use up the threads and file descriptors.
"""

import contextlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
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
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "[::1]"}  # what a browser on this machine sends as Host
BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 5\r\nConnection: close\r\n\r\n"


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
    """HOST:PORT, with an IPv6 host written [::1]:8080 (or ::1:8080); the host comes back without brackets."""
    host, _, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:  # 0: any free port
        raise EdgeEmotionError(f"--serve {text}: use HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080")
    return host, int(port)


def host_name(header: str) -> str:
    """The name in a Host header, without its port: ``[::1]:8080`` -> ``[::1]``, ``localhost:80`` -> ``localhost``."""
    if header.startswith("["):
        return header[: header.find("]") + 1]
    return header.rpartition(":")[0] if ":" in header else header


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LiveServer:
    """An HTTP server in a daemon thread: /, /stream.mjpg, /events (SSE), /health, and POST /calibrate?id=N.

    /calibrate is the one write route: it takes face N's next seconds as its neutral face
    (``calibrate``, the recognizer's). It needs the write token in an ``X-Write-Token``
    header: ``token`` when one is set, else a random one made per run, which only the page
    this server serves carries — a custom header that another site's page cannot send
    without this server's consent (CORS), so no web page can calibrate a face behind your back
    — as long as the Host check stands: ``insecure`` drops it along with the token.

    Binding beyond loopback needs a ``token`` (checked on every route, as ``?token=`` or an
    ``Authorization: Bearer`` header), or ``insecure=True`` to serve anyone on the network.
    Bound to loopback, a request must name this machine in its Host header (localhost,
    127.0.0.1 or [::1]): a web page whose DNS name is re-pointed at 127.0.0.1 (DNS rebinding)
    gets 421 instead of the camera.
    """

    def __init__(
        self,
        address: str,
        *,
        token: str | None = None,
        insecure: bool = False,
        timeout: float = 10.0,
        max_clients: int = 32,
        calibrate: Callable[[int], bool] | None = None,
    ) -> None:
        host, port = parse_address(address)
        self.local_only = is_loopback(host)
        if not self.local_only and not token and not insecure:
            raise EdgeEmotionError(
                f"--serve {address} is reachable from the network: add --token SECRET "
                "(or --insecure to serve anyone who can reach it)"
            )
        if not self.local_only and not token:
            log.warning("serving %s to the network WITHOUT a token: anyone who reaches it sees the camera", address)
        self.token = token
        self.write_token = token or secrets.token_urlsafe(18)
        self.calibrate = calibrate
        self.frames, self.events = Channel(1), Channel(256)
        self.started = time.monotonic()
        self.stats: dict[str, float] = {"frames": 0, "fps": 0.0}
        self.clients = {"/stream.mjpg": 0, "/events": 0}
        self.closed = False
        self.lock = threading.Lock()
        page = (resources.files("edge_emotion.device") / "web" / "index.html").read_text()
        self.page = page.replace("__WRITE_TOKEN__", self.write_token).encode()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            self.httpd = _Server((host, port), _handler(self, timeout), family=family, max_clients=max_clients)
        except OSError as error:
            raise EdgeEmotionError(f"--serve {address}: cannot listen ({error.strerror})") from None
        self.port = self.httpd.server_address[1]
        self.url = f"http://{f'[{host}]' if family == socket.AF_INET6 else host}:{self.port}/"
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

    def publish(self, events: list[dict], frame: np.ndarray | None, stats: dict[str, float]) -> None:
        """Hand the newest events (and frame) to the clients; returns at once. Each event's ``event``
        becomes its SSE event type, so a page listens to ``frame`` or ``change`` by name."""
        self.stats = stats
        for event in events:
            self.events.publish((event["event"], json.dumps(event)))
        if frame is not None:
            ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
            if ok:
                self.frames.publish(jpeg.tobytes())

    def addressed(self, host: str | None) -> bool:
        """Whether a request's Host header names this machine, as it must when serving loopback only."""
        return not self.local_only or host is None or host_name(host.lower()) in LOOPBACK_NAMES

    def authorised(self, path: str, header: str | None) -> bool:
        if not self.token:
            return True
        given = parse_qs(urlsplit(path).query).get("token", [""])[0]
        if header and header.startswith("Bearer "):
            given = header.removeprefix("Bearer ")
        return hmac.compare_digest(given.encode(), self.token.encode())

    def calibration(self, path: str, write_token: str | None) -> tuple[HTTPStatus, dict]:
        """The answer to POST /calibrate?id=N: 202 started, 403 no write token, 404 no such face, 409 already on."""
        if not hmac.compare_digest((write_token or "").encode(), self.write_token.encode()):
            return HTTPStatus.FORBIDDEN, {"error": "the X-Write-Token header of the served page is required"}
        text = parse_qs(urlsplit(path).query).get("id", [""])[0]
        if not text.isdigit() or len(text) > 9:
            return HTTPStatus.BAD_REQUEST, {"error": "give the face's id: /calibrate?id=N"}
        face = int(text)
        if self.calibrate is None:
            return HTTPStatus.NOT_FOUND, {"error": "this server does not calibrate"}
        try:
            started = self.calibrate(face)
        except EdgeEmotionError as error:
            return HTTPStatus.NOT_FOUND, {"error": str(error), "id": face}
        if not started:
            return HTTPStatus.CONFLICT, {"error": f"face {face} is already calibrating", "id": face}
        return HTTPStatus.ACCEPTED, {"id": face, "calibrating": True}

    def health(self) -> dict:
        return {
            **self.stats,
            "uptime_s": round(time.monotonic() - self.started, 1),
            "clients": {"video": self.clients["/stream.mjpg"], "events": self.clients["/events"]},
        }

    def track(self, route: str, delta: int) -> None:
        with self.lock:
            self.clients[route] += delta


class _Server(ThreadingHTTPServer):
    """A thread per connection, up to ``max_clients``; one more is answered 503 and closed."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, *, family: int, max_clients: int) -> None:
        self.address_family = family  # read by the base class when it makes the socket
        self.slots = threading.BoundedSemaphore(max_clients)
        super().__init__(address, handler)

    def process_request(self, request: socket.socket, client_address: tuple) -> None:
        if self.slots.acquire(blocking=False):
            super().process_request(request, client_address)
            return
        with contextlib.suppress(OSError):  # in the accepting thread: a few bytes into a new socket never block
            request.sendall(BUSY)
        self.shutdown_request(request)

    def process_request_thread(self, request: socket.socket, client_address: tuple) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request: object, client_address: tuple) -> None:
        """A client that resets its connection is routine here, not a traceback on the terminal."""
        log.debug("connection from %s ended abruptly", client_address, exc_info=True)


def _handler(server: LiveServer, seconds: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "edge-emotion"
        protocol_version = "HTTP/1.1"
        default_request_version = "HTTP/1.0"  # a garbled request line still gets a status line (400)
        timeout = seconds  # on every read and write of the connection: idle and stalled clients are dropped

        def log_message(self, format: str, *args: object) -> None:
            log.debug("%s " + format, self.address_string(), *args)

        def do_GET(self) -> None:
            if not server.addressed(self.headers.get("Host")):
                return self.reply(HTTPStatus.MISDIRECTED_REQUEST, b"use http://localhost\n", "text/plain")
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

        def do_POST(self) -> None:
            self.close_connection = True  # its body is never read: it must not be taken for a next request
            if not server.addressed(self.headers.get("Host")):
                return self.reply(HTTPStatus.MISDIRECTED_REQUEST, b"use http://localhost\n", "text/plain")
            if urlsplit(self.path).path != "/calibrate":
                return self.refuse()
            status, answer = server.calibration(self.path, self.headers.get("X-Write-Token"))
            return self.reply(status, json.dumps(answer).encode(), "application/json")

        def refuse(self) -> None:
            self.close_connection = True  # as in do_POST: an unread body ends the connection
            self.reply(HTTPStatus.METHOD_NOT_ALLOWED, b"the one write route is POST /calibrate\n", "text/plain")

        do_PUT = do_DELETE = do_PATCH = refuse

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
            channel, seen = (server.frames, 0) if video else (server.events, server.events.sequence)
            server.track(route, +1)  # counted before it is answered: /health never lags an answered client
            try:
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", kind)
                self.send_header("Cache-Control", "no-store")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                while not server.closed:
                    items = channel.after(seen, timeout=1.0)
                    if not items and not video:
                        self.wfile.write(b": keep-alive\n\n")  # finds clients that left
                    for number, item in items[-1:] if video else items:  # video: only the newest frame
                        self.wfile.write(
                            self.framed(item) if video else "event: {}\ndata: {}\n\n".format(*item).encode()
                        )
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
