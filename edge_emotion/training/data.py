"""Labelled 48x48 faces from FER2013's CSV, a folder-per-class image tree, and FER+ votes.

Everything here is numpy and OpenCV: the loaders return uint8 images and labels, and the
tf.data pipeline, the converter, the int8 check and ``evaluate`` all start from these arrays.
"""

import csv
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge_emotion.errors import EdgeEmotionError
from edge_emotion.labels import CLASS_NAMES, NUM_CLASSES
from edge_emotion.preprocess import IMAGE_SUFFIXES, INPUT_SIZE, resize_face, to_gray

log = logging.getLogger(__name__)
CSV_SPLITS = ("Training", "PublicTest", "PrivateTest")
CSV_COLUMNS = ("emotion", "pixels", "Usage")
# Short names a user may type; folders use these names (train/, val/, test/).
SPLIT_ALIASES = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}
# FER+ vote columns, in the file's order, mapped to FER2013 class ids (None: no FER2013 class).
FERPLUS_COLUMNS = (
    ("neutral", 6), ("happiness", 3), ("surprise", 5), ("sadness", 4), ("anger", 0),
    ("disgust", 1), ("fear", 2), ("contempt", None), ("unknown", None), ("NF", None),
)  # fmt: skip


@dataclass(frozen=True)
class FaceSet:
    """Faces of one split: images (N, 48, 48) uint8, targets (N, 7) float32 rows summing to 1.

    ``votes`` holds, where FER+ was read, each face's FER+ votes for the seven classes (all zero
    where the plurality of the ten annotators is contempt, unknown or not-a-face).
    """

    images: np.ndarray
    targets: np.ndarray
    source: str
    votes: np.ndarray | None = None

    @property
    def labels(self) -> np.ndarray:
        """Hard labels: the most likely class of each target row."""
        return self.targets.argmax(axis=1)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def human(self) -> np.ndarray | None:
        """Each face's FER+ majority class, -1 where it is none of the seven: the second label set
        every score is reported on (None without FER+)."""
        return None if self.votes is None else majority(self.votes)

    def subset(self, index: np.ndarray) -> "FaceSet":
        votes = None if self.votes is None else self.votes[index]
        return FaceSet(self.images[index], self.targets[index], self.source, votes)


def one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(NUM_CLASSES, dtype=np.float32)[labels]


def canonical_split(split: str) -> str:
    """'train', 'training', 'Training' -> 'Training'; an unknown name is an error."""
    for name in CSV_SPLITS:
        if split.lower() == name.lower():
            return name
    if split.lower() in SPLIT_ALIASES:
        return SPLIT_ALIASES[split.lower()]
    raise EdgeEmotionError(
        f"unknown split {split!r}; use one of {', '.join(CSV_SPLITS)} (or {', '.join(SPLIT_ALIASES)})"
    )


