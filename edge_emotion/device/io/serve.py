"""``run --serve``: the live annotated video, the event stream and a small emotion-aware page over HTTP.

Standard library only (light enough for a Pi). The loop publishes into channels and never
waits: each client thread picks up the newest frame and whatever events are still in a
bounded ring, so slow clients drop frames instead of holding memory, and a client that
vanishes ends its own thread. A connection waits for its request's headers in one selector
thread, without a thread or a slot of its own, for at most ``header_timeout`` seconds in all
(and ``timeout`` seconds between bytes); only a whole request gets a thread, and requests
beyond ``max_clients`` at once get 503. So sockets that send their headers a byte at a time
(a slowloris), or nothing, cannot use up the slots before they have shown a token.
"""

import contextlib
import hmac
import html
import io
import ipaddress
import json
import logging
import os
import re
import secrets
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np

from edge_emotion.device.io.secret_file import read_secret_file
from edge_emotion.errors import EdgeEmotionError

log = logging.getLogger(__name__)
BOUNDARY = "edge-emotion-frame"
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "[::1]"}  # what a browser on this machine sends as Host
BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nRetry-After: 5\r\nConnection: close\r\n\r\n"
TOO_BIG = b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
HEADER_SECONDS = 5.0  # from accept to the end of a request's headers, however steadily its bytes come
MAX_HEAD = 65536  # bytes of request line and headers
MAX_WAITING = 256  # connections still sending their headers; one more pushes out the longest-waiting
END_OF_HEAD = re.compile(rb"\n\r?\n")  # the empty line after the headers (http.server takes a bare \n too)
NO_FRAMING = {"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'"}  # no clickjacking
TOKEN_ENV = "EDGE_EMOTION_TOKEN"


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


def query_value(path: str, name: str) -> str:
    """``name``'s value in a request's query, percent-decoded; a ``+`` stays a plus, as the page sends it
    and as it is typed in a token (no token or face id holds a space), not a form's space."""
    return parse_qs(urlsplit(path).query.replace("+", "%2B")).get(name, [""])[0]


def check_token(token: str, source: str = "token") -> str:
    """A token travels in URLs, in an HTTP header and in the page: printable ASCII without spaces."""
    if not (token.isascii() and token.isprintable()) or " " in token:
        raise EdgeEmotionError(
            f"{source}: a token must be printable ASCII without spaces (letters, digits, punctuation); "
            "make one with: python -c 'import secrets; print(secrets.token_urlsafe())'"
        )
    return token


def read_token_file(path: Path) -> tuple[str, str | None]:
    """The token in ``path`` (whitespace at its end dropped), and a warning when every user may read the file."""
    token, warning = read_secret_file(path, "--token-file", "token")
    return check_token(token, f"--token-file {path}"), warning


def resolve_token(
    token: str | None, token_file: Path | None, environ: Mapping[str, str] = os.environ
) -> tuple[str | None, str | None]:
    """The server's token, from ``--token``, ``--token-file`` or ``EDGE_EMOTION_TOKEN`` (a flag wins over the
    variable), and a warning to show, if any. ``--token`` shows the secret to every local user in ``ps``."""
    if token is not None and token_file is not None:
        raise EdgeEmotionError("give one of --token and --token-file (the file keeps the token out of ps)")
    if token_file is not None:
        return read_token_file(token_file)
    if token is not None:
        return check_token(token, "--token"), None
    if environ.get(TOKEN_ENV):
        return check_token(environ[TOKEN_ENV], TOKEN_ENV), None
    return None, None


