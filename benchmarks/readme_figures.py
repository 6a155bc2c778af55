"""The README's figures (and the docs' copies of the clip's output), written from the results files.

Figures typed by hand go stale when a benchmark is rerun; these cannot: README.md and docs/device.md
hold them between two markers, this script rewrites those blocks from ``benchmarks/results/*.json``,
and a test fails when a block and the files disagree.

    python benchmarks/readme_figures.py           # rewrite the stale blocks
    python benchmarks/readme_figures.py --check   # exit 1 if a block is stale
"""

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"
DEVICE_DOC = ROOT / "docs" / "device.md"


def markers(name: str) -> tuple[str, str]:
    """The comments that open and close one generated block of the README."""
    return f"<!-- {name}: written by `python benchmarks/readme_figures.py` from benchmarks/results/; do not edit -->", (
        f"<!-- end of {name} -->"
    )


def read(name: str, results: Path) -> dict[str, Any]:
    """One results file as the benchmark wrote it."""
    return json.loads((results / f"{name}.json").read_text())


def pct(share: float) -> str:
    """A share as the README prints it: one decimal, percent sign."""
    return f"{100 * share:.1f} %"


def when(figures: dict[str, Any]) -> str:
    """The day and machine a results file records."""
    return f"{figures['measured'][:10]}, {figures.get('cpu') or figures['machine'].split(',')[0]}"


def models_table(results: Path) -> list[str]:
    """Both shipped models and `fer` on PrivateTest: both label sets, camera conditions, cost."""
    cards = {name: read(f"model_card_{name}", results) for name in ("fast", "accurate")}
    robust = read("robustness_privatetest", results)["models"]
    medium = {name: robust[name]["means"]["medium"] for name in robust}
    clean = {name: robust[name]["sets"]["clean"] for name in robust}
    names = [*cards, *(["fer"] if "fer" in robust else [])]

    def row(label: str, cell: Any) -> str:
        return f"| {label} | " + " | ".join(cell(name) for name in names) + " |"

    return [
        "| PrivateTest, int8, one crop per face | " + " | ".join(f"`{n}`" for n in names) + " |",
        "| --- |" + " --- |" * len(names),
        row("agrees with FER2013's label", lambda n: pct(clean[n]["fer2013_accuracy"])),
        row("agrees with the majority of ten people (FER+)", lambda n: pct(clean[n]["ferplus_accuracy"])),
        row(
            "under camera conditions (ten kinds, medium), FER2013 / FER+",
            lambda n: f"{pct(medium[n]['fer2013_accuracy'])[:-2]} / {pct(medium[n]['ferplus_accuracy'])}",
        ),
        row(
            "macro-F1, FER2013 / FER+",
            lambda n: f"{clean[n]['fer2013_macro_f1']:.3f} / {clean[n]['ferplus_macro_f1']:.3f}",
        ),
        row(
            "size, multiply-adds per face",
            lambda n: f"{cards[n]['bytes'] / 1e6:.2f} MB, {cards[n]['macs'] / 1e6:.1f} M" if n in cards else "91 KB, —",
        ),
        row(
            f"faces/s, batch 1, 1 / 2 threads ({when(cards['fast'])})",
            lambda n: (
                f"{cards[n]['faces_per_second_1_thread']:,} / {cards[n]['faces_per_second_2_threads']:,}"
                if n in cards
                else "—"
            ),
        ),
    ]


def loop_line(results: Path) -> str:
    """What a frame costs: the live loop with YuNet on 2 threads."""
    loop = read("device_loop", results)
    one = loop["loop"]["yunet_1_faces_2_threads"]
    clip = loop["real_clip"]["yunet"]
    median = one["latency_ms"]
    return (
        f"The live loop (`python benchmarks/device_loop.py`, {when(loop)}, the fast model, YuNet, 2 threads): "
        f"{one['fps']:.0f} frames/s on a 640x480 video with one face (detection {median['detect']['median']} ms, "
        f"alignment and classification {median['classify']['median']} ms), {clip['fps']:.0f} frames/s on a real "
        f"640x360 clip."
    )


def steadiness_line(results: Path) -> str:
    """How steady the labels are with the defaults, on the real clip of a face crying, then laughing."""
    steady = read("steadiness", results)
    default = steady["settings"]["YuNet, defaults"]
    return (
        f"Steady labels (`python benchmarks/steadiness.py`, {when(steady)}): on a real clip of a woman crying, "
        f"then laughing, the defaults change the label {default['whole_clip_changes_per_100_frames']} times per "
        f"100 face frames and give {default['change_events']} change events, at frames "
        + " and ".join(f"{change.replace(' -> ', ' → ').replace(': ', ' (')})" for change in default["changes"])
        + "."
    )


