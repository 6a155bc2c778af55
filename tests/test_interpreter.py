import gc
from pathlib import Path

import numpy as np
import pytest
from fakes import synthetic_faces

from edge_emotion.device.engine.classifier import Classifier, dequantize, quantize
from edge_emotion.device.engine.interpreter import MAX_THREADS, RUNTIME_VARIABLE, make_interpreter, runtime_module
from edge_emotion.errors import EdgeEmotionError
from edge_emotion.preprocess import scale
from edge_emotion.shipped import shipped_model


@pytest.mark.device
def test_quantize_round_trip_matches_the_int8_input_contract() -> None:
    detail = {"quantization": (1 / 255, -128), "dtype": np.int8}
    pixels = np.array([0, 1, 128, 255], dtype=np.float32) / 255
    q = quantize(pixels, detail)
    assert q.dtype == np.int8 and q.tolist() == [-128, -127, 0, 127]  # int8 = pixel - 128, exactly
    assert np.allclose(dequantize(q, detail), pixels)
    assert quantize(np.array([2.0]), detail).tolist() == [127]  # clipped, not wrapped


@pytest.mark.device
def test_float_tensors_pass_through() -> None:
    detail = {"quantization": (0.0, 0), "dtype": np.float32}
    values = np.array([0.25, 0.5], dtype=np.float32)
    assert np.array_equal(dequantize(quantize(values, detail), detail), values)


def test_a_runtime_can_be_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RUNTIME_VARIABLE, "tensorflow.lite")
    assert runtime_module().__name__ == "tensorflow.lite"
    monkeypatch.setenv(RUNTIME_VARIABLE, "tflite_runtime.interpreter")
    with pytest.raises(EdgeEmotionError, match=r"\(tflite_runtime.interpreter\) installed"):
        runtime_module()
    monkeypatch.setenv(RUNTIME_VARIABLE, "onnxruntime")
    with pytest.raises(EdgeEmotionError, match="use one of"):
        runtime_module()


@pytest.mark.device
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_missing_edgetpu_says_what_to_install_and_nothing_more() -> None:
    """The half-built delegate's failing ``__del__`` must not reach the user as a second traceback."""
    with pytest.raises(EdgeEmotionError, match="libedgetpu1-std"):
        make_interpreter(shipped_model(), edgetpu=True)
    gc.collect()  # a destructor left for later would fail here, inside the test


@pytest.mark.device
@pytest.mark.parametrize("threads", [0, -1, MAX_THREADS + 1, 100_000])
def test_thread_count_is_bounded(threads: int) -> None:
    with pytest.raises(EdgeEmotionError, match=f"1 to {MAX_THREADS}"):
        make_interpreter(shipped_model(), threads=threads)


@pytest.mark.device
def test_reference_runs_without_the_xnnpack_delegate() -> None:
    """The default interpreter hands the graph to XNNPACK (a DELEGATE node); ``reference`` does not."""
    default, reference = (
        make_interpreter(shipped_model(), reference=flag)._get_ops_details() for flag in (False, True)
    )
    assert "DELEGATE" in {op["op_name"] for op in default}
    assert {op["op_name"] for op in reference} == {"CONV_2D", "MAX_POOL_2D", "MEAN", "FULLY_CONNECTED", "SOFTMAX"}


@pytest.mark.device
def test_a_fixed_batch_model_answers_as_its_dynamic_batch_twin(tiny_model: Path, tiny_batch1_model: Path) -> None:
    """An Edge TPU model (batch fixed at 1) runs a frame's faces one by one, a dynamic one in one invoke:
    the same weights give the same probabilities, face for face, in order."""
    images, labels = synthetic_faces(2, seed=3)
    inputs = scale(images)
    dynamic, fixed = Classifier(tiny_model), Classifier(tiny_batch1_model)
    assert dynamic.dynamic_batch and not fixed.dynamic_batch
    together, one_by_one = dynamic.predict(inputs), fixed.predict(inputs)
    assert together.shape == one_by_one.shape == (len(images), 7)
    np.testing.assert_allclose(one_by_one, together, atol=1 / 256)  # at most one output step apart
    assert (together.argmax(axis=1) == labels).mean() > 0.9
    np.testing.assert_array_equal(one_by_one.argmax(axis=1), together.argmax(axis=1))
