"""Streamed image folders: the same faces as in memory, read from disk while training."""

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_emotion.errors import EdgeEmotionError
from edge_emotion.training import fit, splits
from edge_emotion.training.config import TrainConfig
from edge_emotion.training.data import FaceFiles, FaceSet, list_image_folder
from edge_emotion.training.pipeline import make_dataset


def pairs(dataset) -> list[tuple[bytes, int]]:
    """Every (image bytes, label) the dataset gives in one epoch, in its order."""
    return [
        (image.tobytes(), int(target.argmax()))
        for images, targets in dataset.as_numpy_iterator()
        for image, target in zip(images, targets, strict=True)
    ]


@pytest.mark.parametrize("train", [False, True])
def test_streamed_faces_are_the_faces_in_memory(image_tree: Path, train: bool) -> None:
    """The same (face, label) pairs, shapes and dtypes: the stream decodes through read_face_image and low_pass."""
    files = list_image_folder(image_tree / "train")
    options = {"train": train, "augment": False, "seed": 3, "low_pass_sigma": 0.8}
    streamed = make_dataset(files, 5, **options)
    in_memory = make_dataset(files.read(), 5, **options)
    assert streamed.element_spec == in_memory.element_spec
    got, expected = pairs(streamed), pairs(in_memory)
    assert len(got) == len(files) == 42
    assert got == expected  # even the order: both shuffle the same list with the same seed
    in_folder_order = pairs(make_dataset(files, 5, **{**options, "train": False}))
    assert (got == in_folder_order) is not train
    sharp = pairs(make_dataset(files, 5, **{**options, "low_pass_sigma": 0.0}))
    assert sorted(sharp) != sorted(got)  # the low-pass of the contract is applied


def test_a_streamed_split_is_jittered_and_cached(image_tree: Path, tmp_path: Path) -> None:
    files = list_image_folder(image_tree / "train")
    plain = sorted(pairs(make_dataset(files, 8, train=True, augment=False, seed=0)))
    jittered = make_dataset(files, 8, train=True, augment=True, seed=0)
    assert len(set(pairs(jittered)) & set(plain)) < len(files) // 4  # nearly every face moved
    cached = make_dataset(files, 8, train=True, augment=False, seed=0, cache=str(tmp_path / "faces"))
    first, second = pairs(cached), pairs(cached)
    assert sorted(first) == sorted(second) == plain and first != second  # reshuffled after the cache
    assert len(list(tmp_path.glob("faces-*.index"))) == 1


def test_big_folders_and_stream_stay_on_disk(image_tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = TrainConfig(data=str(image_tree), val_split="test")
    kinds = [type(faces) for faces in splits.load_split_pair(config, streaming=True)]
    assert kinds == [FaceSet, FaceSet]  # 42 and 21 faces: in memory
    monkeypatch.setattr(splits, "STREAM_ABOVE", 30)
    kinds = [type(faces) for faces in splits.load_split_pair(config, streaming=True)]
    assert kinds == [FaceFiles, FaceSet]
    streamed = TrainConfig(data=str(image_tree), val_split="test", stream=True)
    kinds = [type(faces) for faces in splits.load_split_pair(streamed, streaming=True)]
    assert kinds == [FaceFiles, FaceFiles]
    assert [type(faces) for faces in splits.load_split_pair(streamed)] == [FaceSet, FaceSet]  # members, evaluation


def test_stream_reads_folders_not_csvs(fer_csv: Path) -> None:
    with pytest.raises(EdgeEmotionError, match="--stream reads an image folder"):
        splits.load_split_pair(TrainConfig(data=str(fer_csv), stream=True), streaming=True)


def test_train_streams_a_folder(image_tree: Path, tiny_arch: str, tmp_path: Path) -> None:
    config = TrainConfig(
        data=str(image_tree), arch=tiny_arch, val_split="test", epochs=2, batch_size=16, stream=True,
        cache=str(tmp_path / "cache" / "faces"),
    )  # fmt: skip
    summary = fit.train(config=config, out=tmp_path / "run")
    assert summary["streamed"] is True and summary["epochs"] == 2 and summary["train_faces"] == 42
    assert len(list((tmp_path / "cache").glob("faces-*.index"))) == 2  # training and validation faces


def test_a_face_that_cannot_be_read_mid_stream_is_one_error(image_tree: Path, tiny_arch: str, tmp_path: Path) -> None:
    """A damaged file is found only when the stream reaches it: training stops with its name, not a traceback."""
    data = tmp_path / "data"
    for split in ("train", "test"):
        for image in (image_tree / split).rglob("*.png"):
            target = data / split / image.parent.name / image.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(image.read_bytes())
    broken = data / "train" / "happy" / "broken.png"
    broken.write_bytes(b"not a png")
    config = TrainConfig(data=str(data), arch=tiny_arch, val_split="test", epochs=1, stream=True)
    with pytest.raises(EdgeEmotionError, match=re.escape(f"{broken}: not an image")):
        fit.train(config=config, out=tmp_path / "run")


def test_list_image_folder_finds_a_stray_file_before_training(image_tree: Path, tmp_path: Path) -> None:
    folder = tmp_path / "faces"
    (folder / "sad").mkdir(parents=True)
    cv2.imwrite(str(folder / "sad" / "a.png"), np.zeros((48, 48), np.uint8))
    (folder / "sad" / "notes.txt").write_text("x")
    with pytest.raises(EdgeEmotionError, match=r"notes\.txt: not an image"):
        list_image_folder(folder)