def extras_line(results: Path) -> str:
    """Region tracking's gain on small faces and what MQTT costs."""
    regions = read("stream_tracking", results)
    found = {name: regions["settings"][name]["found_80_120_px_pct"] for name in ("regions", "every_frame_320")}
    mqtt = read("mqtt_overhead", results)
    return (
        f"Region tracking, the default on a camera or video, finds faces 80–120 px wide in {found['regions']} % "  # noqa: RUF001 (the README's en dash)
        f"of frames against {found['every_frame_320']} % for a whole search of every frame at 320 px, at "
        f"{regions['settings']['regions']['one_face_frame_ms_vs_every_frame']} times its cost per frame with one "
        f"face (`python benchmarks/stream_tracking.py`); `--mqtt` with every frame "
        f"published costs {mqtt['cpu_overhead_percent']} % more CPU per frame (`python benchmarks/mqtt_overhead.py`)."
    )


def events_sample(results: Path) -> list[str]:
    """The typed events `run` gives on the real clip, as the user's terminal shows them."""
    clip = read("clip_events", results)
    return ["```", f"$ {clip['command']}", *(json.dumps(event) for event in clip["events"]), "```"]


def indented(lines: list[str]) -> list[str]:
    """Lines as an indented code block of docs/device.md, blank lines around it."""
    return ["", *(f"    {line}" for line in lines), ""]


def clip_run(results: Path) -> list[str]:
    """The clip's run in docs/device.md: the command, its settings line, then its typed events."""
    clip = read("clip_events", results)
    settings = '{"event": "settings", ...}   (the first line: the settings the run resolved)'
    return indented([f"$ {clip['command']}", settings, *(json.dumps(event) for event in clip["events"])])


def clip_summary(results: Path) -> list[str]:
    """The summary for a person that the same run printed at its end."""
    return indented(read("clip_events", results)["summary_for_a_person"])


def figures(results: Path) -> list[str]:
    """The tables and lines of the Figures section."""
    return [*models_table(results), "", loop_line(results), "", steadiness_line(results), "", extras_line(results)]


def test_time(results: Path) -> list[str]:
    """How long the set-up commands took in a fresh clone."""
    timed = read("make_test_time", results)
    minutes = {target: f"{seconds / 60:.0f} min" for target, seconds in timed["seconds"].items()}
    return [
        f"In a fresh clone on {when(timed)} (load average {timed['load_average_before']}; `python "
        f"benchmarks/make_test_time.py`), `make install` took {minutes['install']}, `make lint` "
        f"{timed['seconds']['lint']:.0f} s and `make test` {minutes['test']}."
    ]


BLOCKS: dict[Path, dict[str, Callable[[Path], list[str]]]] = {
    README: {"figures": figures, "events": events_sample, "test-time": test_time},
    DEVICE_DOC: {"clip-run": clip_run, "clip-summary": clip_summary},
}


def render(name: str, results: Path = RESULTS) -> str:
    """One block, markers included."""
    begin, end = markers(name)
    (write,) = [blocks[name] for blocks in BLOCKS.values() if name in blocks]
    return "\n".join([begin, *write(results), end])


def current_block(text: str, name: str) -> str:
    """The block as a document holds it now; an error when its markers are missing."""
    begin, end = markers(name)
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise SystemExit(f"error: no {name} block ({begin!r} … {end!r})")
    return text[start : stop + len(end)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a block is stale")
    args = parser.parse_args()
    texts = {document: document.read_text() for document in BLOCKS}
    stale = {
        document: [name for name in BLOCKS[document] if current_block(text, name) != render(name)]
        for document, text in texts.items()
    }
    named = [f"{document.name}'s {name}" for document, names in stale.items() for name in names]
    if args.check:
        if named:
            sys.exit(f"error: {' and '.join(named)} stale: run python benchmarks/readme_figures.py")
        print("README and docs figures match benchmarks/results")
        return
    for document, names in stale.items():
        text = texts[document]
        for name in names:
            text = text.replace(current_block(text, name), render(name))
        if names:
            document.write_text(text)
    print(f"rewrote {', '.join(named) or 'nothing'}")


if __name__ == "__main__":
    main()
