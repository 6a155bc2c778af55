"""Every op's int8 output for fixed crops, saved to compare machines op by op.

Runs TFLite's built-in kernels (no XNNPACK) with all tensors kept and saves, for each op in
execution order, its output on the first eight crops (``op<index>_<NAME>`` in an .npz), and
the quantised input tensor of every crop (``input``), low-passed as ``Classifier.predict``
does it (the model's ``low_pass_sigma``, an OpenCV float blur). Comparing two machines'
files names the first tensor that differs, the input included, and by how much.

    python scripts/int8_tensors.py FACES.npy OUT.npz [MODEL.tflite]
"""

import sys
from pathlib import Path

import numpy as np

from edge_emotion.device.engine.classifier import quantize
from edge_emotion.device.engine.interpreter import op_resolver, runtime_module
from edge_emotion.metadata import read_metadata
from edge_emotion.preprocess import low_pass, scale
from edge_emotion.shipped import shipped_model


def main() -> None:
    model = Path(sys.argv[3]) if len(sys.argv) > 3 else shipped_model()
    metadata = read_metadata(model)
    faces = low_pass(scale(np.load(sys.argv[1])), metadata.low_pass_sigma if metadata else 0.0)
    runtime = runtime_module()
    interpreter = runtime.Interpreter(
        model_path=str(model), num_threads=1, experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=op_resolver(runtime, reference=True),
    )  # fmt: skip
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    ops = interpreter._get_ops_details()
    outputs: dict[str, list[np.ndarray]] = {f"op{op['index']:02d}_{op['op_name']}": [] for op in ops}
    inputs = np.stack([quantize(face[np.newaxis], detail)[0] for face in faces])
    for face in faces[:8]:
        interpreter.set_tensor(detail["index"], quantize(face[np.newaxis], detail))
        interpreter.invoke()
        for op, name in zip(ops, outputs, strict=True):
            outputs[name].append(interpreter.get_tensor(op["outputs"][0]).copy())
    np.savez(sys.argv[2], input=inputs, **{name: np.stack(values) for name, values in outputs.items()})


if __name__ == "__main__":
    main()