class LiveServer:
    """An HTTP server in a daemon thread: /, /stream.mjpg, /events (SSE), /health, and POST /calibrate?id=N.

    /calibrate is the one write route: it takes face N's next seconds as its neutral face
    (``calibrate``, the recognizer's). It needs the write token in an ``X-Write-Token``
    header: ``token`` when one is set, else a random one made per run, which only the page
    this server serves carries — a custom header that another site's page cannot send
    without this server's consent (CORS), so no web page can calibrate a face behind your back
    — as long as the Host check stands: ``insecure`` drops it along with the token.

    Binding beyond loopback needs a ``token`` (printable ASCII without spaces; checked on every
    route, as ``?token=`` or an ``Authorization: Bearer`` header), or ``insecure=True`` to serve
    anyone on the network.
    Bound to loopback, a request must name this machine in its Host header (localhost,
    127.0.0.1 or [::1]): a web page whose DNS name is re-pointed at 127.0.0.1 (DNS rebinding)
    gets 421 instead of the camera.

    A connection carries one request. Its headers must be in within ``header_timeout`` seconds of
    connecting (and ``timeout`` seconds between bytes); waiting for them takes no thread and no
    slot, so slow or silent sockets never keep a client with the token out. A whole request takes
    one of ``max_clients`` slots (a stream keeps it); one more is answered 503.
    """

    def __init__(
        self,
        address: str,
        *,
        token: str | None = None,
        insecure: bool = False,
        timeout: float = 10.0,
        max_clients: int = 32,
        header_timeout: float = HEADER_SECONDS,
        calibrate: Callable[[int], bool] | None = None,
    ) -> None:
        host, port = parse_address(address)
        if token:
            check_token(token)
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
        page = (resources.files("edge_emotion.device.io") / "web" / "index.html").read_text()
        self.page = page.replace("__WRITE_TOKEN__", html.escape(self.write_token)).encode()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            self.httpd = _Server(
                (host, port), _handler(self, timeout), family=family, max_clients=max_clients,
                idle_timeout=timeout, header_timeout=header_timeout,
            )  # fmt: skip
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
        given = query_value(path, "token")
        if header and header.startswith("Bearer "):
            given = header.removeprefix("Bearer ")
        return hmac.compare_digest(given.encode(), self.token.encode())

    def calibration(self, path: str, write_token: str | None) -> tuple[HTTPStatus, dict]:
        """The answer to POST /calibrate?id=N: 202 started, 403 no write token, 404 no such face, 409 already on."""
        if not hmac.compare_digest((write_token or "").encode(), self.write_token.encode()):
            return HTTPStatus.FORBIDDEN, {"error": "the X-Write-Token header of the served page is required"}
        text = query_value(path, "id")
        if not (text.isascii() and text.isdecimal()) or len(text) > 9:  # "²" is a digit, but no number
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


@dataclass
class _Waiting:
    """A connection still sending its request line and headers."""

    address: tuple
    deadline: float  # for the whole head
    idle_until: float  # for its next byte
    head: bytes = b""


