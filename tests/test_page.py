"""The live page (web/index.html) and the overlay stay readable: WCAG AA contrast (4.5:1) for text on
every emotion's tint, from the colours as the page and annotate.py define them; and the page speaks the
typed event stream."""

import json
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import pytest

from edge_emotion.device.io.annotate import COLOURS as OVERLAY_COLOURS
from edge_emotion.labels import CLASS_NAMES

pytestmark = pytest.mark.device  # no TensorFlow: run in the device install too

PAGE = (resources.files("edge_emotion.device.io") / "web" / "index.html").read_text()
STYLE = PAGE[PAGE.index("<style>") : PAGE.index("</style>")]
SCRIPT = PAGE[PAGE.index("<script>") : PAGE.index("</script>")]
AA = 4.5


def luminance(rgb: tuple[float, float, float]) -> float:
    """WCAG 2 relative luminance of an sRGB colour (0..255 channels)."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (c / 255 for c in rgb)]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: tuple[float, float, float], second: tuple[float, float, float]) -> float:
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def colour(text: str) -> tuple[tuple[float, float, float], float]:
    """A CSS #rrggbb or rgba(r, g, b, a) as (rgb, alpha)."""
    text = text.strip()
    if text.startswith("#"):
        assert len(text) == 7, f"{text}: keep page colours opaque #rrggbb"
        return tuple(int(text[i : i + 2], 16) for i in (1, 3, 5)), 1.0
    *rgb, alpha = map(float, re.fullmatch(r"rgba\(([^)]*)\)", text).group(1).split(","))
    return tuple(rgb), alpha


def over(top: str, below: tuple[float, float, float]) -> tuple[float, float, float]:
    """``top`` painted over ``below``, blended in sRGB as browsers do."""
    rgb, alpha = colour(top)
    return tuple(alpha * t + (1 - alpha) * b for t, b in zip(rgb, below, strict=True))


def page_colours() -> dict[str, str]:
    """The emotions' tints, from the one ``const COLOURS = {...}`` literal."""
    literal = re.search(r"const COLOURS = \{(.*?)\};", SCRIPT, re.S).group(1)
    return dict(re.findall(r'(\w+): "(#[0-9a-fA-F]{6})"', literal))


def css_variables() -> dict[str, str]:
    root = re.search(r":root \{(.*?)\}", STYLE, re.S).group(1)
    return {name: value.strip() for name, value in re.findall(r"--([\w-]+):([^;]+);", root)}


def test_the_contrast_formula_matches_wcag() -> None:
    assert contrast((255, 255, 255), (0, 0, 0)) == pytest.approx(21)
    assert contrast((0x76, 0x76, 0x76), (255, 255, 255)) == pytest.approx(4.54, abs=0.01)  # the WCAG grey
    assert contrast((0x77, 0x77, 0x77), (255, 255, 255)) < AA


def test_every_text_has_aa_contrast_on_every_tint() -> None:
    variables, tints = css_variables(), page_colours()
    assert set(tints) == set(CLASS_NAMES)
    backgrounds = {**tints, "no face": variables["mood"]}
    texts = {name: value for name, value in variables.items() if name.startswith("text")}
    assert texts, "text colours belong in CSS variables named --text*"
    ratios = {
        (tint, text): contrast(colour(value)[0], over(variables["scrim"], colour(background)[0]))
        for tint, background in backgrounds.items()
        for text, value in texts.items()
    }
    low = {pair: round(ratio, 2) for pair, ratio in ratios.items() if ratio < AA}
    assert not low, f"below {AA}:1 on the scrim over these tints: {low}"


def test_text_colours_come_only_from_the_checked_variables() -> None:
    """What the contrast test checks is all there is: no other text colour, no opacity, no tint with alpha."""
    for value in re.findall(r"(?<![-\w])color:\s*([^;}]+)", STYLE):
        assert re.fullmatch(r"var\(--text[\w-]*\)", value.strip()), value
    assert not re.search(r"opacity\s*[:=]", PAGE)
    assert re.search(r'class="[^"]*panel', PAGE) and ".panel { background: var(--scrim);" in STYLE
    (mood,) = re.findall(r'setProperty\("--mood", ([^;]*)\);', SCRIPT)
    assert "COLOURS[" in mood and "+" not in mood  # the tint as it is, opaque


def test_overlay_label_colours_are_readable_on_their_black_boxes() -> None:
    for name, (blue, green, red) in OVERLAY_COLOURS.items():
        assert contrast((red, green, blue), (0, 0, 0)) >= AA, name


def test_the_page_reads_its_tokens_and_the_typed_event_stream() -> None:
    assert '<meta name="write-token" content="__WRITE_TOKEN__">' in PAGE  # the server fills it in
    assert "onmessage" not in SCRIPT  # untyped messages are not the stream any more
    for event in ("frame", "change", "face_leave", "calibrated"):
        assert f'source.addEventListener("{event}"' in SCRIPT


@pytest.mark.skipif(shutil.which("node") is None, reason="runs the page's script in Node.js, not installed here")
def test_the_page_shows_frames_changes_calibration_and_answers() -> None:
    page = resources.files("edge_emotion.device.io") / "web" / "index.html"
    harness = Path(__file__).with_name("page_harness.js")
    run = subprocess.run(["node", str(harness), str(page)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    shown = json.loads(run.stdout)
    token = "token=s3%20cret"  # the page was opened with ?token=s3 cret
    assert shown["stream"] == f"/stream.mjpg?{token}" and shown["events"] == f"/events?{token}"
    assert shown["title"] == "#1 happy 70%" and shown["mood"] == "#f5c518" and shown["moodName"] == "happy"
    assert shown["calibrating"] == "calibrating…" and shown["calibrated"] == ""
    assert len(shown["log"]) == 6  # the newest six, newest first, each with the time it arrived
    for line, change in zip(shown["log"][:2], ("face #1: sad → happy", "face #1: angry → sad"), strict=True):
        assert re.fullmatch(r"\d\d:\d\d:\d\d " + change, line), line
    url, options = shown["fetch"]
    assert url == f"/calibrate?id=1&{token}"
    assert options == {"method": "POST", "headers": {"X-Write-Token": "w-tok"}}
    answers = shown["answers"]
    assert answers["202"].startswith("ok") and answers["404"] == "no such face"
    assert answers["409"] == "already calibrating" and answers["403"] == "refused (403)"
    assert shown["answerLater"] == "" and shown["calibratedAnswer"].startswith("calibrated")
    assert shown["panelsLeft"] == 0 and shown["moodAfter"] == "#2b2d31" and shown["moodNameAfter"] == "no face"
