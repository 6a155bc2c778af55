"""What Coral's Edge TPU will make of a model: a static op report, and the compiler when installed."""

import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from edge_emotion.device.engine.interpreter import runtime_module
from edge_emotion.errors import EdgeEmotionError

# Ops the Edge TPU compiler maps (Coral's "supported operations" table), by TFLite builtin name.
EDGETPU_OPS = frozenset(
    [
        "ADD",
        "AVERAGE_POOL_2D",
        "CONCATENATION",
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "EXPAND_DIMS",
        "FULLY_CONNECTED",
        "L2_NORMALIZATION",
        "LOGISTIC",
        "LSTM",
        "MAXIMUM",
        "MAX_POOL_2D",
        "MEAN",
        "MINIMUM",
        "MUL",
        "PACK",
        "PAD",
        "PRELU",
        "QUANTIZE",
        "REDUCE_MAX",
        "REDUCE_MIN",
        "RELU",
        "RELU6",
        "RELU_N1_TO_1",
        "RESHAPE",
        "RESIZE_BILINEAR",
        "RESIZE_NEAREST_NEIGHBOR",
        "RSQRT",
        "SLICE",
        "SOFTMAX",
        "SPACE_TO_DEPTH",
        "SPLIT",
        "SQUARED_DIFFERENCE",
        "SQUEEZE",
        "STRIDED_SLICE",
        "SUB",
        "SUM",
        "TANH",
        "TRANSPOSE",
        "TRANSPOSE_CONV",
    ]
)
COMPILER = "edgetpu_compiler"


class EdgetpuCompilerMissing(EdgeEmotionError):
    """edgetpu_compiler is not installed: a hint, not a failure, since the .tflite it would compile is written."""

    def __init__(self) -> None:
        super().__init__(
            f"{COMPILER} is not on PATH; it runs on x86-64 Debian/Ubuntu: add Coral's apt repository and "
            "`apt-get install edgetpu-compiler` (see docs/coral.md), then convert again with --edgetpu"
        )


def op_report(model: Path) -> dict[str, Any]:
    """Each op with its count and whether the Edge TPU maps it; float tensors; dynamic shapes."""
    interpreter = runtime_module().Interpreter(model_path=str(model))
    counts = Counter(op["op_name"] for op in interpreter._get_ops_details())
    tensors = interpreter.get_tensor_details()
    float_tensors = [t["name"] for t in tensors if np.dtype(t["dtype"]).kind == "f"]
    dynamic = [t["name"] for t in tensors if -1 in list(t.get("shape_signature", t["shape"]))]
    ops = [{"op": name, "count": n, "edgetpu": name in EDGETPU_OPS} for name, n in sorted(counts.items())]
    return {
        "ops": ops,
        "float_tensors": float_tensors,
        "dynamic_shapes": dynamic,
        "edgetpu_ready": all(op["edgetpu"] for op in ops) and not float_tensors and not dynamic,
    }


def edgetpu_fix(report: dict[str, Any], mode: str) -> str | None:
    """What to type to make a model the report calls not Edge TPU ready (None when it is ready): the report's
    last line, so a first conversion ends with the next command rather than a verdict."""
    if report["edgetpu_ready"]:
        return None
    if mode != "int8" or report["float_tensors"]:
        fix = "convert with --int8 --edgetpu: the Edge TPU runs integers only"
    elif report["dynamic_shapes"]:
        fix = "convert again with --edgetpu: it fixes the batch at 1"
    else:
        fix = "its ops marked False run on the CPU: change the architecture to map them"
    return f"{fix}; {COMPILER} then compiles it (install it from docs/coral.md if absent)"


def compile_for_edgetpu(model: Path, out_dir: Path) -> Path:
    """Run edgetpu_compiler on ``model``; returns the ``*_edgetpu.tflite`` it writes.

    EdgetpuCompilerMissing when it is not installed, EdgeEmotionError when it fails.
    """
    compiler = shutil.which(COMPILER)
    if compiler is None:
        raise EdgetpuCompilerMissing
    result = subprocess.run(
        [compiler, "--out_dir", str(out_dir), "--show_operations", str(model)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    compiled = out_dir / f"{model.stem}_edgetpu.tflite"
    if result.returncode != 0 or not compiled.is_file():
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise EdgeEmotionError(f"edgetpu_compiler failed: {detail[-1] if detail else 'no output'}")
    return compiled
