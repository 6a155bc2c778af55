"""Event sinks against a real broker and a real HTTP server: Debian's mosquitto on a free loopback port (skipped
where it is not installed) and http.server in a thread. The real clip's change events reach a subscriber in order,
the retained state and status and the last will are right, an outage loses nothing queued within the bound, and
neither a dead broker nor a dead web server holds up the loop."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge_emotion.cli import app
from edge_emotion.device.engine.recognizer import EmotionRecognizer
from edge_emotion.device.engine.settings import Outputs, RunSettings
from edge_emotion.device.io.live import run_live
from edge_emotion.device.io.loop import run_loop
from edge_emotion.device.io.sinks import (
    MQTT_PASSWORD_ENV,
    MqttSink,
    Sinks,
    WebhookSink,
    parse_mqtt_url,
    parse_webhook_url,
    resolve_mqtt_password,
)
from edge_emotion.device.io.sources import open_source
from edge_emotion.errors import EdgeEmotionError

pytestmark = pytest.mark.device  # no TensorFlow: run in the device install too

CLIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "clips" / "WolfgangLanger_Pexels.mp4"
MOSQUITTO = shutil.which("mosquitto") or next(
    (path for path in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(path, os.X_OK)), None
)
needs_mosquitto = pytest.mark.skipif(
    MOSQUITTO is None, reason="mosquitto is not installed (apt-get install mosquitto; .ci/run does)"
)
needs_clip = pytest.mark.skipif(not CLIP.is_file(), reason=f"the real clip {CLIP} is not there")
runner = CliRunner()

paho = pytest.importorskip("paho.mqtt.client", reason="paho-mqtt is not installed: pip install 'edge-emotion[mqtt]'")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, seconds: float = 10.0, what: str = "it") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds} s for {what}")
        time.sleep(0.02)


class Broker:
    """mosquitto on 127.0.0.1:``port`` from a generated config; ``kill`` and ``start`` again on the same port."""

    def __init__(self, folder: Path, port: int, passwords: Path | None = None) -> None:
        self.port, self.process = port, None
        self.config = folder / "mosquitto.conf"
        lines = [f"listener {port} 127.0.0.1", "user root", "persistence false"]
        if passwords is None:
            lines.append("allow_anonymous true")
        else:
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        self.config.write_text("\n".join(lines) + "\n")
        self.log = folder / "mosquitto.log"

    def start(self) -> "Broker":
        with self.log.open("a") as log:
            self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.02)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def url(self, prefix: str = "test/emotion", user: str = "") -> str:
        return f"mqtt://{user + '@' if user else ''}127.0.0.1:{self.port}/{prefix}"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto; .ci/run does)")
    running = Broker(tmp_path, free_port()).start()
    yield running
    running.kill()


@pytest.fixture
def auth_broker(tmp_path: Path) -> Iterator[Broker]:
    if MOSQUITTO is None or shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto and mosquitto_passwd are not installed (apt-get install mosquitto)")
    passwords = tmp_path / "passwords"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "pi", "s3cret pass"], check=True)
    running = Broker(tmp_path, free_port(), passwords).start()
    yield running
    running.kill()


class Subscriber:
    """A paho client on ``PREFIX/#`` that keeps (topic, payload, retained) in arrival order."""

    def __init__(self, port: int, prefix: str = "test/emotion") -> None:
        self.messages: list[tuple[str, str, bool]] = []
        self.subscribed = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2)
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload.decode(), m.retain))
        self.client.on_subscribe = lambda *args: self.subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"{prefix}/#", qos=1)
        self.client.loop_start()
        assert self.subscribed.wait(10), "no SUBACK"

    def on(self, name: str) -> list[str]:
        return [payload for topic, payload, _ in self.messages if topic.endswith("/" + name)]

    def events(self) -> list[dict]:
        skip = ("/state", "/status")
        return [json.loads(payload) for topic, payload, _ in self.messages if not topic.endswith(skip)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def change(number: int) -> dict:
    return {"event": "change", "id": 1, "time": number / 10, "from": "sad", "to": "happy", "confidence": 0.5,
            "frame": number}  # fmt: skip


def frame_line(number: int) -> dict:
    return {"event": "frame", "frame": number, "time": number / 10, "faces": []}


# --- URLs and secrets: checked before anything opens ---


def test_mqtt_urls() -> None:
    target = parse_mqtt_url("mqtts://pi@broker.local/home/living room/emotion/")
    assert (target.host, target.port, target.user, target.tls) == ("broker.local", 8883, "pi", True)
    assert target.prefix == "home/living room/emotion"
    assert parse_mqtt_url("mqtt://[::1]:1884/e").port == 1884
    assert parse_mqtt_url("mqtt://10.0.0.2/e").port == 1883
    for bad, said in [
        ("http://broker/e", "scheme"),
        ("mqtt:///e", "no broker host"),
        ("mqtt://broker", "topic prefix"),
        ("mqtt://broker/", "topic prefix"),
        ("mqtt://broker/home/#", "topic prefix"),
        ("mqtt://broker:port/e", "mqtt://"),
        ("mqtt://pi:hunter2@broker/e", "--mqtt-password-file"),
    ]:
        with pytest.raises(EdgeEmotionError, match=said) as error:
            parse_mqtt_url(bad)
        assert "hunter2" not in str(error.value)


def test_webhook_urls() -> None:
    assert parse_webhook_url("https://ha.local:8123/api/webhook/x") == "https://ha.local:8123/api/webhook/x"
    for bad in ("ftp://host/x", "http:///x", "localhost:8000", "http://host:port/x"):
        with pytest.raises(EdgeEmotionError, match="--webhook"):
            parse_webhook_url(bad)


def test_the_mqtt_password_comes_from_a_file_or_the_environment(tmp_path: Path) -> None:
    url = "mqtt://pi@broker/e"
    assert resolve_mqtt_password(url, None, {MQTT_PASSWORD_ENV: "from env"}) == ("from env", None)
    assert resolve_mqtt_password(url, None, {}) == (None, None)
    secret = tmp_path / "secret"
    secret.write_text("from file\n")
    secret.chmod(0o600)
    assert resolve_mqtt_password(url, secret, {MQTT_PASSWORD_ENV: "from env"}) == ("from file", None)
    secret.chmod(0o644)
    password, warning = resolve_mqtt_password(url, secret, {})
    assert password == "from file" and "chmod 600" in warning
    with pytest.raises(EdgeEmotionError, match="no such file"):
        resolve_mqtt_password(url, tmp_path / "missing", {})
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(EdgeEmotionError, match="is empty"):
        resolve_mqtt_password(url, tmp_path / "empty", {})
    with pytest.raises(EdgeEmotionError, match="needs --mqtt"):
        resolve_mqtt_password(None, secret, {})


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--mqtt", "mqtt://pi:hunter2@127.0.0.1/e"], "EDGE_EMOTION_MQTT_PASSWORD"),
        (["--mqtt", "tcp://127.0.0.1/e"], "scheme must be mqtt"),
        (["--mqtt", "mqtt://127.0.0.1"], "topic prefix"),
        (["--webhook", "127.0.0.1:9/x"], "--webhook"),
        (["--mqtt", "mqtt://127.0.0.1:{port}/e"], "cannot reach the MQTT broker 127.0.0.1:{port}"),
        (["--mqtt", "mqtt://pi@127.0.0.1/e", "--mqtt-password-file", "/nonexistent/pw"], "no such file"),
    ],
)
def test_bad_sinks_are_one_line_before_the_camera_opens(flags: list[str], said: str) -> None:
    port = free_port()  # nothing listens there
    flags = [flag.format(port=port) for flag in flags]
    # camera 99 does not exist: the sink's error must come first
    result = runner.invoke(app, ["run", "--camera", "99", *flags])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and said.format(port=port) in lines[0], lines
    assert "hunter2" not in result.output


