from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_emotion.errors import EdgeEmotionError
from edge_emotion.labels import CLASS_NAMES
from edge_emotion.training.data import (
    blended_targets,
    load_csv_splits,
    load_faces,
    majority,
    read_ferplus,
    stratified_sample,
)

PIXELS = " ".join(["7"] * 2304)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "faces.csv"
    path.write_text(text)
    return path


def test_csv_splits_have_images_and_labels(fer_csv: Path) -> None:
    splits = load_csv_splits(fer_csv, ["Training", "PublicTest", "PrivateTest"])
    train = splits["Training"]
    assert train.images.shape == (30 * 7, 48, 48)
    assert train.images.dtype == np.uint8
    assert np.bincount(train.labels).tolist() == [30] * 7
    assert np.allclose(train.targets.sum(axis=1), 1.0)
    assert len(splits["PublicTest"]) == 8 * 7


def test_split_aliases(fer_csv: Path) -> None:
    assert len(load_faces(fer_csv, "val")) == len(load_faces(fer_csv, "publictest")) == 56
    with pytest.raises(EdgeEmotionError, match="unknown split"):
        load_faces(fer_csv, "holdout")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("emotion,pixels\n1,2 3\n", "missing column Usage"),
        (f"emotion,pixels,Usage\n9,{PIXELS},Training\n", "unknown label 9"),
        (f"emotion,pixels,Usage\nhappy,{PIXELS},Training\n", "is not a number"),
        ("emotion,pixels,Usage\n1,1 2 3,Training\n", "3 pixels, expected 2304"),
        (f"emotion,pixels,Usage\n1,{PIXELS.replace('7', 'x', 1)},Training\n", "integers"),
        (f"emotion,pixels,Usage\n1,{PIXELS.replace('7', '300', 1)},Training\n", "0..255"),
        (f"emotion,pixels,Usage\n1,{PIXELS.replace('7', '-1', 1)},Training\n", "integers 0..255"),
        (f"emotion,pixels,Usage\n1,{PIXELS.replace('7', '7.5', 1)},Training\n", "integers 0..255"),
        (f"emotion,pixels,Usage\n1,{PIXELS.replace('7', '9' * 30, 1)},Training\n", "integers 0..255"),
        (f"emotion,pixels,Usage\n1,{PIXELS},Training\n2,{PIXELS[2:]},Training\n", r"faces.csv:3: 2303 pixels"),
    ],
)
def test_malformed_csv_names_the_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(EdgeEmotionError, match=message):
        load_faces(write(tmp_path, text), "Training")


def test_empty_split_and_missing_file(tmp_path: Path) -> None:
    path = write(tmp_path, f"emotion,pixels,Usage\n1,{PIXELS},Training\n")
    with pytest.raises(EdgeEmotionError, match="split PublicTest is empty"):
        load_faces(path, "PublicTest")
    with pytest.raises(EdgeEmotionError, match="not found"):
        load_faces(tmp_path / "absent.csv", "Training")


def test_image_tree(image_tree: Path) -> None:
    train = load_faces(image_tree, "Training")
    test = load_faces(image_tree, "test")
    assert train.images.shape == (6 * 7, 48, 48)
    assert len(test) == 3 * 7
    assert sorted(set(train.labels.tolist())) == list(range(7))


def test_missing_split_folder_names_what_to_pass(image_tree: Path) -> None:
    with pytest.raises(EdgeEmotionError, match="--val-split test"):
        load_faces(image_tree, "PublicTest")


def test_image_tree_errors(tmp_path: Path) -> None:
    (tmp_path / "train" / "joy").mkdir(parents=True)
    with pytest.raises(EdgeEmotionError, match="unknown class folder"):
        load_faces(tmp_path, "train")
    (tmp_path / "train" / "joy").rmdir()
    (tmp_path / "train" / "happy").mkdir()
    (tmp_path / "train" / "happy" / "notes.txt").write_text("not a face")
    with pytest.raises(EdgeEmotionError, match="not an image"):
        load_faces(tmp_path, "train")


def test_image_tree_resizes_and_greys(tmp_path: Path) -> None:
    folder = tmp_path / "sad"
    folder.mkdir()
    cv2.imwrite(str(folder / "big.jpg"), np.full((96, 80, 3), 120, np.uint8))
    faces = load_faces(tmp_path, "test")
    assert faces.images.shape == (1, 48, 48)
    assert faces.labels.tolist() == [CLASS_NAMES.index("sad")]


