"""Training beyond one device and beyond memory, measured on this machine.

    python benchmarks/distribute.py [--faces 50000] [--small 5000]

1. Samples/s of ``--arch seed`` on one CPU device (default strategy) against a
   MirroredStrategy over two logical CPU devices: on one CPU the two replicas share the
   same cores, so expect no speed-up; the figure proves the path runs.
2. Images/s of a streamed folder of generated 64x64 PNG faces (decoded, grey, resized to
   48x48 by ``read_face_image``, low-passed, shuffled, batched) against faces in memory,
   and the up-front cost of reading them into memory; also a ``--cache``d second pass.
3. Peak memory (ru_maxrss of a child process) of training one epoch of a tiny model from
   a folder of ``--faces`` faces with ``--stream`` against ``--small`` faces in memory (the
   target: below 1.5x), and ``--faces`` in memory for contrast.

The folders are generated in a temporary folder and deleted afterwards.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from common import save

from edge_emotion.labels import CLASS_NAMES

VAL_FACES = 1000


def generate(folder: Path, count: int, seed: int) -> None:
    """``count`` 64x64 noisy grey faces in class folders, each class a bright bar at its own height."""
    rng = np.random.default_rng(seed)
    for name in CLASS_NAMES:
        (folder / name).mkdir(parents=True, exist_ok=True)
    noise = rng.integers(0, 90, size=(count, 64, 64), dtype=np.uint8)
    for index, face in enumerate(noise):
        label = index % len(CLASS_NAMES)
        face[4 + label * 8 : 10 + label * 8, 5:59] = 200
        cv2.imwrite(str(folder / CLASS_NAMES[label] / f"{index}.png"), face)


def data_set(root: Path, faces: int, seed: int) -> Path:
    generate(root / "train", faces, seed)
    generate(root / "val", VAL_FACES, seed + 1)
    return root


def child(*args: str) -> dict:
    """This script's ``--child ARGS`` in a fresh process (its own TensorFlow, devices and peak memory)."""
    result = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False, timeout=900
    )
    if result.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def replicas_child(count: int, faces: int) -> dict:
    """Samples/s of one timed epoch of --arch seed after a warm-up epoch, on ``count`` logical CPU devices."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    from edge_emotion.training.config import TrainConfig
    from edge_emotion.training.data import FaceSet, one_hot
    from edge_emotion.training.distribute import make_strategy
    from edge_emotion.training.fit import compile_model
    from edge_emotion.training.pipeline import make_dataset

    devices = tuple(f"/cpu:{i}" for i in range(count)) if count > 1 else ()
    strategy, _ = make_strategy("mirrored" if devices else "default", devices=devices)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(faces, 48, 48), dtype=np.uint8)
    data = make_dataset(FaceSet(images, one_hot(np.arange(faces) % 7), "noise"), 64, train=True, augment=False, seed=0)
    with strategy.scope():
        model = compile_model(TrainConfig(data="noise", arch="seed"), len(data))
    model.fit(data, epochs=1, verbose=0)  # traces the step
    started = time.perf_counter()
    model.fit(data, epochs=1, verbose=0)
    return {"replicas": strategy.num_replicas_in_sync, "samples_per_s": round(faces / (time.perf_counter() - started))}


def train_child(root: str, stream: bool) -> dict:
    """Peak memory of one epoch of a tiny model (augmented, batch 64) through ``train``."""
    from edge_emotion.preprocess import INPUT_SHAPE
    from edge_emotion.training.config import TrainConfig
    from edge_emotion.training.fit import train
    from edge_emotion.training.models import register
    from edge_emotion.training.tf_import import import_keras

    def tiny() -> object:
        keras = import_keras()
        layers = keras.layers
        return keras.Sequential(
            [
                keras.Input(INPUT_SHAPE),
                layers.Conv2D(8, 3, strides=2, activation="relu"),
                layers.GlobalAveragePooling2D(),
                layers.Dense(len(CLASS_NAMES), activation="softmax"),
            ]
        )

    register("bench-tiny")(tiny)
    with tempfile.TemporaryDirectory() as out:
        config = TrainConfig(data=root, arch="bench-tiny", val_split="val", epochs=1, stream=stream)
        summary = train(config=config, out=Path(out) / "run")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"streamed": summary["streamed"], "train_faces": summary["train_faces"], "peak_mib": round(peak)}


def images_per_second(dataset, limit: int) -> float:
    """Images/s of one pass over up to ``limit`` images, the pipeline's start-up included."""
    done, started = 0, time.perf_counter()
    for images, _ in dataset:
        done += len(images)
        if done >= limit:
            break
    return done / (time.perf_counter() - started)


def pipelines(root: Path, small: Path, limit: int) -> dict:
    """A streamed folder's images/s against the same pipeline over faces in memory, and what reading them costs."""
    from edge_emotion.training.data import list_image_folder
    from edge_emotion.training.pipeline import make_dataset

    options = {"train": True, "augment": False, "seed": 0, "low_pass_sigma": 0.7}
    files = list_image_folder(root / "train")
    streamed = images_per_second(make_dataset(files, 256, **options), limit)
    few = list_image_folder(small / "train")
    started = time.perf_counter()
    faces = few.read()
    read = len(few) / (time.perf_counter() - started)
    in_memory = images_per_second(make_dataset(faces, 256, **options), len(faces))
    with tempfile.TemporaryDirectory() as cache:
        cached = make_dataset(few, 256, cache=f"{cache}/faces", **options)
        first = images_per_second(cached, len(few))
        second = images_per_second(cached, len(few))
    return {
        "streamed_images_per_s": round(streamed),
        "streamed_images_timed": limit,
        "in_memory_images_per_s": round(in_memory),
        "read_into_memory_images_per_s": round(read),
        "cache_first_pass_images_per_s": round(first),
        "cache_second_pass_images_per_s": round(second),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=50_000)
    parser.add_argument("--small", type=int, default=5_000)
    parser.add_argument("--replica-faces", type=int, default=2048)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        role, *rest = args.child
        result = (
            replicas_child(int(rest[0]), int(rest[1]))
            if role == "replicas"
            else train_child(rest[0], rest[1] == "stream")
        )
        print(json.dumps(result))
        return
    figures: dict = {"command": f"python benchmarks/distribute.py --faces {args.faces} --small {args.small}"}
    started = time.perf_counter()
    figures["replicas"] = [child("replicas", str(count), str(args.replica_faces)) for count in (1, 2)]
    print(figures["replicas"], flush=True)
    with tempfile.TemporaryDirectory() as temporary:
        big, small = Path(temporary) / "big", Path(temporary) / "small"
        generated = time.perf_counter()
        data_set(big, args.faces, 0)
        data_set(small, args.small, 2)
        figures["generated_pngs_per_s"] = round(
            (args.faces + args.small + 2 * VAL_FACES) / (time.perf_counter() - generated)
        )
        figures["pipelines"] = pipelines(big, small, min(args.faces, 20_000))
        print(figures["pipelines"], flush=True)
        memory = {
            f"stream_{args.faces}": child("train", str(big), "stream"),
            f"in_memory_{args.small}": child("train", str(small), "memory"),
            f"in_memory_{args.faces}": child("train", str(big), "memory"),
        }
    ratio = memory[f"stream_{args.faces}"]["peak_mib"] / memory[f"in_memory_{args.small}"]["peak_mib"]
    figures["peak_memory"] = {**memory, "stream_over_small_in_memory": round(ratio, 2), "target": "below 1.5"}
    figures["seconds"] = round(time.perf_counter() - started)
    save("distribute", figures)


if __name__ == "__main__":
    main()
