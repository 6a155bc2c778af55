"""React to emotions as they happen: read `edge-emotion run --serve` events and print when a face
turns from neutral to happy (the moment an assistant might smile back).

    edge-emotion run --camera 0 --serve 127.0.0.1:8080 &
    python examples/react_to_events.py http://127.0.0.1:8080 [--token SECRET]

Standard library only; the events are Server-Sent Events, one JSON frame event per message.
"""

import argparse
import json
import urllib.request
from collections.abc import Iterator


def events(url: str, token: str | None) -> Iterator[dict]:
    request = urllib.request.Request(f"{url.rstrip('/')}/events")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request) as stream:
        for raw in stream:
            line = raw.decode().strip()
            if line.startswith("data: "):
                yield json.loads(line.removeprefix("data: "))


def main() -> None:
    parser = argparse.ArgumentParser(description="Print when a face turns from neutral to happy.")
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:8080")
    parser.add_argument("--token")
    args = parser.parse_args()
    last_label: dict[int, str] = {}
    for event in events(args.url, args.token):
        for face in event["faces"]:
            before, now = last_label.get(face["id"]), face["label"]
            if before == "neutral" and now == "happy":
                print(f"frame {event['frame']}: face #{face['id']} smiled ({face['probabilities']['happy']:.0%} happy)")
            last_label[face["id"]] = now


if __name__ == "__main__":
    main()
