"""The README's figures, written from the results files that the benchmarks saved.

Figures typed by hand go stale when a benchmark is rerun; these cannot: the README holds them
between two markers, this script rewrites that block from ``benchmarks/results/*.json``, and a
test fails when the block and the files disagree.

    python benchmarks/readme_figures.py           # rewrite the block in README.md
    python benchmarks/readme_figures.py --check   # exit 1 if README.md's block is stale
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"


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


BLOCKS = {"figures": figures, "events": events_sample, "test-time": test_time}


def render(name: str, results: Path = RESULTS) -> str:
    """One block, markers included."""
    begin, end = markers(name)
    return "\n".join([begin, *BLOCKS[name](results), end])


def current_block(readme: str, name: str) -> str:
    """The block as the README holds it now; an error when its markers are missing."""
    begin, end = markers(name)
    start, stop = readme.find(begin), readme.find(end)
    if start < 0 or stop < start:
        raise SystemExit(f"error: {README.name} has no {name} block ({begin!r} … {end!r})")
    return readme[start : stop + len(end)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a block of the README is stale")
    args = parser.parse_args()
    readme = README.read_text()
    stale = [name for name in BLOCKS if current_block(readme, name) != render(name)]
    if args.check:
        if stale:
            sys.exit(f"error: {README.name}'s {' and '.join(stale)} are stale: run python benchmarks/readme_figures.py")
        print("README figures match benchmarks/results")
        return
    for name in stale:
        readme = readme.replace(current_block(readme, name), render(name))
    README.write_text(readme)
    print(f"rewrote {', '.join(stale) or 'nothing'} in {README.name}")


if __name__ == "__main__":
    main()
