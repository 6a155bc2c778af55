"""benchmarks/README.md names every benchmark script with its command, so none is found only by reading the folder."""

from pathlib import Path

BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


def test_every_benchmark_script_has_a_row_with_its_command() -> None:
    readme = (BENCHMARKS / "README.md").read_text()
    scripts = sorted(path.name for path in BENCHMARKS.glob("*.py") if path.name != "common.py")
    assert scripts
    missing = [name for name in scripts if f"| `{name}` | `python benchmarks/{name}" not in readme]
    assert not missing, f"add a row to benchmarks/README.md for {', '.join(missing)}"
