"""run --serve under attack and on odd input: slow headers (a slowloris), the token kept out of ps
(--token-file, EDGE_EMOTION_TOKEN), bodies on GET, odd ids and tokens, and framing of the page."""

import contextlib
import http.client
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from edge_emotion.cli import app
from edge_emotion.device.io import serve
from edge_emotion.device.io.serve import LiveServer
from edge_emotion.errors import EdgeEmotionError

pytestmark = [pytest.mark.faults, pytest.mark.device]  # no TensorFlow: run in the device install too
runner = CliRunner()
TOKEN = "s3cret"
TOKEN_ENV = "EDGE_EMOTION_TOKEN"


def get(server: LiveServer, path: str, headers: dict | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", path, headers=headers or {})
    return connection.getresponse()


class Slowloris:
    """``count`` connections that send a request line at once, then one header byte every ``every`` seconds."""

    def __init__(self, server: LiveServer, count: int, every: float) -> None:
        self.sockets, self.opened = [], []
        for _ in range(count):
            client = socket.create_connection(("127.0.0.1", server.port))
            client.sendall(b"GET /health HTTP/1.1\r\n")
            self.sockets.append(client)
            self.opened.append(time.monotonic())
        self.every, self.stop = every, threading.Event()
        self.thread = threading.Thread(target=self.dribble, daemon=True)
        self.thread.start()

    def dribble(self) -> None:
        while not self.stop.wait(self.every):
            for client in self.sockets:
                with contextlib.suppress(OSError):  # closed by the server: as it should be
                    client.send(b"X")

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for client in self.sockets:
            client.close()


@pytest.fixture
def slowloris() -> Iterator[list[Slowloris]]:
    attacks: list[Slowloris] = []
    yield attacks
    for attack in attacks:
        attack.close()


def closed_by_server(client: socket.socket, within: float) -> bool:
    client.settimeout(within)
    try:
        while client.recv(4096):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def test_slow_headers_cannot_keep_a_token_holder_out(slowloris: list[Slowloris]) -> None:
    """Twelve sockets dribbling their headers against four slots: the token holder is still served at
    once, and each dribbling socket is closed at the header deadline however steadily it sends."""
    with LiveServer("127.0.0.1:0", token=TOKEN, max_clients=4, timeout=5.0, header_timeout=1.0) as server:
        attack = Slowloris(server, 12, every=0.2)
        slowloris.append(attack)
        time.sleep(0.5)  # each has sent bytes since it connected
        for _ in range(3):
            started = time.monotonic()
            assert get(server, f"/health?token={TOKEN}").status == 200
            assert time.monotonic() - started < 2.0
        events = get(server, "/events", {"Authorization": f"Bearer {TOKEN}"})
        assert events.status == 200 and events.getheader("Content-Type") == "text/event-stream"
        events.close()
        for client, opened in zip(attack.sockets, attack.opened, strict=True):
            assert closed_by_server(client, within=5.0)
            assert time.monotonic() - opened < 1.0 + 2.0  # the deadline, not the 5 s between bytes


def test_the_longest_waiting_connection_makes_room(slowloris: list[Slowloris], monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond MAX_WAITING connections still sending headers, the oldest is dropped: a new one is always read."""
    monkeypatch.setattr(serve, "MAX_WAITING", 8)
    with LiveServer("127.0.0.1:0", token=TOKEN, max_clients=4, timeout=30.0, header_timeout=30.0) as server:
        attack = Slowloris(server, 20, every=1.0)
        slowloris.append(attack)
        time.sleep(0.3)
        assert get(server, f"/health?token={TOKEN}").status == 200
        assert all(closed_by_server(client, within=5.0) for client in attack.sockets[:12])


def one_connection(server: LiveServer, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
        client.sendall(request)
        answer = b""
        while chunk := client.recv(4096):
            answer += chunk
    return answer


HIDDEN = f"GET /health?token={TOKEN} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()


@pytest.mark.parametrize(
    "framing",
    [
        f"Content-Length: {len(HIDDEN)}\r\n\r\n".encode() + HIDDEN,
        b"Transfer-Encoding: chunked\r\n\r\n" + f"{len(HIDDEN):x}\r\n".encode() + HIDDEN + b"\r\n0\r\n\r\n",
    ],
    ids=["content-length", "chunked"],
)
def test_a_get_body_is_never_read_as_a_second_request(framing: bytes) -> None:
    with LiveServer("127.0.0.1:0", token=TOKEN) as server:
        answer = one_connection(
            server, f"GET /nothing?token={TOKEN} HTTP/1.1\r\nHost: localhost\r\n".encode() + framing
        )
    assert answer.count(b"HTTP/1.") == 1 and answer.startswith(b"HTTP/1.1 404")


@pytest.mark.parametrize(
    "face", ["%C2%B2", "%EF%BC%91", "-1", "1.0", ""], ids=["superscript-2", "fullwidth-1", "-1", "1.0", "none"]
)
def test_an_id_that_is_no_ascii_number_is_a_400(face: str) -> None:
    asked: list[int] = []
    with LiveServer("127.0.0.1:0", calibrate=lambda face: asked.append(face) or True) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("POST", f"/calibrate?id={face}", headers={"X-Write-Token": server.write_token})
        response = connection.getresponse()
        assert response.status == 400 and response.getheader("Content-Type") == "application/json"
        assert "id=N" in json.loads(response.read())["error"]
    assert asked == []


def test_a_token_with_a_plus_works_in_the_query_and_the_header() -> None:
    token = "a+b/c=="  # as base64 makes them
    with LiveServer("127.0.0.1:0", token=token) as server:
        assert get(server, "/health?token=a+b/c==").status == 200  # typed as it is
        assert get(server, "/health?token=a%2Bb%2Fc%3D%3D").status == 200  # encoded, as the page sends it
        assert get(server, "/health", {"Authorization": f"Bearer {token}"}).status == 200
        assert get(server, "/health?token=a%20b/c==").status == 401


class Meta(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: dict[str, str] = {}

    def handle_starttag(self, tag: str, attributes: list[tuple[str, str | None]]) -> None:
        if tag == "meta" and dict(attributes).get("name"):
            self.found[dict(attributes)["name"]] = dict(attributes).get("content") or ""


def test_a_token_with_html_characters_is_escaped_in_the_page() -> None:
    token = 'x"><script>alert(1)</script>&amp;'
    with LiveServer("127.0.0.1:0", token=token) as server:
        page = get(server, "/", {"Authorization": f"Bearer {token}"}).read().decode()
    parser = Meta()
    parser.feed(page)
    assert parser.found["write-token"] == token  # what the page's script reads from the meta
    assert "alert(1)</script>" not in page


@pytest.mark.parametrize("token", ["two words", "tab\there", "line\nbreak", "caf\u00e9"])
def test_a_token_that_cannot_travel_in_a_url_and_a_header_is_refused(token: str) -> None:
    with pytest.raises(EdgeEmotionError, match="printable ASCII without spaces"):
        LiveServer("127.0.0.1:0", token=token)


@pytest.mark.parametrize("path", ["/", "/health", "/nothing"])
def test_no_answer_can_be_framed_by_another_page(path: str) -> None:
    with LiveServer("127.0.0.1:0") as server:
        response = get(server, path)
    assert response.getheader("X-Frame-Options") == "DENY"
    assert response.getheader("Content-Security-Policy") == "frame-ancestors 'none'"


@pytest.mark.skipif(shutil.which("node") is None, reason="runs the page's token lines in Node.js, not installed here")
def test_the_page_passes_a_plus_in_its_token_on_as_a_plus() -> None:
    page = (resources.files("edge_emotion.device.io") / "web" / "index.html").read_text()
    lines = [line for line in page.splitlines() if line.startswith("const token =")]
    start = page.index("const withToken =")
    lines.append(page[start : page.index(";\n", start) + 1])
    script = (
        'const location = {search: "?token=a+b%2Fc"};\n' + "\n".join(lines) + "\nconsole.log(withToken('/events'));"
    )
    run = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "/events?token=a%2Bb%2Fc"


SUMMARY = {"frames": 0, "seconds": 0.0, "fps": 0.0, "faces_detected": 0, "seconds_per_label": {},
           "frames_skipped": 0, "source_lost": False}  # fmt: skip


@pytest.fixture
def run_live(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """run_live replaced by one that keeps its arguments: no camera, no model."""
    calls: list[dict] = []

    def kept(settings: object, **secrets: object) -> dict:
        calls.append(secrets)
        return SUMMARY

    monkeypatch.setattr("edge_emotion.device.io.live.run_live", kept)
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    return calls


def token_file(folder: Path, text: str, mode: int = 0o600) -> Path:
    path = folder / "token"
    path.write_text(text)
    path.chmod(mode)
    return path


def run(*arguments: str, env: dict | None = None) -> tuple[int, list[str]]:
    result = runner.invoke(app, ["run", "--camera", "0", "--serve", "0.0.0.0:8080", *arguments], env=env)
    return result.exit_code, result.stderr.splitlines()


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), ("", "is empty"), ("\n \n", "is empty"), ("two words\n", "printable ASCII")],
    ids=["missing", "empty", "blank", "spaces"],
)
def test_a_bad_token_file_is_one_error_before_the_camera_opens(
    run_live: list[dict], tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "token" if content is None else token_file(tmp_path, content)
    code, lines = run("--token-file", str(path))
    assert code == 1 and run_live == []
    (line,) = lines
    assert line.startswith(f"error: --token-file {path}") and message in line


def test_a_token_file_is_read_without_its_trailing_newline(run_live: list[dict], tmp_path: Path) -> None:
    code, lines = run("--token-file", str(token_file(tmp_path, "s3cret+/=\n")))
    assert code == 0 and run_live[0]["token"] == "s3cret+/="
    assert not [line for line in lines if line.startswith("warning:")]


def test_a_world_readable_token_file_is_a_warning_and_the_run_goes_on(run_live: list[dict], tmp_path: Path) -> None:
    path = token_file(tmp_path, "s3cret\n", 0o644)
    code, lines = run("--token-file", str(path))
    assert code == 0 and run_live[0]["token"] == "s3cret"
    (warning,) = [line for line in lines if line.startswith("warning:")]
    assert str(path) in warning and "chmod 600" in warning


def test_the_token_from_the_environment_and_which_wins(run_live: list[dict], tmp_path: Path) -> None:
    env = {TOKEN_ENV: "from-env"}
    assert run(env=env)[0] == 0 and run_live[-1]["token"] == "from-env"
    assert run("--token", "from-flag", env=env)[0] == 0 and run_live[-1]["token"] == "from-flag"
    assert run("--token-file", str(token_file(tmp_path, "from-file")), env=env)[0] == 0
    assert run_live[-1]["token"] == "from-file"
    calls = len(run_live)
    code, lines = run("--token", "from-flag", "--token-file", str(tmp_path / "token"))
    assert code == 1 and len(run_live) == calls
    (line,) = lines
    assert line.startswith("error: give one of --token and --token-file")


def test_a_token_file_serves_a_real_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end: the token read from the file is the one the server asks for (the run serves one image)."""
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    image = tmp_path / "grey.png"
    cv2.imwrite(str(image), np.full((64, 64, 3), 128, np.uint8))
    tokens: list[str | None] = []
    real = serve.LiveServer.__init__

    def keep(self: LiveServer, *args: object, **kwargs: object) -> None:
        real(self, *args, **kwargs)
        tokens.append(self.token)

    monkeypatch.setattr(serve.LiveServer, "__init__", keep)
    path = token_file(tmp_path, "from-file\n")
    result = runner.invoke(app, ["run", "--image", str(image), "--serve", "127.0.0.1:0", "--token-file", str(path)])
    assert result.exit_code == 0, result.output
    assert tokens == ["from-file"] and "?token=..." in result.stderr
