"""Event sinks beside ``--events``: an MQTT broker (``--mqtt``) and a webhook (``--webhook``).

The loop hands each frame's events to ``Sinks.publish`` and never waits on the network: MQTT
messages go into paho's bounded queue (its own thread sends them, reconnecting with back-off),
webhook posts into a bounded queue that a worker thread empties. What does not fit is dropped and
counted, and ``Sinks.close`` returns the counts for the run's summary.

MQTT topics under the URL's prefix: ``PREFIX/<event>`` for each event that ``--events-mode`` keeps
(``frame``, ``face_enter``, ``change``, ``face_leave``, ``calibrated``; the same JSON as ``--events``),
a retained ``PREFIX/state`` with the faces in view after each enter, change or leave, and a retained
``PREFIX/status``: ``online`` once connected, ``offline`` at the end or, as the broker's last will,
when the connection dies. Frame lines are QoS 0 (sent while connected, dropped while not); the
others are QoS 1 and wait in the queue through an outage, then go out in order.
"""

import contextlib
import json
import logging
import os
import queue
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from edge_emotion.device.engine.settings import check_mode
from edge_emotion.device.io.events import selected
from edge_emotion.device.io.secret_file import read_secret_file
from edge_emotion.errors import EdgeEmotionError

log = logging.getLogger(__name__)
MQTT_PASSWORD_ENV = "EDGE_EMOTION_MQTT_PASSWORD"
MQTT_HINT = "pip install 'edge-emotion[mqtt]'"
QUEUE = 1000  # messages (MQTT) or posts (webhook) waiting at most; more are dropped and counted
STATE_EVENTS = ("face_enter", "change", "face_leave", "calibrated")


@dataclass(frozen=True)
class MqttTarget:
    """Where ``--mqtt`` publishes: ``mqtt[s]://[user@]host[:port]/prefix``."""

    host: str
    port: int
    prefix: str
    user: str | None = None
    tls: bool = False

    def __str__(self) -> str:
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.user}@" if self.user else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{user}{host}:{self.port}/{self.prefix}"


def masked(url: str) -> str:
    """``url`` with any password in it replaced by ``***``, to show in a message."""
    scheme, slashes, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    user, at, host = authority.rpartition("@")
    if at and ":" in user:
        user = user.split(":", 1)[0] + ":***"
    return f"{scheme}{slashes}{user}{at}{host}{slash}{path}" if slashes else url


def parse_mqtt_url(url: str) -> MqttTarget:
    """``mqtt://[user@]host[:port]/topic/prefix`` (port 1883) or ``mqtts://`` (TLS, port 8883). A password in
    the URL is refused: every local user sees a command line in ``ps``."""
    usage = "use mqtt://[USER@]HOST[:PORT]/TOPIC-PREFIX (or mqtts:// for TLS), e.g. mqtt://broker.local/home/emotion"
    url = masked(url)  # what the errors show
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise EdgeEmotionError(f"--mqtt {url}: {error}; {usage}") from None
    if parts.scheme not in ("mqtt", "mqtts"):
        raise EdgeEmotionError(f"--mqtt {url}: the scheme must be mqtt or mqtts; {usage}")
    if parts.password is not None:
        raise EdgeEmotionError(
            f"--mqtt {url}: no password in the URL (every user sees it in ps); put it in a file for "
            f"--mqtt-password-file (chmod 600) or in the {MQTT_PASSWORD_ENV} environment variable"
        )
    if not parts.hostname:
        raise EdgeEmotionError(f"--mqtt {url}: no broker host; {usage}")
    prefix = parts.path.strip("/")
    if not prefix or "?" in url or "#" in url or any(c in prefix for c in "+\0"):
        raise EdgeEmotionError(f"--mqtt {url}: give a topic prefix without + or # after the host; {usage}")
    tls = parts.scheme == "mqtts"
    user = unquote(parts.username) if parts.username else None
    return MqttTarget(parts.hostname, port or (8883 if tls else 1883), unquote(prefix), user, tls)


