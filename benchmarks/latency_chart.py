"""The README's per-stage latency chart, drawn from the figures ``device_loop.py`` saved.

python benchmarks/device_loop.py && python benchmarks/latency_chart.py   # -> docs/latency.png
"""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

RESULTS = Path(__file__).parent / "results" / "device_loop.json"
OUT = Path(__file__).resolve().parents[1] / "docs" / "latency.png"
STAGES = ("capture", "detect", "classify")
COLOURS = ("#9aa0a6", "#1a73e8", "#f9ab00")


def main() -> None:
    figures = json.loads(RESULTS.read_text())
    rows = [
        (f"{detector}, {faces} face{'s' if faces > 1 else ''}", figures["loop"][f"{detector}_{faces}_faces_2_threads"])
        for detector in ("haar", "yunet")
        for faces in (1, 4)
    ]
    fig, ax = plt.subplots(figsize=(7.5, 2.8), dpi=120)
    for y, (_, run) in enumerate(rows):
        left = 0.0
        for stage, colour in zip(STAGES, COLOURS, strict=True):
            width = run["latency_ms"][stage]["median"]
            ax.barh(y, width, left=left, color=colour, label=stage if y == 0 else None)
            left += width
        ax.text(left + 0.5, y, f"{run['fps']:.0f} FPS", va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), [name for name, _ in rows])
    ax.invert_yaxis()
    ax.set_xlabel("median ms per 640x480 frame, 2 threads")
    ax.set_title(
        f"Where a frame's time goes ({figures['machine'].split(',')[0]}, {figures['measured'][:10]})", fontsize=9
    )
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(OUT)
    print(f"saved {OUT}")


if __name__ == "__main__":
    main()
