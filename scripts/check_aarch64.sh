#!/usr/bin/env bash
# Prove the device install on aarch64 without a board: a Debian arm64 root under qemu-user-static,
# the base package installed there with pip (no TensorFlow), `edge-emotion run` on built-in faces,
# and the int8 outputs compared with this machine's, bit for bit.
#
#   sudo scripts/check_aarch64.sh            # as root; ROOT=/var/tmp/edge-emotion-arm64 by default
#
# Needs Debian's debootstrap, qemu-user-static and binfmt-support (installed if missing), the
# Debian and Python package registries, and the project's .venv (make install) for the x86 side.
# HOST_PY picks another Python for the x86 side: it runs the package it imports (PYTHONPATH
# included), `edge-emotion run` too, e.g. HOST_PY=/other/.venv/bin/python PYTHONPATH=$PWD.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
ROOT=${ROOT:-/var/tmp/edge-emotion-arm64}
OUT=${OUT:-$repo/benchmarks/results/aarch64}
HOST_PY=${HOST_PY:-$repo/.venv/bin/python}
mkdir -p "$OUT"
log() { printf '[%s] %s\n' "$(date +%T)" "$*"; }
timed() { local name=$1; shift; local start=$SECONDS; "$@"; echo "$name $((SECONDS - start))" >> "$OUT/seconds.txt"; }
# Inside the root, a clean environment: what a Pi user's shell has, not this machine's pip settings.
in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
: > "$OUT/seconds.txt"

if ! command -v debootstrap >/dev/null || [ ! -e /usr/bin/qemu-aarch64-static ]; then
  log "installing debootstrap, qemu-user-static, binfmt-support"
  apt-get update -qq && apt-get install -y -qq debootstrap qemu-user-static binfmt-support >/dev/null
fi
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true

if [ ! -x "$ROOT/usr/bin/python3" ]; then
  log "debootstrap arm64 bookworm into $ROOT (a few minutes)"
  timed debootstrap debootstrap --arch=arm64 --variant=minbase \
    --include=python3,python3-venv,python3-pip,ca-certificates bookworm "$ROOT" http://deb.debian.org/debian >/dev/null
fi
cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
log "arm64 root: $(in_root uname -m), $(in_root python3 --version)"

log "copying the package (tracked files only) and installing its base dependencies with pip"
rm -rf "$ROOT/opt/edge-emotion" && mkdir -p "$ROOT/opt/edge-emotion"
git -C "$repo" ls-files -z | (cd "$repo" && xargs -0 tar cf -) | tar xf - -C "$ROOT/opt/edge-emotion"
if [ -x "$ROOT/opt/venv/bin/edge-emotion" ]; then  # dependencies in place: refresh the package only
  timed pip_reinstall in_root /opt/venv/bin/pip install -q --no-deps --force-reinstall /opt/edge-emotion
else
  timed pip_install in_root /bin/sh -c \
    "python3 -m venv /opt/venv && /opt/venv/bin/pip install -q --disable-pip-version-check /opt/edge-emotion"
fi
in_root /opt/venv/bin/pip list --format=freeze 2>/dev/null | grep -i -E "litert|tflite|numpy|opencv|tensorflow" > "$OUT/arm64-packages.txt"

log "faces: the demo pictures, and 64 fixed 48x48 crops for the bit-for-bit comparison"
rm -rf "$ROOT/opt/faces" && "$HOST_PY" "$repo/scripts/demo_faces.py" "$ROOT/opt/faces"
"$HOST_PY" - "$ROOT/opt/crops.npy" <<'PY'
import sys, cv2, numpy as np
from skimage import data
face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)[60:170, 170:280]
rng = np.random.default_rng(0)
crops = [cv2.resize(np.roll(face, (dy, dx), axis=(0, 1)), (48, 48), interpolation=cv2.INTER_AREA)
         for dy, dx in rng.integers(-12, 12, size=(32, 2))]
crops += list(rng.integers(0, 256, size=(32, 48, 48)))
np.save(sys.argv[1], np.stack(crops).astype(np.uint8))
PY

log "running on arm64 (emulated)"
timed run_arm64 in_root /opt/venv/bin/edge-emotion run --dir /opt/faces --events /opt/events-arm64.jsonl --threads 1
timed int8_outputs_arm64 in_root /opt/venv/bin/python /opt/edge-emotion/scripts/int8_outputs.py /opt/crops.npy > "$OUT/int8-arm64.json"
timed int8_tensors_arm64 in_root /opt/venv/bin/python /opt/edge-emotion/scripts/int8_tensors.py /opt/crops.npy /opt/tensors-arm64.npz
cp "$ROOT/opt/tensors-arm64.npz" "$OUT/"
cp "$ROOT/opt/events-arm64.jsonl" "$OUT/events-arm64.jsonl"