class _Server(ThreadingHTTPServer):
    """Connections wait in this server's own thread, on one selector, until their headers are in; then
    each request gets a thread, up to ``max_clients`` at once, and one more is answered 503 and closed.

    Waiting costs a socket and the bytes read so far, not a thread or a slot: a connection whose
    head is not in ``header_timeout`` seconds after accept, or that sends nothing for
    ``idle_timeout`` seconds, is closed, and beyond ``MAX_WAITING`` the longest-waiting one makes
    room for the newest, so a client that sends its request at once is always read.
    """

    daemon_threads = True
    request_queue_size = 64  # the listen backlog: a burst of connections waits for accept

    def __init__(
        self, address: tuple[str, int], handler: type, *, family: int, max_clients: int,
        idle_timeout: float, header_timeout: float,
    ) -> None:  # fmt: skip
        self.address_family = family  # read by the base class when it makes the socket
        self.slots = threading.BoundedSemaphore(max_clients)
        self.idle_timeout, self.header_timeout = idle_timeout, header_timeout
        self.waiting: dict[socket.socket, _Waiting] = {}  # in the order accepted
        self.heads: dict[socket.socket, bytes] = {}  # a whole head, for the request's handler
        self.stopping, self.stopped = False, threading.Event()
        super().__init__(address, handler)
        self.socket.setblocking(False)  # a connection gone between select and accept never stalls this thread

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ)
            try:
                while not self.stopping:
                    for key, _ in selector.select(0.1 if self.waiting else poll_interval):
                        if key.fileobj is self.socket:
                            self.admit(selector)
                        elif isinstance(key.fileobj, socket.socket):  # every other key is a client's
                            self.receive(selector, key.fileobj)
                    self.expire(selector)
            finally:
                for connection in list(self.waiting):
                    self.drop(selector, connection)
                self.stopped.set()

    def shutdown(self) -> None:
        self.stopping = True
        self.stopped.wait()

    def admit(self, selector: selectors.BaseSelector) -> None:
        try:
            connection, address = self.socket.accept()
        except BlockingIOError:
            return
        except OSError:  # out of file descriptors: the longest-waiting connection gives its own back
            if self.waiting:
                self.drop(selector, next(iter(self.waiting)))
            return
        if len(self.waiting) >= MAX_WAITING:
            self.drop(selector, next(iter(self.waiting)))
        connection.setblocking(False)
        now = time.monotonic()
        self.waiting[connection] = _Waiting(address, now + self.header_timeout, now + self.idle_timeout)
        selector.register(connection, selectors.EVENT_READ)

    def receive(self, selector: selectors.BaseSelector, connection: socket.socket) -> None:
        waiting = self.waiting[connection]
        try:
            data = connection.recv(16384)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the client left
            return self.drop(selector, connection)
        seen, waiting.head = len(waiting.head), waiting.head + data
        waiting.idle_until = time.monotonic() + self.idle_timeout
        if END_OF_HEAD.search(waiting.head, max(0, seen - 2)):
            selector.unregister(connection)
            del self.waiting[connection]
            return self.dispatch(connection, waiting.address, waiting.head)
        if len(waiting.head) > MAX_HEAD:
            with contextlib.suppress(OSError):
                connection.send(TOO_BIG)
            self.drop(selector, connection)

    def expire(self, selector: selectors.BaseSelector) -> None:
        now = time.monotonic()
        for connection, waiting in list(self.waiting.items()):
            if now >= min(waiting.deadline, waiting.idle_until):
                self.drop(selector, connection)  # silently, as a read that timed out

    def drop(self, selector: selectors.BaseSelector, connection: socket.socket) -> None:
        selector.unregister(connection)
        del self.waiting[connection]
        self.shutdown_request(connection)

    def dispatch(self, connection: socket.socket, address: tuple, head: bytes) -> None:
        """A whole head: a thread for its request if a slot is free, else 503."""
        if not self.slots.acquire(blocking=False):
            with contextlib.suppress(OSError):  # a few bytes into a socket that has sent nothing back: never blocks
                connection.send(BUSY)
            return self.shutdown_request(connection)
        self.heads[connection] = head
        connection.setblocking(True)  # the handler's own timeout applies from here
        try:
            self.process_request(connection, address)
        except RuntimeError:  # no thread to be had
            self.heads.pop(connection, None)
            self.slots.release()
            self.shutdown_request(connection)

    def process_request_thread(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: tuple
    ) -> None:
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
        timeout = seconds  # on every write: a client that stops reading is dropped
        server: _Server  # the one that read the head

        def setup(self) -> None:
            super().setup()
            self.rfile.close()
            self.rfile = io.BytesIO(self.server.heads.pop(self.connection, b""))  # read by the server already

        def handle(self) -> None:
            """One request per connection: a body, sent or chunked, is never taken for a next request,
            and no thread waits for one."""
            self.close_connection = True
            self.handle_one_request()

        def send_response(self, code: int, message: str | None = None) -> None:
            super().send_response(code, message)
            for name, value in NO_FRAMING.items():  # on every answer, http.server's HTML error pages too
                self.send_header(name, value)

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
            if not server.addressed(self.headers.get("Host")):
                return self.reply(HTTPStatus.MISDIRECTED_REQUEST, b"use http://localhost\n", "text/plain")
            if urlsplit(self.path).path != "/calibrate":
                return self.refuse()
            status, answer = server.calibration(self.path, self.headers.get("X-Write-Token"))
            return self.reply(status, json.dumps(answer).encode(), "application/json")

        def refuse(self) -> None:
            self.reply(HTTPStatus.METHOD_NOT_ALLOWED, b"the one write route is POST /calibrate\n", "text/plain")

        do_PUT = do_DELETE = do_PATCH = refuse

        def reply(self, status: HTTPStatus, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
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