def test_a_missing_mqtt_extra_is_one_line_with_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "paho", None)
    monkeypatch.setitem(sys.modules, "paho.mqtt", None)
    result = runner.invoke(app, ["run", "--camera", "99", "--mqtt", "mqtt://127.0.0.1/e"])
    assert result.exit_code == 1
    assert result.output.strip() == "error: --mqtt needs paho-mqtt 2: pip install 'edge-emotion[mqtt]'"


# --- MQTT against mosquitto ---


@needs_mosquitto
@needs_clip
def test_every_change_of_the_real_clip_reaches_mqtt_and_the_webhook_in_order(broker: Broker, tmp_path: Path) -> None:
    subscriber = Subscriber(broker.port)
    with Hook() as hook:
        outputs = Outputs(events=tmp_path / "events.jsonl", events_mode="changes")
        summary = run_live(RunSettings(video=CLIP, outputs=outputs, mqtt=broker.url(), webhook=hook.url))
    written = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()[1:]]
    changes = [event for event in written if event["event"] == "change"]
    assert changes, "the clip has changes of expression"
    wait_for(lambda: "offline" in subscriber.on("status"), what="the status going offline")
    assert subscriber.events() == written  # every line of --events, in order, and no frame lines (changes mode)
    assert [json.loads(p) for p in subscriber.on("change")] == changes
    assert subscriber.on("status") == ["online", "offline"]
    assert hook.received == changes  # the webhook gets the changes only
    assert summary["mqtt"]["dropped"] == summary["mqtt"]["unsent"] == 0
    assert summary["webhook"] == {"posted": len(changes), "dropped": 0, "unsent": 0, "refused": 0, "retries": 0}
    subscriber.close()

    late = Subscriber(broker.port)  # joins after the run: the retained topics only
    wait_for(lambda: late.on("state") and late.on("status"), what="the retained messages")
    assert all(retained for _, _, retained in late.messages)
    assert late.on("status") == ["offline"]
    state = json.loads(late.on("state")[-1])
    last = written[-1]
    assert state["frame"] == last["frame"]
    assert [face["id"] for face in state["faces"]] == [1]
    assert state["faces"][0]["label"] == changes[-1]["to"]
    late.close()