FERPLUS_HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"


def test_ferplus_majority_soft_and_left_out_rows(tmp_path: Path) -> None:
    rows = [
        "Training,a,0,8,2,0,0,0,0,0,0,0",  # happy by majority
        "Training,b,1,0,0,0,0,0,0,0,9,0",  # unknown: left out
        "Training,c,0,0,0,0,0,0,0,0,0,10",  # not a face: left out
        "Training,d,4,0,0,0,6,0,0,0,0,0",  # angry 0.6 / neutral 0.4
    ]
    path = write(tmp_path, FERPLUS_HEADER + "\n".join(rows) + "\n")
    votes = read_ferplus(path, np.array(["Training"] * 4))
    assert majority(votes).tolist() == [CLASS_NAMES.index("happy"), -1, -1, CLASS_NAMES.index("angry")]
    hard = blended_targets(np.array([3, 0]), votes[[0, 3]], weight=1.0, soft=False)
    assert hard[1].tolist() == np.eye(7)[CLASS_NAMES.index("angry")].tolist()
    soft = blended_targets(np.array([3, 6]), votes[[0, 3]], weight=1.0, soft=True)
    assert soft[1][CLASS_NAMES.index("angry")] == pytest.approx(0.6)
    assert soft[1][CLASS_NAMES.index("neutral")] == pytest.approx(0.4)
    # Half FER2013's label (neutral, 6), half the votes: neutral 0.5 + 0.2, angry 0.3.
    half = blended_targets(np.array([6]), votes[[3]], weight=0.5, soft=True)[0]
    assert half[CLASS_NAMES.index("neutral")] == pytest.approx(0.7)
    assert half[CLASS_NAMES.index("angry")] == pytest.approx(0.3)
    assert blended_targets(np.array([6]), votes[[3]], weight=0.0, soft=True)[0].argmax() == 6
    with pytest.raises(EdgeEmotionError, match="4 rows, but the FER2013 CSV has 5"):
        read_ferplus(path, np.array(["Training"] * 5))
    with pytest.raises(EdgeEmotionError, match=r"within 0\.\.1"):
        blended_targets(np.array([6]), votes[[3]], weight=1.5, soft=True)


def test_ferplus_rows_must_follow_the_csv_order(tmp_path: Path, fer_csv: Path) -> None:
    """A FER+ file for another ordering of the data set is refused, not silently misaligned."""
    usages = ["Training"] * 210 + ["PublicTest"] * 56 + ["PrivateTest"] * 56
    lines = [f"{usage},x,1,9,0,0,0,0,0,0,0,0" for usage in usages]
    aligned = write(tmp_path, FERPLUS_HEADER + "\n".join(lines) + "\n")
    faces = load_faces(fer_csv, "PublicTest", aligned)
    assert faces.human.tolist() == [CLASS_NAMES.index("happy")] * 56
    assert faces.labels.tolist() != faces.human.tolist()  # the targets stay FER2013's for scoring
    lines[215] = "Training,x,1,9,0,0,0,0,0,0,0,0"
    shuffled = tmp_path / "shuffled.csv"
    shuffled.write_text(FERPLUS_HEADER + "\n".join(lines) + "\n")
    with pytest.raises(EdgeEmotionError, match="row 217 is Training, but the FER2013 CSV's row is PublicTest"):
        load_faces(fer_csv, "PublicTest", shuffled)


def test_training_targets_blend_and_leave_out_faces_without_a_seven_class_majority(
    tmp_path: Path, fer_csv: Path
) -> None:
    usages = ["Training"] * 210 + ["PublicTest"] * 56 + ["PrivateTest"] * 56
    lines = [f"{usage},x,1,9,0,0,0,0,0,0,0,0" for usage in usages]
    lines[0] = "Training,x,0,0,0,0,0,0,0,0,0,10"  # not a face
    votes = write(tmp_path, FERPLUS_HEADER + "\n".join(lines) + "\n")
    train = load_faces(fer_csv, "Training", votes, soft=True, weight=0.5)
    assert len(train) == 209
    happy = CLASS_NAMES.index("happy")
    plain = load_faces(fer_csv, "Training").labels[1:]
    assert np.allclose(train.targets[:, happy], np.where(plain == happy, 0.5, 0.0) + 0.45)
    assert np.allclose(train.targets.sum(axis=1), 1.0)


