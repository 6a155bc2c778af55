"""A TFLite model's parameters and multiply-accumulates per face, read from the model itself,
and what this CPU achieves on it (ms per face and effective GMAC/s, batch 1).

    python benchmarks/model_cost.py [MODEL.tflite]
"""

import sys
from pathlib import Path

import numpy as np
from common import batch1_faces_per_second, save

from edge_emotion.device.engine.classifier import Classifier
from edge_emotion.device.engine.interpreter import runtime_module
from edge_emotion.shipped import shipped_model


def cost(model: Path) -> dict:
    """MACs of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED ops; parameters of their weights and biases."""
    interpreter = runtime_module().Interpreter(model_path=str(model))
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    macs = params = 0
    for op in interpreter._get_ops_details():
        if op["op_name"] not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        weights = tensors[op["inputs"][1]]["shape"]
        output = tensors[op["outputs"][0]]["shape"]
        positions = int(np.prod(output[1:-1])) if len(output) > 2 else 1
        per_position = int(np.prod(weights[1:])) * (int(weights[0]) if op["op_name"] != "DEPTHWISE_CONV_2D" else 1)
        macs += positions * per_position
        params += int(np.prod(weights)) + (
            int(np.prod(tensors[op["inputs"][2]]["shape"])) if len(op["inputs"]) > 2 and op["inputs"][2] >= 0 else 0
        )
    return {"macs": macs, "params": params, "bytes": model.stat().st_size}


def main() -> None:
    model = Path(sys.argv[1]) if len(sys.argv) > 1 else shipped_model()
    figures = {"model": model.name, **cost(model)}
    inputs = np.random.default_rng(0).random((64, 48, 48, 1), dtype=np.float32)
    for threads in (1, 2):
        rate = batch1_faces_per_second(Classifier(model, threads=threads).predict, inputs)
        figures[f"ms_per_face_{threads}_threads"] = round(1000 / rate, 3)
        figures[f"effective_gmacs_{threads}_threads"] = round(figures["macs"] * rate / 1e9, 2)
    save("model_cost", figures)


if __name__ == "__main__":
    main()
