"""React when a face starts smiling: a client of the `change` events of `edge-emotion run --serve`.

    edge-emotion run --camera 0 --serve 127.0.0.1:8080 &
    python examples/react_to_events.py http://127.0.0.1:8080/events   # add ?token=SECRET if served with one

Standard library only. Every Server-Sent Event carries one JSON event; `change` says which face
moved from which emotion to which, once per real change (not once per frame).
"""

import json
import sys
import urllib.request

url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080/events"
for line in urllib.request.urlopen(url):
    event = json.loads(line[6:]) if line.startswith(b"data: ") else {}
    if event.get("event") == "change" and event["to"] == "happy":
        print(f"face #{event['id']} smiled ({event['from']} -> happy, {event['confidence']:.0%}) at {event['time']} s")