def parse_webhook_url(url: str) -> str:
    """An http:// or https:// URL with a host."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError as error:
        raise EdgeEmotionError(f"--webhook {url}: {error}; use http(s)://HOST[:PORT]/PATH") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EdgeEmotionError(f"--webhook {url}: use http(s)://HOST[:PORT]/PATH, e.g. http://homeassistant:8123/...")
    return url


def resolve_mqtt_password(
    mqtt: str | None, password_file: Path | None, environ: Mapping[str, str] = os.environ
) -> tuple[str | None, str | None]:
    """The broker's password, from ``--mqtt-password-file`` or ``EDGE_EMOTION_MQTT_PASSWORD`` (the file wins),
    and a warning to show, if any."""
    if password_file is not None and not mqtt:
        raise EdgeEmotionError("--mqtt-password-file needs --mqtt mqtt://USER@HOST/PREFIX")
    if not mqtt:
        return None, None
    if password_file is not None:
        return read_secret_file(password_file, "--mqtt-password-file", "password", strip="\r\n")
    return environ.get(MQTT_PASSWORD_ENV) or None, None


def import_paho() -> Any:
    try:
        from paho.mqtt import client as paho
    except ImportError:
        raise EdgeEmotionError(f"--mqtt needs paho-mqtt 2: {MQTT_HINT}") from None
    if not hasattr(paho, "CallbackAPIVersion"):
        raise EdgeEmotionError(f"--mqtt needs paho-mqtt 2 or newer (this is 1.x): {MQTT_HINT} --upgrade")
    return paho


class MqttSink:
    """Publishes a run's events to an MQTT broker (see the module's docstring for the topics).

    Connects before the run starts (``wait`` seconds of retries; an unreachable broker or a refused login is
    an error), then never blocks the caller: paho's thread sends, reconnects with back-off between
    ``reconnect`` seconds, and keeps up to ``queue`` QoS 1 messages through an outage."""

    name = "mqtt"

    def __init__(
        self,
        target: MqttTarget,
        *,
        password: str | None = None,
        mode: str = "all",
        wait: float = 0.0,
        queue: int = QUEUE,
        reconnect: tuple[int, int] = (1, 30),
        timeout: float = 5.0,
    ) -> None:
        check_mode(mode)
        if password is not None and not target.user:
            raise EdgeEmotionError(f"--mqtt {target}: a password needs a user: mqtt://USER@{target.host}/...")
        paho = import_paho()
        self.target, self.mode, self.paho = target, mode, paho
        self.faces: dict[int, dict] = {}  # the faces in view, by id, for PREFIX/state
        self.state: str | None = None  # the last state sent, sent again after a reconnect
        self.published = self.dropped = self.reconnects = self.connects = 0
        self.refused: str | None = None
        self.summary: dict | None = None
        self.connected = threading.Event()
        client_id = f"edge-emotion-{socket.gethostname()}-{os.getpid()}"
        self.client = client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id)
        if target.user:
            client.username_pw_set(target.user, password)
        if target.tls:
            client.tls_set()
        client.will_set(self.topic("status"), "offline", qos=1, retain=True)
        client.reconnect_delay_set(*reconnect)
        self.queue = queue
        client.max_queued_messages_set(queue + 8)  # room above the bound for the status and state sent on connect
        client.connect_timeout = timeout
        client.on_connect, client.on_disconnect, client.on_publish = self._on_connect, self._on_disconnect, self._sent
        self._connect(wait, timeout)

    def topic(self, name: str) -> str:
        return f"{self.target.prefix}/{name}"

    def _connect(self, wait: float, timeout: float) -> None:
        """Connect before the run starts, trying again for ``wait`` seconds; then paho's thread keeps it up."""
        deadline = time.monotonic() + wait
        while True:
            try:
                self.client.connect(self.target.host, self.target.port, keepalive=30)
                break
            except (OSError, UnicodeError) as error:  # refused, unknown host, TLS, timeout
                if time.monotonic() >= deadline:
                    reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
                    waited = f" after {wait:g} s" if wait else ""
                    raise EdgeEmotionError(
                        f"cannot reach the MQTT broker {self.target.host}:{self.target.port}{waited} ({reason}); "
                        "start it, check --mqtt, or give --mqtt-wait SECONDS to wait for it"
                    ) from None
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        self.client.loop_start()
        if not self.connected.wait(timeout) or self.refused:
            self.client.loop_stop()
            self.client.disconnect()
            why = f"refused the connection ({self.refused})" if self.refused else f"did not answer in {timeout:g} s"
            login = f"; check the user and {MQTT_PASSWORD_ENV} or --mqtt-password-file" if self.refused else ""
            raise EdgeEmotionError(f"the MQTT broker {self.target.host}:{self.target.port} {why}{login}")

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            if not self.connected.is_set():  # at start: an error; later paho tries again
                self.refused = str(reason)
                self.connected.set()
            return
        self.connects += 1
        self.reconnects = self.connects - 1
        client.publish(self.topic("status"), "online", qos=1, retain=True)
        if self.state is not None and self.connects > 1:  # a restarted broker may have lost it
            client.publish(self.topic("state"), self.state, qos=1, retain=True)
        self.connected.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        log.info("MQTT broker %s:%s gone (%s); reconnecting", self.target.host, self.target.port, reason)

    def _sent(self, client: Any, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        self.published += 1  # paho's thread only

    def waiting(self) -> int:
        """QoS 1 messages not yet acknowledged: paho keeps them until the broker's PUBACK."""
        return len(getattr(self.client, "_out_messages", ()))

    def _send(self, topic: str, payload: str, qos: int, retain: bool = False) -> None:
        if qos and self.waiting() >= self.queue:
            self.dropped += 1
            return
        info = self.client.publish(self.topic(topic), payload, qos=qos, retain=retain)
        if info.rc == self.paho.MQTT_ERR_QUEUE_SIZE or (qos == 0 and info.rc != self.paho.MQTT_ERR_SUCCESS):
            self.dropped += 1

    def publish(self, frame: dict, typed: list[dict]) -> None:
        """One frame's events: those ``mode`` keeps on ``PREFIX/<event>``, then the state if a face came, changed
        or went. Never waits."""
        for event in selected(self.mode, frame, typed):
            kind = event["event"]
            self._send(kind, json.dumps(event, allow_nan=False), 0 if kind == "frame" else 1)
        if any(event["event"] in STATE_EVENTS for event in typed):
            for event in typed:
                if event["event"] == "face_leave":
                    self.faces.pop(event["id"], None)
                elif event["event"] in STATE_EVENTS:
                    label = event.get("to", event.get("label"))
                    self.faces[event["id"]] = {"id": event["id"], "label": label, "confidence": event["confidence"]}
            last = typed[-1]
            state = {"time": last["time"], "frame": last["frame"], "faces": list(self.faces.values())}
            self.state = json.dumps(state, allow_nan=False)
            self._send("state", self.state, 1, retain=True)

    def close(self, drain: float = 5.0) -> dict:
        """``offline`` on the status, the queue sent for up to ``drain`` seconds while connected; the counts."""
        if self.summary is not None:
            return self.summary
        client = self.client
        offline = client.publish(self.topic("status"), "offline", qos=1, retain=True)
        sent = False
        with contextlib.suppress(RuntimeError, ValueError):  # not connected, or the queue full
            if client.is_connected():
                offline.wait_for_publish(drain)
            sent = offline.is_published()
        unsent = self.waiting() - (not sent and offline.rc != self.paho.MQTT_ERR_QUEUE_SIZE)
        client.disconnect()
        client.loop_stop()
        self.summary = {
            "published": self.published,
            "dropped": self.dropped,
            "unsent": max(0, unsent),
            "reconnects": self.reconnects,
        }
        return self.summary


class WebhookSink:
    """POSTs each ``change`` event as JSON to ``url`` from a worker thread: in order, each retried with back-off
    (``backoff`` seconds, doubling) until the server takes it; up to ``queue`` waiting, more dropped and counted.
    A post that the server refuses (4xx other than 408 and 429) is not retried: it is counted as refused."""

    name = "webhook"

    def __init__(
        self, url: str, *, queue_size: int = QUEUE, timeout: float = 5.0, backoff: tuple[float, float] = (0.5, 30.0)
    ) -> None:
        self.url, self.timeout, self.backoff = parse_webhook_url(url), timeout, backoff
        self.queue: queue.Queue[dict] = queue.Queue(queue_size)
        self.posted = self.dropped = self.refused = self.retries = 0
        self.busy = False  # the worker holds a post it has not delivered yet
        self.healthy = True  # the last try reached the server
        self.stop = threading.Event()
        self.worker = threading.Thread(target=self._work, name="edge-emotion webhook", daemon=True)
        self.worker.start()

    def publish(self, frame: dict, typed: list[dict]) -> None:
        for event in typed:
            if event["event"] == "change":
                try:
                    self.queue.put_nowait(event)
                except queue.Full:
                    self.dropped += 1

    def _work(self) -> None:
        while not self.stop.is_set():
            try:
                event = self.queue.get(timeout=0.2)
            except queue.Empty:
                continue
            self.busy = True
            delay = self.backoff[0]
            while not self._post(event):
                self.retries += 1
                if self.stop.wait(delay):
                    return
                delay = min(delay * 2, self.backoff[1])
            self.busy = False

    def _post(self, event: dict) -> bool:
        """True when done with ``event``: taken, or refused for good."""
        data = json.dumps(event, allow_nan=False).encode()
        request = urllib.request.Request(
            self.url, data, {"Content-Type": "application/json", "User-Agent": "edge-emotion"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as error:
            self.healthy = True
            if error.code in (408, 429) or error.code >= 500:
                log.info("webhook %s answered %s; trying again", self.url, error.code)
                return False
            log.warning("webhook %s refused a change event (%s %s)", self.url, error.code, error.reason)
            self.refused += 1
            return True
        except (OSError, ValueError) as error:  # refused, unreachable, timed out, a broken answer
            self.healthy = False
            log.info("webhook %s: %s; trying again", self.url, error)
            return False
        self.healthy = True
        self.posted += 1
        return True

    def close(self, drain: float = 5.0) -> dict:
        """The waiting posts sent for up to ``drain`` seconds while the server answers; the counts."""
        deadline = time.monotonic() + drain
        while (self.busy or not self.queue.empty()) and self.healthy and time.monotonic() < deadline:
            time.sleep(0.02)
        self.stop.set()  # a post under way finishes in the (daemon) worker; nothing waits for it
        return {
            "posted": self.posted,
            "dropped": self.dropped,
            "unsent": self.queue.qsize() + self.busy,
            "refused": self.refused,
            "retries": self.retries,
        }


class Sinks:
    """The sinks of one run: each frame's events go to all, ``close`` gathers their counts by name."""

    def __init__(self, sinks: Iterable[MqttSink | WebhookSink] = ()) -> None:
        self.sinks = list(sinks)
        self.closed: dict[str, dict] | None = None

    def publish(self, frame: dict, typed: list[dict]) -> None:
        for sink in self.sinks:
            sink.publish(frame, typed)

    def close(self) -> dict[str, dict]:
        if self.closed is None:
            self.closed = {}
            for sink in self.sinks:
                self.closed[sink.name] = sink.close()
        return self.closed

    def __enter__(self) -> "Sinks":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_sinks(
    *,
    mqtt: str | None = None,
    mqtt_password: str | None = None,
    mqtt_wait: float = 0.0,
    webhook: str | None = None,
    events_mode: str = "all",
) -> Sinks:
    """The run's sinks, every URL checked and the broker connected (an error otherwise), before the camera opens."""
    target = parse_mqtt_url(mqtt) if mqtt else None
    if webhook:
        parse_webhook_url(webhook)
    if not 0.0 <= mqtt_wait <= 3600.0:
        raise EdgeEmotionError(f"--mqtt-wait takes 0 to 3600 seconds, got {mqtt_wait}")
    sinks = Sinks()
    try:
        if target is not None:
            sinks.sinks.append(MqttSink(target, password=mqtt_password, mode=events_mode, wait=mqtt_wait))
        if webhook:
            sinks.sinks.append(WebhookSink(webhook))
    except BaseException:
        sinks.close()
        raise
    return sinks
