"""The README a user reads: its figures equal the results files, it stays short, and its links lead somewhere."""

import importlib.util
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def load_readme_figures():
    spec = importlib.util.spec_from_file_location("readme_figures", ROOT / "benchmarks" / "readme_figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generated_blocks_equal_what_the_results_files_say():
    figures = load_readme_figures()
    assert {document.name for document in figures.BLOCKS} == {"README.md", "device.md"}
    for document, blocks in figures.BLOCKS.items():
        text = document.read_text()
        for name in blocks:
            assert figures.current_block(text, name) == figures.render(name), "run python benchmarks/readme_figures.py"


def test_a_changed_clip_run_makes_the_device_docs_block_stale(tmp_path):
    figures = load_readme_figures()
    for source in (ROOT / "benchmarks" / "results").glob("*.json"):
        (tmp_path / source.name).write_text(source.read_text())
    clip = tmp_path / "clip_events.json"
    run = json.loads(clip.read_text())
    run["events"][-1]["frame"] += 1  # the same clip, one event a frame later
    clip.write_text(json.dumps(run))
    device = (ROOT / "docs" / "device.md").read_text()
    assert figures.render("clip-run", tmp_path) != figures.current_block(device, "clip-run")
    assert figures.render("clip-summary", tmp_path) == figures.current_block(device, "clip-summary")


def test_a_changed_results_file_makes_the_block_stale(tmp_path):
    figures = load_readme_figures()
    for source in (ROOT / "benchmarks" / "results").glob("*.json"):
        (tmp_path / source.name).write_text(source.read_text())
    card = tmp_path / "model_card_fast.json"
    card.write_text(card.read_text().replace('"faces_per_second_2_threads": ', '"faces_per_second_2_threads": 1'))
    assert figures.render("figures", tmp_path) != figures.current_block(README, "figures")


def test_the_readme_stays_a_users_page():
    words = len(README.split())
    assert words <= 2500, f"README has {words} words; move detail to docs/"
    assert "## Responsible use" in README and "2024/1689" in README and "Article 5(1)(f)" in README
    assert README.startswith("# edge-emotion\n\n    make demo") and "\n    make test" in README[:200]


def test_every_relative_link_leads_to_a_file():
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to {target}, which is not there"