def test_stratified_sample_keeps_class_mix_and_is_seeded(fer_csv: Path) -> None:
    faces = load_faces(fer_csv, "Training")
    sample = stratified_sample(faces, 70, seed=3)
    assert len(sample) == 70
    assert np.bincount(sample.labels).tolist() == [10] * 7
    again = stratified_sample(faces, 70, seed=3)
    assert np.array_equal(sample.images, again.images)
    assert not np.array_equal(sample.images, stratified_sample(faces, 70, seed=4).images)


def test_real_fer2013_class_counts(real_fer_csv: Path) -> None:
    splits = load_csv_splits(real_fer_csv, ["Training", "PrivateTest"])
    assert np.bincount(splits["Training"].labels).tolist() == [3995, 436, 4097, 7215, 4830, 3171, 4965]
    assert len(splits["PrivateTest"]) == 3589


def test_a_csv_with_a_byte_order_mark_reads_like_one_without(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_text(f"emotion,pixels,Usage\n3,{PIXELS},Training\n", encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert load_faces(path, "Training").labels.tolist() == [3]


def test_rows_of_an_unknown_usage_are_skipped_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rows = [f"1,{PIXELS},Training", f"2,{PIXELS},Validation", f"3,{PIXELS},Validation", f"4,{PIXELS},"]
    path = write(tmp_path, "emotion,pixels,Usage\n" + "\n".join(rows) + "\n")
    splits = load_csv_splits(path, ["Training"])
    assert splits["Training"].labels.tolist() == [1]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "skipped 3 rows" in warnings[0] and "'Validation': 2" in warnings[0] and "'': 1" in warnings[0]


def test_ferplus_rows_align_when_fer2013_rows_are_skipped(tmp_path: Path) -> None:
    rows = [f"0,{PIXELS},Training", f"0,{PIXELS},Unused", f"0,{PIXELS},Training"]
    path = write(tmp_path, "emotion,pixels,Usage\n" + "\n".join(rows) + "\n")
    votes = tmp_path / "ferplus.csv"
    header = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"
    happy, neutral = "Training,a,0,9,0,0,0,0,0,0,0,0", "Training,b,9,0,0,0,0,0,0,0,0,0"
    skipped = "PrivateTest,c,0,9,0,0,0,0,0,0,0,0"  # the FER2013 row is skipped: its Usage is not compared
    votes.write_text(header + "\n".join([happy, skipped, neutral]) + "\n")
    faces = load_csv_splits(path, ["Training"], ferplus=votes)["Training"]
    assert faces.human.tolist() == [CLASS_NAMES.index("happy"), CLASS_NAMES.index("neutral")]
    trained = load_csv_splits(path, ["Training"], ferplus=votes, weight=1.0)["Training"]
    assert trained.labels.tolist() == [CLASS_NAMES.index("happy"), CLASS_NAMES.index("neutral")]


def test_sixteen_bit_images_are_scaled_to_eight_bits(tmp_path: Path) -> None:
    folder = tmp_path / "happy"
    folder.mkdir()
    gradient = np.tile(np.linspace(0, 65535, 48).round().astype(np.uint16), (48, 1))
    cv2.imwrite(str(folder / "deep.png"), gradient)
    cv2.imwrite(str(folder / "plain.png"), np.round(gradient / 257).astype(np.uint8))
    assert cv2.imread(str(folder / "deep.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    faces = load_faces(tmp_path, "test")
    assert faces.images.dtype == np.uint8
    assert faces.images[0].max() == 255 and faces.images[0].min() == 0
    np.testing.assert_array_equal(faces.images[0], faces.images[1])


def test_pixels_may_be_separated_by_any_whitespace(tmp_path: Path) -> None:
    loose = "  " + "\t".join(PIXELS.split()[:1000]) + "   " + "  ".join(PIXELS.split()[1000:]) + " "
    path = write(tmp_path, f'emotion,pixels,Usage\n\n2,"{loose}",Training\n\n3,{PIXELS},Training\n')
    faces = load_faces(path, "Training")
    assert faces.labels.tolist() == [2, 3]
    assert (faces.images == 7).all()
