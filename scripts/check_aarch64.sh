#!/usr/bin/env bash
# Prove the device install on aarch64 without a board: a Debian arm64 root under qemu-user-static,
# the base package installed there with pip (no TensorFlow), `edge-emotion run` on built-in faces,
# and the int8 outputs compared with this machine's, bit for bit (XNNPACK and the built-in kernels,
# end to end and op by op), once per emulated Pi CPU (ARM_CPUS). Each stage of `run` is compared
# too (scripts/face_pipeline.py: boxes, landmarks, crops, inputs, outputs).
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
# The arm64 side runs once per CPU that qemu emulates: a Pi 4's Cortex-A72 (NEON only) and a Pi 5's
# Cortex-A76 (NEON dot product too): XNNPACK, ruy and OpenCV pick their kernels by the CPU's features.
ARM_CPUS=${ARM_CPUS:-cortex-a72 cortex-a76}
mkdir -p "$OUT"
log() { printf '[%s] %s\n' "$(date +%T)" "$*"; }
timed() { local name=$1 start=$SECONDS rc=0; shift; "$@" || rc=$?; echo "$name $((SECONDS - start))" >> "$OUT/seconds.txt"; return $rc; }
# Inside the root, a clean environment: what a Pi user's shell has, not this machine's pip settings.
# QEMU_CPU, when set, picks the CPU qemu emulates (and so the features getauxval reports).
in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LANG=C.UTF-8 ${QEMU_CPU:+QEMU_CPU=$QEMU_CPU} "$@"; }
# What the CPU-detection library in LiteRT (cpuinfo) reads: /sys/devices/system/cpu (this machine's
# sysfs, read-only) and /proc/cpuinfo. qemu 7 does not emulate an ARM /proc/cpuinfo: with /proc
# mounted cpuinfo reads this machine's x86 one and crashes, without any it fails and XNNPACK is
# silently not applied. So the root gets sysfs and, in place of /proc, a file with the cpuinfo the
# emulated Pi's kernel would print.
arm_cpuinfo() {  # $1: qemu CPU name
  local part features model processor
  case $1 in
    cortex-a72) part=0xd08; features="fp asimd evtstrm crc32 cpuid"; model="Raspberry Pi 4 Model B Rev 1.5" ;;
    cortex-a76) part=0xd0b; model="Raspberry Pi 5 Model B Rev 1.0"
                features="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp" ;;
    *) echo "no cpuinfo known for $1 (use cortex-a72 or cortex-a76)" >&2; return 1 ;;
  esac
  for processor in $(seq 0 $(($(nproc) - 1))); do
    printf 'processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\nCPU architecture: 8\n' "$processor" "$features"
    printf 'CPU variant\t: 0x0\nCPU part\t: %s\nCPU revision\t: 1\n\n' "$part"
  done
  printf 'Model\t\t: %s\n' "$model"
}
cleanup() { if mountpoint -q "$ROOT/sys"; then umount "$ROOT/sys"; fi; }
trap cleanup EXIT
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
git -C "$repo" ls-files -z | while IFS= read -r -d '' f; do [ -e "$repo/$f" ] && printf '%s\0' "$f"; done \
  | (cd "$repo" && xargs -0 tar cf -) | tar xf - -C "$ROOT/opt/edge-emotion"  # tracked files still in the tree
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