log "running on $(uname -m)"
# The CLI through HOST_PY, so that the x86 side runs the same code as the rest of this side.
timed run_x86_64 "$HOST_PY" -c 'import sys; from edge_emotion.cli import app; sys.argv[0] = "edge-emotion"; app()' \
  run --dir "$ROOT/opt/faces" --events "$OUT/events-x86_64.jsonl" --threads 1 2>/dev/null
"$HOST_PY" "$repo/scripts/int8_outputs.py" "$ROOT/opt/crops.npy" > "$OUT/int8-x86_64.json"
"$HOST_PY" "$repo/scripts/int8_tensors.py" "$ROOT/opt/crops.npy" "$OUT/tensors-x86_64.npz"

"$HOST_PY" - "$OUT" <<'PY'
import json, sys
from pathlib import Path
import numpy as np
out = Path(sys.argv[1])
arm, x86 = (json.loads((out / f"int8-{a}.json").read_text()) for a in ("arm64", "x86_64"))
report = {}
for kernels in ("xnnpack", "reference"):
    a, b = arm[kernels]["int8_outputs"], x86[kernels]["int8_outputs"]
    report[kernels] = {
        "bit_identical": a == b,
        "crops_differing": sum(x != y for x, y in zip(a, b)),
        "max_int8_difference": max(abs(p - q) for x, y in zip(a, b) for p, q in zip(x, y)),
        "labels_differing": sum(x != y for x, y in zip(arm[kernels]["labels"], x86[kernels]["labels"])),
    }
# Events files hold several kinds of event (face_enter, ...): only "frame" events carry faces.
events = {a: [json.loads(l) for l in (out / f"events-{a}.jsonl").read_text().splitlines()] for a in ("arm64", "x86_64")}
frames = {a: [e for e in ev if e.get("event") == "frame"] for a, ev in events.items()}
faces = {a: [f for e in fr for f in e["faces"]] for a, fr in frames.items()}
same_faces = [len(e["faces"]) for e in frames["arm64"]] == [len(e["faces"]) for e in frames["x86_64"]]
pairs = list(zip(faces["arm64"], faces["x86_64"])) if same_faces else []
def max_difference(values):
    largest = max((abs(p - q) for p, q in values), default=None)
    return None if largest is None else round(largest, 4)
landmarks = [(p, q) for f, g in pairs if f.get("landmarks") and g.get("landmarks")
             for pf, pg in zip(f["landmarks"], g["landmarks"]) for p, q in zip(pf, pg)]
box_difference = max_difference((p, q) for f, g in pairs for p, q in zip(f["box"], g["box"]))
landmark_difference = max_difference(landmarks)
report["run"] = {
    "frames": {a: len(fr) for a, fr in frames.items()},
    "faces": {a: len(f) for a, f in faces.items()},
    "same_faces_per_frame": same_faces,
    "faces_with_landmarks": {a: sum(bool(f.get("landmarks")) for f in fs) for a, fs in faces.items()},
    "boxes_identical": same_faces and all(f["box"] == g["box"] for f, g in pairs),
    "landmarks_identical": same_faces and all(f.get("landmarks") == g.get("landmarks") for f, g in pairs),
    "max_box_difference_px": box_difference,
    "max_landmark_difference_px": landmark_difference,
    "boxes_and_landmarks_within_a_pixel": same_faces and (box_difference or 0) <= 1 and (landmark_difference or 0) <= 1,
    "max_score_difference": max_difference((f["score"], g["score"]) for f, g in pairs),
    "labels_identical": same_faces and [f["label"] for f in faces["arm64"]] == [f["label"] for f in faces["x86_64"]],
    "max_probability_difference": max_difference((f["probabilities"][k], g["probabilities"][k]) for f, g in pairs for k in f["probabilities"]),
}
arm_ops, x86_ops = np.load(out / "tensors-arm64.npz"), np.load(out / "tensors-x86_64.npz")
def compared(name):
    return {"share_differing": round(float((arm_ops[name] != x86_ops[name]).mean()), 5),
            "arm64_minus_x86_64": sorted({int(v) for v in np.unique(arm_ops[name].astype(int) - x86_ops[name].astype(int))})}
# The low-passed, quantised input of all crops (an OpenCV float blur on each CPU), then every op's output on eight.
report["input_tensor"] = compared("input")
report["ops_reference_kernels"] = {name: compared(name) for name in sorted(arm_ops.files) if name != "input"}
report["crops"] = len(arm["xnnpack"]["int8_outputs"])
report["seconds"] = {k: int(v) for k, v in (line.split() for line in (out / "seconds.txt").read_text().splitlines())}
report["arm64_packages"] = (out / "arm64-packages.txt").read_text().split()
(out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
print(json.dumps(report, indent=2))
PY
