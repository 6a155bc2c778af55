"""What `run` tells about the real clip: its typed events and its summary, as a user sees them.

    python benchmarks/clip_events.py [--clip ../shared/data/clips/WolfgangLanger_Pexels.mp4] [--model fast]

Runs `edge-emotion run --video CLIP --events-mode changes` as a user would and keeps its event
lines and the summary it prints for a person, so the samples in the README and docs are copied
from a rerun, not from memory. Event lines are deterministic for a given model; the frame rate
in the summary is this machine's.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

from common import CLIPS, save

CLIP = CLIPS / "WolfgangLanger_Pexels.mp4"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=CLIP)
    parser.add_argument("--model", default="fast")
    args = parser.parse_args()
    command = ["edge-emotion", "run", "--video", str(args.clip), "--events-mode", "changes", "--model", args.model]
    ran = subprocess.run(
        [str(Path(sys.executable).parent / "edge-emotion"), *command[1:]], capture_output=True, text=True, check=True
    )
    lines = [json.loads(line) for line in ran.stdout.splitlines() if line.startswith("{")]
    events = [event for event in lines if event["event"] != "settings"]  # the first line: what the run resolved
    person = [line for line in ran.stderr.splitlines() if line and not line.startswith("{")]
    save(
        "clip_events",
        {
            "command": " ".join([*command[:3], f"../shared/data/clips/{args.clip.name}", *command[4:]]),
            "settings_line": lines[0] if lines and lines[0]["event"] == "settings" else None,
            "events": events,
            "summary_for_a_person": person,
        },
    )


if __name__ == "__main__":
    main()