mountpoint -q "$ROOT/proc" && umount "$ROOT/proc"
mountpoint -q "$ROOT/sys" || mount -o ro -t sysfs sysfs "$ROOT/sys"
rm -f "$OUT"/int8-arm64*.json "$OUT"/int8-arm64*.err "$OUT"/events-arm64*.jsonl "$OUT"/tensors-arm64*.npz "$OUT"/pipeline-arm64*.npz
for cpu in $ARM_CPUS; do
  log "running on arm64 (emulated $cpu)"
  arm_cpuinfo "$cpu" > "$ROOT/proc/cpuinfo"
  export QEMU_CPU=$cpu
  timed "run_arm64_$cpu" in_root /opt/venv/bin/edge-emotion run --dir /opt/faces --events "/opt/events-arm64-$cpu.jsonl" --threads 1
  # stderr kept: LiteRT logs "Created TensorFlow Lite XNNPACK delegate" when XNNPACK is really applied.
  timed "int8_outputs_arm64_$cpu" in_root /opt/venv/bin/python /opt/edge-emotion/scripts/int8_outputs.py /opt/crops.npy \
    > "$OUT/int8-arm64-$cpu.json" 2> "$ROOT/opt/int8-arm64-$cpu.err" || { cat "$ROOT/opt/int8-arm64-$cpu.err" >&2; exit 1; }
  cp "$ROOT/opt/int8-arm64-$cpu.err" "$OUT/int8-arm64-$cpu.err"
  timed "int8_tensors_arm64_$cpu" in_root /opt/venv/bin/python /opt/edge-emotion/scripts/int8_tensors.py /opt/crops.npy "/opt/tensors-arm64-$cpu.npz"
  timed "face_pipeline_arm64_$cpu" in_root /opt/venv/bin/python /opt/edge-emotion/scripts/face_pipeline.py /opt/faces "/opt/pipeline-arm64-$cpu.npz"
  cp "$ROOT/opt/tensors-arm64-$cpu.npz" "$ROOT/opt/pipeline-arm64-$cpu.npz" "$ROOT/opt/events-arm64-$cpu.jsonl" "$OUT/"
  unset QEMU_CPU
done
cleanup

log "running on $(uname -m) ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs > "$OUT/x86_64-cpu.txt"
# The CLI through HOST_PY, so that the x86 side runs the same code as the rest of this side.
timed run_x86_64 "$HOST_PY" -c 'import sys; from edge_emotion.cli import app; sys.argv[0] = "edge-emotion"; app()' \
  run --dir "$ROOT/opt/faces" --events "$OUT/events-x86_64.jsonl" --threads 1 2>/dev/null
timed int8_outputs_x86_64 "$HOST_PY" "$repo/scripts/int8_outputs.py" "$ROOT/opt/crops.npy" > "$OUT/int8-x86_64.json" 2> "$OUT/int8-x86_64.err"
timed int8_tensors_x86_64 "$HOST_PY" "$repo/scripts/int8_tensors.py" "$ROOT/opt/crops.npy" "$OUT/tensors-x86_64.npz"
timed face_pipeline_x86_64 "$HOST_PY" "$repo/scripts/face_pipeline.py" "$ROOT/opt/faces" "$OUT/pipeline-x86_64.npz" 2>/dev/null

"$HOST_PY" - "$OUT" $ARM_CPUS <<'PY'
import json, sys
from itertools import combinations
from pathlib import Path
import numpy as np
out, cpus = Path(sys.argv[1]), sys.argv[2:]
sides = [f"arm64-{cpu}" for cpu in cpus] + ["x86_64"]
int8 = {side: json.loads((out / f"int8-{side}.json").read_text()) for side in sides}
XNNPACK_LOG = "Created TensorFlow Lite XNNPACK delegate"

def max_difference(values):
    largest = max((abs(p - q) for p, q in values), default=None)
    return None if largest is None else round(largest, 4)

def outputs_compared(arm, x86):
    result = {}
    for kernels in ("xnnpack", "reference"):
        a, b = arm[kernels]["int8_outputs"], x86[kernels]["int8_outputs"]
        result[kernels] = {
            "bit_identical": a == b,
            "crops_differing": sum(x != y for x, y in zip(a, b)),
            "max_int8_difference": max(abs(p - q) for x, y in zip(a, b) for p, q in zip(x, y)),
            "labels_differing": sum(x != y for x, y in zip(arm[kernels]["labels"], x86[kernels]["labels"])),
        }
    return result

def frame_faces(side):
    # Events files hold several kinds of event (face_enter, ...): only "frame" events carry faces.
    events = [json.loads(line) for line in (out / f"events-{side}.jsonl").read_text().splitlines()]
    return [e["faces"] for e in events if e.get("event") == "frame"]

