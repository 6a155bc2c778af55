"""The TFLite interpreter from whichever runtime is installed: LiteRT, tflite-runtime, or TensorFlow.

Kept in one place so the rest of the device code never knows which runtime it got.
"""

import importlib
import logging
import os
from pathlib import Path
from typing import Any

from edge_emotion.errors import EdgeEmotionError

log = logging.getLogger(__name__)

RUNTIMES = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter", "tensorflow.lite")
EDGETPU_LIBRARY = "libedgetpu.so.1"
# Force one runtime, e.g. tflite_runtime.interpreter where only it matches the installed libedgetpu.
RUNTIME_VARIABLE = "EDGE_EMOTION_RUNTIME"


def runtime_module() -> Any:
    """The first importable runtime module, in order of preference (LiteRT first), or the forced one."""
    forced = os.environ.get(RUNTIME_VARIABLE)
    if forced and forced not in RUNTIMES:
        raise EdgeEmotionError(f"{RUNTIME_VARIABLE}={forced}: use one of {', '.join(RUNTIMES)}")
    for name in (forced,) if forced else RUNTIMES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        log.info("TFLite runtime: %s", name)
        return module
    raise EdgeEmotionError(
        f"no TFLite interpreter {'(' + forced + ') ' if forced else ''}installed; "
        "install one with: pip install ai-edge-litert"
    )


def load_edgetpu_delegate(runtime: Any) -> Any:
    """The Edge TPU delegate, or an error that says what is missing."""
    try:
        return runtime.load_delegate(EDGETPU_LIBRARY)
    except (ValueError, OSError) as error:
        raise EdgeEmotionError(
            f"cannot load the Edge TPU delegate {EDGETPU_LIBRARY} ({error}); install the Edge TPU "
            "runtime (libedgetpu1-std), plug in the Coral device, and use a model compiled by "
            "edgetpu_compiler (see docs/coral.md)"
        ) from None


def make_interpreter(model: Path, *, threads: int = 2, edgetpu: bool = False, reference: bool = False) -> Any:
    """An interpreter for ``model`` with tensors allocated.

    ``reference`` runs TFLite's built-in kernels without the XNNPACK delegate: slower, but
    their int8 arithmetic is the same on every CPU, which makes outputs comparable bit for
    bit across machines (XNNPACK picks per-CPU kernels that may round differently).
    """
    if not model.is_file():
        raise EdgeEmotionError(f"model not found: {model}")
    runtime = runtime_module()
    delegates = [load_edgetpu_delegate(runtime)] if edgetpu else None
    try:
        interpreter = runtime.Interpreter(model_path=str(model), num_threads=threads, experimental_delegates=delegates)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as error:
        raise EdgeEmotionError(f"{model}: not a TFLite model the interpreter can load ({error})") from None
    return interpreter
