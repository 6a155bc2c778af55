import numpy as np
import pytest

from edge_emotion.errors import EdgeEmotionError
from edge_emotion.training.models import available, build_model


def test_registry_lists_the_seed_and_vgg_family() -> None:
    assert {"seed", "vgg16", "vgg20", "vgg24", "vgg32"} <= set(available())
    with pytest.raises(EdgeEmotionError, match="choose one of"):
        build_model("resnet9000")


def test_seed_is_the_classic_sequential_recipe() -> None:
    model = build_model("seed")
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Conv2D") == 4 and kinds.count("MaxPooling2D") == 3
    assert kinds.count("Dropout") == 3 and kinds[-1] == "Dense"


@pytest.mark.parametrize("name", ["seed", "vgg16"])
def test_models_map_faces_to_seven_probabilities(name: str) -> None:
    model = build_model(name)
    probabilities = np.asarray(model(np.random.default_rng(0).random((3, 48, 48, 1), dtype=np.float32)))
    assert probabilities.shape == (3, 7)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_vgg_width_sets_the_size() -> None:
    assert build_model("vgg16").count_params() < build_model("vgg24").count_params() < 700_000
