"""The faces a run trains and picks its best epoch on, as its flags name them."""

from collections.abc import Mapping
from pathlib import Path

from edge_emotion.errors import EdgeEmotionError
from edge_emotion.training.config import TrainConfig
from edge_emotion.training.data import FaceFiles, FaceSet, canonical_split, folder_splits, load_splits

# An image folder's split of more faces than this is read from disk while training, not held in memory
# (FER2013's 28,709 training faces stay in memory: about 0.4 GB as model inputs).
STREAM_ABOVE = 50_000


def load_split_pair(config: TrainConfig, *, streaming: bool = False) -> tuple[FaceSet | FaceFiles, FaceSet | FaceFiles]:
    """The training and validation faces the config names, each checked to be non-empty.

    With ``streaming``, a split of an image folder stays on disk (FaceFiles) when it holds
    more than STREAM_ABOVE faces, or whatever its size with ``--stream``; else FaceSets.
    """
    data = Path(config.data)
    ferplus = Path(config.ferplus) if config.ferplus else None
    splits = [config.train_split, config.val_split]
    if streaming and config.stream and data.is_file():
        raise EdgeEmotionError(f"{config.data}: --stream reads an image folder; a CSV is read whole (leave it out)")
    if streaming and data.is_dir() and ferplus is None:
        loaded: Mapping[str, FaceSet | FaceFiles] = folder_splits(data, splits, 0 if config.stream else STREAM_ABOVE)
    else:
        weight = config.ferplus_weight if ferplus else None
        loaded = load_splits(data, splits, ferplus, config.soft_labels, weight)
    train, val = (loaded[canonical_split(s)] for s in splits)
    if train.source == val.source:
        raise EdgeEmotionError(
            f"{config.data}: {config.train_split} and {config.val_split} are the same faces; "
            "give the data train/ and val/ (or test/) folders"
        )
    for name, faces in ((config.train_split, train), (config.val_split, val)):
        if len(faces) == 0:
            raise EdgeEmotionError(f"{config.data}: split {name} has no faces")
    return train, val
