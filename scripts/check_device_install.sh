#!/usr/bin/env bash
# The device install, proven: build the wheel, install it into a fresh virtual environment
# with only the base dependencies (no TensorFlow, no extras), then run `edge-emotion run --image`
# on a demo picture, the README's Python API example, verbatim, and the tests marked `device`
# (a copy of tests/, so the package they import is the installed wheel). Prints the installed size.
# Usage: scripts/check_device_install.sh [PYTHON_WITH_SCIKIT_IMAGE]  (make test passes the dev venv's)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dev_python=${1:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$dev_python" -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" "$root"
python3 -m venv "$work/device"
"$work/device/bin/python" -m pip install --quiet "$work"/dist/edge_emotion-*.whl
if "$work/device/bin/python" -c "import tensorflow" 2>/dev/null; then
  echo "device install pulled in TensorFlow" >&2
  exit 1
fi

"$dev_python" "$root/scripts/demo_faces.py" "$work/pictures"
cp "$work/pictures/two_faces.png" "$work/group.jpg"  # OpenCV reads a picture by its content, not its name
"$work/device/bin/edge-emotion" run --image "$work/group.jpg" --events "$work/events.jsonl"
grep -q '"label"' "$work/events.jsonl"

# The README's Python API example, exactly as printed there, run where group.jpg is.
awk '/^### Python API/{on=1} on && /^```python/{code=1; next} code && /^```/{exit} code' "$root/README.md" \
  > "$work/example.py"
(cd "$work" && "$work/device/bin/python" example.py) | tee "$work/example.out"
[ -s "$work/example.out" ]

# The board's own figures, briefly: every stage runs from the wheel alone.
"$work/device/bin/edge-emotion" bench --seconds 1 --threads 1 --json | grep -q '"fps"'

size=$(du -sm "$work/device" | cut -f1)  # before pytest joins it

# The device tests, against the wheel: pytest runs a copy of tests/ away from the repository, so
# `import edge_emotion` can only find the installed package; TensorFlow must still be absent after.
"$work/device/bin/python" -m pip install --quiet pytest paho-mqtt  # paho: the MQTT output's tests
mkdir -p "$work/suite/tests"
cp "$root/pyproject.toml" "$work/suite/"
cp -r "$root"/tests/{conftest.py,fakes.py,page_harness.js,data} $(grep -l 'pytest.mark.device' "$root"/tests/test_*.py) \
  "$work/suite/tests/"  # the modules with device tests: the others may import TensorFlow as they load
mkdir -p "$work/suite/benchmarks/results" "$work/suite/examples"  # what some device tests read
cp "$root/benchmarks/results/face_template.json" "$work/suite/benchmarks/results/"
cp "$root/examples/mqtt_subscriber.py" "$work/suite/examples/"
[ ! -d "$root/../shared/data" ] || ln -s "$(cd "$root/.." && pwd)/shared" "$work/shared"  # real clips, where present
(cd "$work/suite/tests" && "$work/device/bin/python" -c \
  'import edge_emotion, sys; assert edge_emotion.__file__.startswith(sys.prefix), edge_emotion.__file__')
(cd "$work/suite" && "$work/device/bin/python" -m pytest -q -p no:cacheprovider -rs -m device)
if "$work/device/bin/python" -c "import tensorflow" 2>/dev/null; then
  echo "the device tests pulled in TensorFlow" >&2
  exit 1
fi

echo "device install OK: $(ls "$work"/dist) in a fresh venv, ${size} MB installed (no TensorFlow)"