def run_compared(arm_frames, x86_frames):
    same_faces = [len(f) for f in arm_frames] == [len(f) for f in x86_frames]
    arm_faces, x86_faces = ([face for frame in frames for face in frame] for frames in (arm_frames, x86_frames))
    pairs = list(zip(arm_faces, x86_faces)) if same_faces else []
    box = max_difference((p, q) for f, g in pairs for p, q in zip(f["box"], g["box"]))
    landmark = max_difference((p, q) for f, g in pairs if f.get("landmarks") and g.get("landmarks")
                              for pf, pg in zip(f["landmarks"], g["landmarks"]) for p, q in zip(pf, pg))
    return {
        "frames": {"arm64": len(arm_frames), "x86_64": len(x86_frames)},
        "faces": {"arm64": len(arm_faces), "x86_64": len(x86_faces)},
        "same_faces_per_frame": same_faces,
        "faces_with_landmarks": {"arm64": sum(bool(f.get("landmarks")) for f in arm_faces),
                                 "x86_64": sum(bool(f.get("landmarks")) for f in x86_faces)},
        "boxes_identical": same_faces and all(f["box"] == g["box"] for f, g in pairs),
        "landmarks_identical": same_faces and all(f.get("landmarks") == g.get("landmarks") for f, g in pairs),
        "max_box_difference_px": box,
        "max_landmark_difference_px": landmark,
        "boxes_and_landmarks_within_a_pixel": same_faces and (box or 0) <= 1 and (landmark or 0) <= 1,
        "max_score_difference": max_difference((f["score"], g["score"]) for f, g in pairs),
        "labels_identical": same_faces and [f["label"] for f in arm_faces] == [f["label"] for f in x86_faces],
        "max_probability_difference": max_difference(
            (f["probabilities"][k], g["probabilities"][k]) for f, g in pairs for k in f["probabilities"]),
    }

def tensors_compared(arm, x86):
    def compared(name):
        return {"share_differing": round(float((arm[name] != x86[name]).mean()), 5),
                "arm64_minus_x86_64": sorted({int(v) for v in np.unique(arm[name].astype(int) - x86[name].astype(int))})}
    # The low-passed, quantised input of all crops (an OpenCV float blur on each CPU), then every op's output on eight.
    return {"input_tensor": compared("input"),
            "ops_reference_kernels": {name: compared(name) for name in sorted(arm.files) if name != "input"}}

def pipeline_compared(arm, x86):
    # Each stage of `run` per face, at full precision: where a difference in the events starts.
    if arm["box"].shape != x86["box"].shape:
        return {"same_faces": False}
    def compared(name):
        difference = np.abs(arm[name].astype(float) - x86[name].astype(float))
        return {"values_differing": int((difference > 0).sum()), "of": int(difference.size),
                "max_difference": float(f"{difference.max():.3g}")}
    return {"same_faces": True, "faces": len(arm["box"]),
            **{name: compared(name) for name in ("box", "landmarks", "score", "crop", "input", "xnnpack", "reference")}}

def kernels_on(side):
    outputs = int8[side]
    return {"xnnpack_applied": XNNPACK_LOG in (out / f"int8-{side}.err").read_text(),
            "xnnpack_equals_reference": outputs["xnnpack"]["int8_outputs"] == outputs["reference"]["int8_outputs"]}

x86_tensors, x86_frames = np.load(out / "tensors-x86_64.npz"), frame_faces("x86_64")
x86_pipeline = np.load(out / "pipeline-x86_64.npz")
report = {"crops": len(int8["x86_64"]["xnnpack"]["int8_outputs"]),
          "x86_64": {"cpu": (out / "x86_64-cpu.txt").read_text().strip(), **kernels_on("x86_64")}, "arm64": {}}
for cpu, side in zip(cpus, sides):
    report["arm64"][cpu] = {
        **kernels_on(side),
        **outputs_compared(int8[side], int8["x86_64"]),
        "run": run_compared(frame_faces(side), x86_frames),
        "run_stages": pipeline_compared(np.load(out / f"pipeline-{side}.npz"), x86_pipeline),
        **tensors_compared(np.load(out / f"tensors-{side}.npz"), x86_tensors),
    }
report["arm64_cpus_compared"] = {
    f"{a}_vs_{b}": {k: v for k, v in outputs_compared(int8[f"arm64-{a}"], int8[f"arm64-{b}"]).items()}
    for a, b in combinations(cpus, 2)
}
report["seconds"] = {k: int(v) for k, v in (line.split() for line in (out / "seconds.txt").read_text().splitlines())}
report["arm64_packages"] = (out / "arm64-packages.txt").read_text().split()
(out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
print(json.dumps(report, indent=2))
PY
