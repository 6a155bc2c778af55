"""React to edge-emotion's change events over MQTT: a small subscriber, and the shape Home Assistant and Node-RED see.

    edge-emotion run --camera 0 --mqtt mqtt://broker.local/home/emotion --events-mode changes
    python mqtt_subscriber.py mqtt://broker.local/home/emotion        # needs: pip install 'paho-mqtt>=2'

Topics under the prefix: ``change`` ({"event", "id", "time", "from", "to", "confidence", "frame"}), ``face_enter``,
``face_leave``, ``calibrated``, a retained ``state`` ({"time", "frame", "faces": [{"id", "label", "confidence"}]})
and a retained ``status`` (online / offline, the last will).

Home Assistant (configuration.yaml) reads the retained state and status as a sensor:

    mqtt:
      sensor:
        - name: "Emotion"
          state_topic: "home/emotion/state"
          value_template: "{{ value_json.faces[0].label if value_json.faces else 'nobody' }}"
          availability_topic: "home/emotion/status"
          payload_available: "online"
          payload_not_available: "offline"

and an automation can trigger on the ``home/emotion/change`` topic with ``trigger.payload_json.to``.
In Node-RED: an "mqtt in" node on ``home/emotion/change`` with output "a parsed JSON object", then a
switch node on ``msg.payload.to``.
"""

import argparse
import json
import os
import sys
from urllib.parse import urlsplit

try:
    from paho.mqtt import client as mqtt
except ImportError:
    sys.exit("this example needs paho-mqtt 2: pip install 'paho-mqtt>=2'")

GREETINGS = {"happy": "glad to see you smile", "sad": "cheer up", "angry": "take a breath", "surprise": "oh!"}


def react(change: dict) -> None:
    """What to do on a change of expression: here, say something; in a home, dim a light or play a song."""
    saying = GREETINGS.get(change["to"], "")
    print(f"face {change['id']}: {change['from']} -> {change['to']} ({change['confidence']:.0%}) {saying}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="Print and react to edge-emotion's change events.")
    parser.add_argument("url", help="the same mqtt://[USER@]HOST[:PORT]/PREFIX as run --mqtt")
    args = parser.parse_args()
    parts = urlsplit(args.url)
    prefix = parts.path.strip("/")

    def on_connect(client: mqtt.Client, userdata: object, flags: object, reason: object, properties: object) -> None:
        client.subscribe([(f"{prefix}/change", 1), (f"{prefix}/status", 1), (f"{prefix}/state", 1)])

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        topic = message.topic.removeprefix(prefix + "/")
        if topic == "status":
            print(f"edge-emotion is {message.payload.decode()}", flush=True)
        elif topic == "state":
            faces = json.loads(message.payload)["faces"]
            print("in view: " + (", ".join(f"#{f['id']} {f['label']}" for f in faces) or "nobody"), flush=True)
        else:
            react(json.loads(message.payload))

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    if parts.username:
        client.username_pw_set(parts.username, os.environ.get("EDGE_EMOTION_MQTT_PASSWORD"))
    if parts.scheme == "mqtts":
        client.tls_set()
    client.on_connect, client.on_message = on_connect, on_message
    client.connect(parts.hostname, parts.port or (8883 if parts.scheme == "mqtts" else 1883))
    try:
        client.loop_forever()  # reconnects by itself
    except KeyboardInterrupt:
        client.disconnect()


if __name__ == "__main__":
    main()