@needs_mosquitto
def test_the_state_follows_faces_coming_changing_and_going(broker: Broker) -> None:
    sink = MqttSink(parse_mqtt_url(broker.url()), mode="all")
    subscriber = Subscriber(broker.port)
    enter = {"event": "face_enter", "id": 2, "time": 0.1, "label": "sad", "confidence": 0.4, "frame": 1}
    sink.publish(frame_line(1), [enter])
    sink.publish(frame_line(2), [{**change(2), "id": 2}])
    sink.publish(frame_line(3), [{"event": "face_leave", "id": 2, "time": 0.3, "label": "happy", "frame": 3,
                                  "confidence": 0.5}])  # fmt: skip
    sink.close()
    wait_for(lambda: "offline" in subscriber.on("status"))
    states = [json.loads(payload)["faces"] for payload in subscriber.on("state")]
    assert states == [[{"id": 2, "label": "sad", "confidence": 0.4}], [{"id": 2, "label": "happy", "confidence": 0.5}],
                      []]  # fmt: skip
    assert [json.loads(p)["frame"] for p in subscriber.on("frame")] == [1, 2, 3]  # mode all: frame lines too
    subscriber.close()


@needs_mosquitto
def test_the_last_will_says_offline_when_the_process_dies(broker: Broker) -> None:
    subscriber = Subscriber(broker.port)
    code = (
        "import sys, time\n"
        "from edge_emotion.device.io.sinks import MqttSink, parse_mqtt_url\n"
        f"sink = MqttSink(parse_mqtt_url({broker.url()!r}))\n"
        "print('connected', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "connected"
        wait_for(lambda: subscriber.on("status") == ["online"], what="online")
    finally:
        process.kill()  # no clean disconnect: the broker sends the will
        process.wait()
    wait_for(lambda: subscriber.on("status") == ["online", "offline"], what="the last will")
    subscriber.close()


@needs_mosquitto
def test_a_broker_outage_loses_none_of_the_events_queued_within_the_bound(broker: Broker) -> None:
    sink = MqttSink(parse_mqtt_url(broker.url()), mode="changes", queue=20, reconnect=(1, 4))
    before = Subscriber(broker.port)
    sink.publish(frame_line(0), [change(0)])
    wait_for(lambda: before.on("change"), what="the first change")
    before.close()
    wait_for(lambda: sink.waiting() == 0, what="the broker to acknowledge the first change and state")

    broker.kill()
    wait_for(lambda: not sink.client.is_connected(), what="the sink to see the broker gone")
    started = time.perf_counter()
    for number in range(1, 16):  # each a change and a state: 30 messages for a bound of 20
        sink.publish(frame_line(number), [change(number)])
    assert time.perf_counter() - started < 0.5, "publishing waited for the dead broker"
    assert sink.dropped == 10

    broker.start()  # the same port; the sink comes back after its back-off (1 s), after this subscriber
    after = Subscriber(broker.port)
    wait_for(lambda: len(after.on("change")) == 10, what="the queued changes")
    assert [json.loads(p)["frame"] for p in after.on("change")] == list(range(1, 11))  # the first ten, in order
    summary = sink.close()
    assert summary["reconnects"] == 1 and summary["dropped"] == 10 and summary["unsent"] == 0
    wait_for(lambda: "offline" in after.on("status"))
    assert json.loads(after.on("state")[-1])["frame"] == 10
    after.close()


@needs_mosquitto
@needs_clip
def test_a_dead_broker_does_not_slow_the_loop(broker: Broker) -> None:
    def run(sinks: Sinks | None) -> tuple[float, dict]:
        recognizer = EmotionRecognizer(None, track=True)
        source = open_source(video=CLIP)
        started = time.perf_counter()
        summary = run_loop(source, recognizer, Outputs(events=Path(os.devnull), max_frames=200), sinks=sinks)
        if sinks is not None:
            summary.update(sinks.close())
        return time.perf_counter() - started, summary

    run(None)  # warm up the model and the file cache
    without, _ = run(None)
    sink = MqttSink(parse_mqtt_url(broker.url()), mode="all")
    broker.kill()
    wait_for(lambda: not sink.client.is_connected())
    with_dead, summary = run(Sinks([sink]))
    assert summary["frames"] == 200
    assert summary["mqtt"]["dropped"] >= 200  # every frame line (QoS 0) while the broker was away
    assert with_dead < 2 * without + 2.0, (with_dead, without)  # a stall would be seconds per reconnect


@needs_mosquitto
def test_a_password_logs_in_and_a_wrong_one_is_refused(auth_broker: Broker, tmp_path: Path) -> None:
    target = parse_mqtt_url(auth_broker.url(user="pi"))
    MqttSink(target, password="s3cret pass").close()
    with pytest.raises(EdgeEmotionError, match=r"refused the connection.*EDGE_EMOTION_MQTT_PASSWORD"):
        MqttSink(target, password="wrong")
    with pytest.raises(EdgeEmotionError, match="refused"):
        MqttSink(parse_mqtt_url(auth_broker.url()))  # anonymous
    secret = tmp_path / "pw"
    secret.write_text("s3cret pass\n")
    secret.chmod(0o600)
    result = runner.invoke(
        app,
        ["run", "--image", str(tmp_path / "none.png"), "--mqtt", auth_broker.url(user="pi"),
         "--mqtt-password-file", str(secret)],
    )  # fmt: skip
    assert result.exit_code == 1 and "none.png" in result.output and "broker" not in result.output  # logged in


@needs_mosquitto
def test_mqtt_wait_waits_for_a_broker_that_comes_up(tmp_path: Path) -> None:
    late = Broker(tmp_path, free_port())
    threading.Timer(1.0, late.start).start()
    try:
        sink = MqttSink(parse_mqtt_url(late.url()), wait=10)
        assert sink.close()["dropped"] == 0
    finally:
        time.sleep(0.1)
        late.kill()


@needs_mosquitto
def test_the_example_subscriber_reacts_to_a_change(broker: Broker) -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "mqtt_subscriber.py"
    process = subprocess.Popen([sys.executable, str(example), broker.url()], stdout=subprocess.PIPE, text=True)
    try:
        sink = MqttSink(parse_mqtt_url(broker.url()), mode="changes")
        assert process.stdout.readline().strip() == "edge-emotion is online"
        sink.publish(frame_line(1), [change(1)])
        assert process.stdout.readline().strip() == "face 1: sad -> happy (50%) glad to see you smile"
        assert process.stdout.readline().strip() == "in view: #1 happy"
        sink.close()
        assert process.stdout.readline().strip() == "edge-emotion is offline"
    finally:
        process.kill()
        process.wait()


# --- the webhook against http.server ---


class Hook:
    """An HTTP server on a free loopback port that keeps the JSON bodies POSTed to it; ``status`` answers."""

    def __init__(self, port: int | None = None, status: int = 200) -> None:
        self.received: list[dict] = []
        self.status = status
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if hook.status == 200:
                    hook.received.append(json.loads(body))
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port or 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> "Hook":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_webhook_posts_change_events_only_in_order() -> None:
    with Hook() as hook:
        sink = WebhookSink(hook.url)
        for number in range(5):
            sink.publish(frame_line(number), [{"event": "face_enter", "id": 1}, change(number)])
        summary = sink.close()
    assert hook.received == [change(number) for number in range(5)]
    assert summary == {"posted": 5, "dropped": 0, "unsent": 0, "refused": 0, "retries": 0}


def test_a_webhook_down_then_up_gets_every_change_by_retries() -> None:
    port = free_port()
    sink = WebhookSink(f"http://127.0.0.1:{port}/hook", backoff=(0.05, 0.2))
    for number in range(3):
        sink.publish(frame_line(number), [change(number)])
    wait_for(lambda: sink.retries >= 2, what="retries")
    with Hook(port) as hook:
        wait_for(lambda: len(hook.received) == 3, what="the posts")
        summary = sink.close()
    assert hook.received == [change(number) for number in range(3)]
    assert summary["posted"] == 3 and summary["retries"] >= 2 and summary["unsent"] == 0


def test_a_failing_webhook_is_retried_and_a_refusing_one_is_not() -> None:
    with Hook(status=503) as hook:
        sink = WebhookSink(hook.url, backoff=(0.05, 0.1))
        sink.publish(frame_line(0), [change(0)])
        wait_for(lambda: sink.retries >= 2)
        hook.status = 200
        wait_for(lambda: hook.received == [change(0)])
        hook.status = 404
        sink.publish(frame_line(1), [change(1)])
        summary = sink.close()
    assert summary["posted"] == 1 and summary["refused"] == 1


def test_a_dead_webhook_never_blocks_the_caller() -> None:
    with socket.socket() as hole:  # listens, never answers: each post waits for its timeout
        hole.bind(("127.0.0.1", 0))
        hole.listen(1)
        sink = WebhookSink(f"http://127.0.0.1:{hole.getsockname()[1]}/hook", queue_size=50, timeout=2.0)
        started = time.perf_counter()
        for number in range(2000):
            sink.publish(frame_line(number), [change(number)])
        assert time.perf_counter() - started < 0.5
        started = time.perf_counter()
        summary = sink.close()
        assert time.perf_counter() - started < 3.0
    assert summary["posted"] == 0 and summary["dropped"] >= 1949 and summary["unsent"] >= 50
