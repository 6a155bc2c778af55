"""The TFLite interpreter from whichever runtime is installed: LiteRT, tflite-runtime, or TensorFlow.

Kept in one place so the rest of the device code never knows which runtime it got.
"""

import gc
import importlib
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edge_emotion.errors import EdgeEmotionError
from edge_emotion.quiet import native_output_hidden

log = logging.getLogger(__name__)

RUNTIMES = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter", "tensorflow.lite")
EDGETPU_LIBRARY = "libedgetpu.so.1"
# Force one runtime, e.g. tflite_runtime.interpreter where only it matches the installed libedgetpu.
RUNTIME_VARIABLE = "EDGE_EMOTION_RUNTIME"
# More threads than this buys nothing on a board and, far beyond it, crashes the runtime (100000 segfaults).
MAX_THREADS = 64


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


@contextmanager
def quiet_destructors() -> Iterator[None]:
    """Silence ``Exception ignored in ...__del__`` for the objects freed in this block.

    A delegate that fails to load is half built; LiteRT's ``Delegate.__del__`` then fails on
    it and Python prints a traceback after our one-line error. Log it instead.
    """
    hook = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: log.debug("ignored: %s", unraisable.exc_value)
    try:
        yield
        gc.collect()  # whatever a reference cycle still holds is freed here, not later
    finally:
        sys.unraisablehook = hook


def load_edgetpu_delegate(runtime: Any) -> Any:
    """The Edge TPU delegate, or an error that says what is missing."""
    with quiet_destructors():
        try:
            return runtime.load_delegate(EDGETPU_LIBRARY)
        except (ValueError, OSError) as error:
            reason = str(error)
    raise EdgeEmotionError(
        f"cannot load the Edge TPU delegate {EDGETPU_LIBRARY} ({reason}); install the Edge TPU "
        "runtime (libedgetpu1-std), plug in the Coral device, and use a model compiled by "
        "edgetpu_compiler (see docs/coral.md)"
    )


def op_resolver(runtime: Any, reference: bool) -> Any:
    """The runtime's op resolver: the default (built-in kernels, XNNPACK applied on top), or the
    built-in kernels alone for ``reference``. TensorFlow keeps the enum under ``tf.lite.experimental``."""
    kinds = getattr(runtime, "OpResolverType", None) or runtime.experimental.OpResolverType
    return kinds.BUILTIN_WITHOUT_DEFAULT_DELEGATES if reference else kinds.AUTO


def make_interpreter(
    model: Path, *, threads: int = 2, edgetpu: bool = False, reference: bool = False, allocate: bool = True
) -> Any:
    """An interpreter for ``model`` with tensors allocated; ``allocate=False`` leaves that to the caller,
    which can then resize a dynamic input first (allocated as it comes, a dynamic size is 1).

    ``reference`` runs TFLite's built-in kernels without the default XNNPACK delegate: a
    second, independent implementation of the same int8 ops, so outputs can be checked not
    to depend on the delegate (both still pick SIMD code per CPU, so neither is guaranteed
    bit-identical across machines).
    """
    if not 1 <= threads <= MAX_THREADS:
        raise EdgeEmotionError(f"threads={threads}: use 1 to {MAX_THREADS} interpreter threads")
    if not model.is_file():
        raise EdgeEmotionError(f"model not found: {model}")
    runtime = runtime_module()
    delegates = [load_edgetpu_delegate(runtime)] if edgetpu else None
    try:
        with native_output_hidden(2):  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
            interpreter = runtime.Interpreter(
                model_path=str(model), num_threads=threads, experimental_delegates=delegates,
                experimental_op_resolver_type=op_resolver(runtime, reference),
            )  # fmt: skip
            if allocate:
                interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as error:
        raise EdgeEmotionError(f"{model}: not a TFLite model the interpreter can load ({error})") from None
    return interpreter
