#!/usr/bin/env bash
# Prove the device install on aarch64 without a board: a Debian arm64 root under qemu-user-static,
# the base package installed there with pip (no TensorFlow), `edge-emotion run` on built-in faces,
# and the int8 outputs compared with this machine's, bit for bit.
#
#   sudo scripts/check_aarch64.sh            # as root; ROOT=/var/tmp/edge-emotion-arm64 by default
#
# Needs Debian's debootstrap, qemu-user-static and binfmt-support (installed if missing), the
# Debian and Python package registries, and the project's .venv (make install) for the x86 side.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
ROOT=${ROOT:-/var/tmp/edge-emotion-arm64}
OUT=${OUT:-$repo/benchmarks/results/aarch64}
HOST_PY=${HOST_PY:-$repo/.venv/bin/python}
mkdir -p "$OUT"
log() { printf '[%s] %s\n' "$(date +%T)" "$*"; }
timed() { local name=$1; shift; local start=$SECONDS; "$@"; echo "$name $((SECONDS - start))" >> "$OUT/seconds.txt"; }
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
log "arm64 root: $(chroot "$ROOT" uname -m), $(chroot "$ROOT" python3 --version)"

log "copying the package (tracked files only) and installing its base dependencies with pip"
rm -rf "$ROOT/opt/edge-emotion" && mkdir -p "$ROOT/opt/edge-emotion"
git -C "$repo" ls-files -z | (cd "$repo" && xargs -0 tar cf -) | tar xf - -C "$ROOT/opt/edge-emotion"
timed pip_install chroot "$ROOT" /bin/sh -c \
  "python3 -m venv /opt/venv && /opt/venv/bin/pip install -q --disable-pip-version-check /opt/edge-emotion"
chroot "$ROOT" /opt/venv/bin/pip list --format=freeze 2>/dev/null | grep -i -E "litert|tflite|numpy|opencv|tensorflow" > "$OUT/arm64-packages.txt"

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
timed run_arm64 chroot "$ROOT" /opt/venv/bin/edge-emotion run --dir /opt/faces --events /opt/events-arm64.jsonl --threads 1
chroot "$ROOT" /opt/venv/bin/python /opt/edge-emotion/scripts/int8_outputs.py /opt/crops.npy > "$OUT/int8-arm64.json"
cp "$ROOT/opt/events-arm64.jsonl" "$OUT/events-arm64.jsonl"

log "running on $(uname -m)"
"$repo/.venv/bin/edge-emotion" run --dir "$ROOT/opt/faces" --events "$OUT/events-x86_64.jsonl" --threads 1 2>/dev/null
"$HOST_PY" "$repo/scripts/int8_outputs.py" "$ROOT/opt/crops.npy" > "$OUT/int8-x86_64.json"

"$HOST_PY" - "$OUT" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
arm, x86 = (json.loads((out / f"int8-{a}.json").read_text()) for a in ("arm64", "x86_64"))
same_int8 = arm["int8_outputs"] == x86["int8_outputs"]
differing = sum(a != b for a, b in zip(arm["int8_outputs"], x86["int8_outputs"]))
events = {a: [json.loads(l) for l in (out / f"events-{a}.jsonl").read_text().splitlines()] for a in ("arm64", "x86_64")}
faces = {a: [(f["box"], f["label"], f["probabilities"]) for e in ev for f in e["faces"]] for a, ev in events.items()}
seconds = dict(line.split() for line in (out / "seconds.txt").read_text().splitlines())
report = {"int8_bit_identical": same_int8, "crops": len(arm["int8_outputs"]), "crops_differing": differing,
          "run_events_identical": faces["arm64"] == faces["x86_64"], "faces_arm64": len(faces["arm64"]),
          "faces_x86_64": len(faces["x86_64"]), "seconds": {k: int(v) for k, v in seconds.items()},
          "arm64_packages": (out / "arm64-packages.txt").read_text().split()}
(out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
print(json.dumps(report, indent=2))
PY
