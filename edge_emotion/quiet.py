"""Native libraries' own console lines, kept off the terminal unless the user asked for them (``-v``).

TensorFlow's C++ start-up (oneDNN, CPU features, absl's "All log messages before
absl::InitializeLog() is called are written to STDERR"), the TFLite converter's
``fully_quantize: 0, inference_type: 6 ...`` and LiteRT's "Created TensorFlow Lite XNNPACK
delegate for CPU." are written by C++ straight to file descriptors 1 and 2, past Python's
``sys.stdout``; ``native_output_hidden`` points those descriptors at /dev/null for the call
that prints them. Only the standard library here: the device side imports this module.
"""

import contextlib
import logging
import os
import sys
from collections.abc import Iterator


def verbose() -> bool:
    """Whether the user asked to see what happens: ``-v`` sets logging to INFO (a Python user may too)."""
    return logging.getLogger("edge_emotion").isEnabledFor(logging.INFO)


@contextlib.contextmanager
def native_output_hidden(*descriptors: int) -> Iterator[None]:
    """What C++ code writes to ``descriptors`` (1: stdout, 2: stderr) in this block goes nowhere,
    unless ``verbose()``. Another thread's output in the same moment goes with it: use it
    around a call that prints, not around a loop."""
    if verbose():
        yield
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()  # what Python wrote before the block still shows
    with contextlib.ExitStack() as restore:
        null = os.open(os.devnull, os.O_WRONLY)
        restore.callback(os.close, null)
        for descriptor in descriptors:
            try:
                saved = os.dup(descriptor)
            except OSError:  # closed (a daemon): nothing to hide
                continue
            restore.callback(os.close, saved)
            restore.callback(os.dup2, saved, descriptor)
            os.dup2(null, descriptor)
        yield