@contextmanager
def _csv_rows(path: Path, expected: str, reader: Callable[..., Any] = csv.DictReader) -> Iterator[Any]:
    """A ``reader`` (DictReader, or csv.reader for rows as lists) over the CSV at ``path``, a UTF-8
    byte-order mark allowed; bytes that are not text and broken CSV become one error naming the
    file and what it should hold."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = reader(handle)
        try:
            yield rows
        except UnicodeDecodeError:
            raise EdgeEmotionError(f"{path}: not a text CSV (it holds bytes that are not UTF-8); {expected}") from None
        except csv.Error as error:
            raise EdgeEmotionError(f"{path}:{rows.line_num}: not a valid CSV ({error}); {expected}") from None


def _parse_row(row: list[str], columns: list[int], line: int, path: Path) -> tuple[int, np.ndarray, str]:
    """A FER2013 row (a list, its columns at ``columns``) as (label, 48x48 uint8 face, Usage).

    The pixels are parsed by numpy in C, not split into 2,304 Python strings: a FER2013 CSV
    loads about four times faster.
    """
    missing = [name for name, column in zip(CSV_COLUMNS, columns, strict=True) if column >= len(row)]
    if missing:
        raise EdgeEmotionError(f"{path}:{line}: no {', '.join(missing)} field; every row is emotion,pixels,Usage")
    emotion, text, usage = (row[column] for column in columns)
    try:
        label = int(emotion)
    except ValueError:
        raise EdgeEmotionError(f"{path}:{line}: emotion {emotion!r} is not a number") from None
    if not 0 <= label < NUM_CLASSES:
        raise EdgeEmotionError(f"{path}:{line}: unknown label {label}; labels are 0..{NUM_CLASSES - 1}")
    try:
        pixels = np.fromstring(text, dtype=np.int64, sep=" ")  # whitespace-separated integers, or ValueError
    except ValueError:
        pixels = None
    if pixels is not None and pixels.size != INPUT_SIZE * INPUT_SIZE:
        raise EdgeEmotionError(f"{path}:{line}: {pixels.size} pixels, expected {INPUT_SIZE * INPUT_SIZE} (48x48)")
    if pixels is None or pixels.min() < 0 or pixels.max() > 255:
        raise EdgeEmotionError(f"{path}:{line}: pixels must be integers 0..255")
    return label, pixels.astype(np.uint8).reshape(INPUT_SIZE, INPUT_SIZE), usage


def read_fer_csv(path: Path) -> tuple[dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], int]:
    """Every split of a FER2013 CSV, {split: (row numbers, images, labels)}, and the number of rows.

    Rows whose Usage is none of the three splits are skipped, counted in one warning.
    """
    if not path.is_file():
        raise EdgeEmotionError(f"data file not found: {path}")
    rows: dict[str, tuple[list[int], list[np.ndarray], list[int]]] = {}
    skipped: Counter[str] = Counter()
    with _csv_rows(path, "expected FER2013's emotion,pixels,Usage", csv.reader) as reader:
        header: list[str] = next(reader, [])
        missing = set(CSV_COLUMNS) - set(header)
        if missing:
            raise EdgeEmotionError(
                f"{path}: not a FER2013 CSV (missing column {', '.join(sorted(missing))}); "
                "expected the header emotion,pixels,Usage"
            )
        columns = [header.index(name) for name in CSV_COLUMNS]
        for index, row in enumerate(filter(None, reader)):  # blank lines skipped, as DictReader skips them
            label, image, usage = _parse_row(row, columns, reader.line_num, path)
            if usage not in CSV_SPLITS:
                skipped[usage] += 1
                continue
            numbers, images, labels = rows.setdefault(usage, ([], [], []))
            numbers.append(index)
            images.append(image)
            labels.append(label)
    if skipped:
        log.warning(
            "%s: skipped %d rows whose Usage is not one of %s (%s)",
            path, skipped.total(), ", ".join(CSV_SPLITS), ", ".join(f"{k!r}: {n}" for k, n in skipped.most_common()),
        )  # fmt: skip
    table = {
        split: (np.array(numbers), np.stack(images), np.array(labels))
        for split, (numbers, images, labels) in rows.items()
    }
    return table, sum(len(numbers) for numbers, _, _ in rows.values()) + skipped.total()


def read_ferplus(path: Path, usages: np.ndarray) -> np.ndarray:
    """FER+ votes (rows, 7) in FER2013's class order, checked row by row against the FER2013 CSV's ``usages``.

    Votes for contempt, unknown and not-a-face have no FER2013 class: a row whose plurality is
    one of them gets all zeros, so ``majority`` leaves it out.
    """
    if not path.is_file():
        raise EdgeEmotionError(f"FER+ file not found: {path}")
    names = [name for name, _ in FERPLUS_COLUMNS]
    with _csv_rows(path, f"expected FER+ vote columns {','.join(names)}") as reader:
        if not set(names) <= set(reader.fieldnames or ()):
            raise EdgeEmotionError(f"{path}: not a FER+ file (expected vote columns {','.join(names)})")
        rows = list(reader)
    try:
        votes = np.array([[float(row[n]) for n in names] for row in rows], dtype=np.float32)
    except (TypeError, ValueError):
        raise EdgeEmotionError(f"{path}: vote counts must be numbers") from None
    if len(votes) != len(usages):
        raise EdgeEmotionError(f"{path}: {len(votes)} rows, but the FER2013 CSV has {len(usages)}")
    if "Usage" in (reader.fieldnames or ()):
        # Rows FER2013's reader skipped (an unknown Usage) have no usage to compare.
        differ = np.flatnonzero((np.array([row["Usage"] for row in rows]) != usages) & (usages != ""))
        if differ.size:
            raise EdgeEmotionError(
                f"{path}: row {differ[0] + 2} is {rows[differ[0]]['Usage']}, but the FER2013 CSV's row is "
                f"{usages[differ[0]]}: the files are not in the same order"
            )
    seven = np.zeros((len(votes), NUM_CLASSES), dtype=np.float32)
    for column, (_, class_id) in enumerate(FERPLUS_COLUMNS):
        if class_id is not None:
            seven[:, class_id] = votes[:, column]
    plurality_kept = np.array([FERPLUS_COLUMNS[i][1] is not None for i in votes.argmax(axis=1)])
    return np.where(plurality_kept[:, None], seven, 0.0).astype(np.float32)


def majority(votes: np.ndarray) -> np.ndarray:
    """Each face's FER+ majority class, or -1 where no FER2013 class leads (``read_ferplus``'s zero rows)."""
    return np.where(votes.sum(axis=1) > 0, votes.argmax(axis=1), -1)


def check_vote_weight(weight: float) -> None:
    if not 0.0 <= weight <= 1.0:
        raise EdgeEmotionError(f"the FER+ vote weight must be within 0..1, got {weight}")


def blended_targets(labels: np.ndarray, votes: np.ndarray, weight: float, soft: bool) -> np.ndarray:
    """``(1 - weight) * FER2013's one-hot + weight * FER+`` (the vote distribution with ``soft``, else its
    majority one-hot), for faces whose FER+ majority is one of the seven classes."""
    check_vote_weight(weight)
    human = votes / votes.sum(axis=1, keepdims=True) if soft else one_hot(majority(votes))
    return ((1.0 - weight) * one_hot(labels) + weight * human).astype(np.float32)


def _not_an_image(file: Path) -> EdgeEmotionError:
    return EdgeEmotionError(f"{file}: not an image (remove it from the data folder)")


def read_face_image(file: Path) -> np.ndarray:
    """A face image file as 48x48 uint8 grey; 16-bit images (PNG, TIFF) are scaled to 8 bits, 65535 to 255."""
    image = cv2.imread(str(file), cv2.IMREAD_UNCHANGED)  # keeps the bit depth, so it can be scaled right
    if file.suffix.lower() not in IMAGE_SUFFIXES or image is None:
        raise _not_an_image(file)
    if image.dtype == np.uint16:
        image = np.round(image / (65535 / 255)).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise EdgeEmotionError(f"{file}: {image.dtype} pixels; save faces as 8- or 16-bit images")
    return resize_face(to_gray(image))


@dataclass(frozen=True)
class FaceFiles:
    """Faces of one split left on disk: image files and their targets, read batch by batch while training."""

    paths: tuple[str, ...]
    targets: np.ndarray
    source: str

    @property
    def labels(self) -> np.ndarray:
        return self.targets.argmax(axis=1)

    def __len__(self) -> int:
        return len(self.paths)

    def read(self) -> FaceSet:
        """Every face in memory, through the same ``read_face_image`` the stream decodes with."""
        return FaceSet(np.stack([read_face_image(Path(path)) for path in self.paths]), self.targets, self.source)


def list_image_folder(folder: Path) -> FaceFiles:
    """A folder with one subfolder per class name (angry/, happy/, ...) of face images, listed, not read."""
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir())
    if not subfolders:
        raise EdgeEmotionError(f"{folder}: no class folders; expected subfolders named {', '.join(CLASS_NAMES)}")
    unknown = [p.name for p in subfolders if p.name.lower() not in CLASS_NAMES]
    if unknown:
        raise EdgeEmotionError(
            f"{folder}: unknown class folder(s) {', '.join(unknown)}; class folders are named {', '.join(CLASS_NAMES)}"
        )
    paths, labels = [], []
    for subfolder in subfolders:
        label = CLASS_NAMES.index(subfolder.name.lower())
        for file in sorted(subfolder.iterdir()):
            if file.name.startswith("."):
                continue
            if file.suffix.lower() not in IMAGE_SUFFIXES:  # found now, not in the middle of a streamed epoch
                raise _not_an_image(file)
            paths.append(str(file))
            labels.append(label)
    if not paths:
        raise EdgeEmotionError(f"{folder}: the class folders hold no images")
    return FaceFiles(tuple(paths), one_hot(np.array(labels)), str(folder))


def read_image_folder(folder: Path) -> FaceSet:
    """A folder of class folders, every face read into memory."""
    return list_image_folder(folder).read()


def folder_splits(root: Path, splits: list[str], stream_above: int) -> dict[str, FaceSet | FaceFiles]:
    """Splits of an image tree; one of more than ``stream_above`` images stays on disk, to be streamed."""
    result: dict[str, FaceSet | FaceFiles] = {}
    for split in splits:
        files = list_image_folder(_folder_split(root, split))
        result[canonical_split(split)] = files if len(files) > stream_above else files.read()
    return result


def _folder_split(root: Path, split: str) -> Path:
    """The subfolder of ``root`` that holds ``split``: train/ or Training/, val/, test/ ..."""
    canonical = canonical_split(split)
    names = {canonical.lower()} | {k for k, v in SPLIT_ALIASES.items() if v == canonical}
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        if child.name.lower() in names:
            return child
    if any(p.name.lower() in CLASS_NAMES for p in root.iterdir() if p.is_dir()):
        return root
    raise EdgeEmotionError(
        f"{root}: no folder for split {canonical} (looked for {', '.join(sorted(names))}); "
        "name a split folder that exists, e.g. --val-split test"
    )


def load_faces(
    data: Path, split: str, ferplus: Path | None = None, soft: bool = False, weight: float | None = None
) -> FaceSet:
    """One split of a FER2013 CSV or image tree; ``ferplus`` adds FER+ majorities (see ``load_csv_splits``)."""
    if not data.exists():
        raise EdgeEmotionError(f"data not found: {data}")
    if data.is_dir():
        if ferplus is not None:
            raise EdgeEmotionError("FER+ labels go with the FER2013 CSV, not with an image folder")
        return read_image_folder(_folder_split(data, split))
    return load_csv_splits(data, [split], ferplus, soft, weight)[canonical_split(split)]


def load_splits(
    data: Path, splits: list[str], ferplus: Path | None = None, soft: bool = False, weight: float | None = None
) -> dict[str, FaceSet]:
    """Several splits of one data set, keyed by canonical split name; a CSV is parsed once for all."""
    if data.is_file():
        return load_csv_splits(data, splits, ferplus, soft, weight)
    return {canonical_split(split): load_faces(data, split, ferplus, soft, weight) for split in splits}


def load_csv_splits(
    data: Path, splits: list[str], ferplus: Path | None = None, soft: bool = False, weight: float | None = None
) -> dict[str, FaceSet]:
    """Several splits of one CSV, read once.

    With ``ferplus`` every face carries its FER+ votes (``FaceSet.votes``, ``.human``). Scoring leaves
    ``weight`` None: every face, FER2013's labels as targets. Training gives a ``weight``: only
    faces whose FER+ majority is one of the seven classes, targets blended (``blended_targets``).
    """
    table, total = read_fer_csv(data)
    votes = None
    if ferplus is not None:
        usages = np.full(total, "", dtype=object)
        for split_name, (numbers, _, _) in table.items():
            usages[numbers] = split_name
        votes = read_ferplus(ferplus, usages)
    result = {}
    for split in map(canonical_split, splits):
        if split not in table:
            have = f"Usage column has {', '.join(table)}" if table else "no rows with a known Usage"
            raise EdgeEmotionError(f"{data}: split {split} is empty ({have})")
        numbers, images, labels = table[split]
        if votes is None:
            result[split] = FaceSet(images, one_hot(labels), f"{data}:{split}")
            continue
        split_votes = votes[numbers]
        if weight is None:
            result[split] = FaceSet(images, one_hot(labels), f"{data}:{split}", split_votes)
            continue
        keep = majority(split_votes) >= 0
        targets = blended_targets(labels[keep], split_votes[keep], weight, soft)
        result[split] = FaceSet(images[keep], targets, f"{data}:{split}+FER+", split_votes[keep])
    return result


def stratified_sample(faces: FaceSet, count: int, seed: int) -> FaceSet:
    """``count`` faces with the class mix of ``faces``, reproducible from ``seed``."""
    if count >= len(faces):
        return faces
    rng = np.random.default_rng(seed)
    labels = faces.labels
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        share = max(1, round(count * len(members) / len(faces)))
        chosen.append(rng.choice(members, size=min(share, len(members)), replace=False))
    index = np.concatenate(chosen)
    return faces.subset(np.sort(rng.permutation(index)[:count]))
