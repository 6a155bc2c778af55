#!/usr/bin/env python3
"""Train ensemble members, then students distilled from them, on a GPU machine without TensorFlow.

A GPU trains the 48x48 models here in seconds per epoch instead of a minute, but the machine
lent for it has JAX and no TensorFlow. Keras 3 runs the project's own architectures,
optimizer, loss, run recorder, run state, config.json and float32 best model (``compile_model``,
``recorder``, ``new_state``, ``config_from_dict``, ``load_best_model``) on JAX (KERAS_BACKEND=jax),
with the same one-pass Lanczos jitter and preprocessing contract as ``edge-emotion train``;
only the input pipeline differs (numpy arrays jittered a whole epoch ahead in a thread, not
tf.data). Every model trains in its own process on the one GPU and writes a run folder that
``edge-emotion member RUN --out members/NAME`` turns into a member, as after ``train``.

    python scripts/train_on_gpu.py pack --data /tmp/fer2013.csv --out .accel/faces.npz.xz
    KERAS_BACKEND=jax python scripts/train_on_gpu.py train --faces .accel/faces.npz.xz --runs /tmp/runs \\
        --member m3-vgg16-s3:vgg16:3 --student s1-vgg16:vgg16:1:0.5 --minutes 8 --bundle $OUT

Students are taught by the members (trained here and committed in members/) that together
score best on PublicTest, chosen greedily; their epochs are sized to the time left.
"""

import argparse
import io
import json
import lzma
import math
import os
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_emotion.preprocess import model_inputs  # noqa: E402
from edge_emotion.training.data import FaceSet, blended_targets, one_hot  # noqa: E402

# The recipe of members/m1-vgg16-s1 (67.9 % PublicTest on the CPU): every model here trains with it.
RECIPE = dict(
    data="/tmp/fer2013.csv",
    epochs=90,
    batch_size=128,
    learning_rate=0.002,
    schedule="cosine",
    label_smoothing=0.1,
    weight_decay=0.01,
    precision="mixed_bfloat16",
)
# Where `edge-emotion member` finds the FER+ votes a run trained with, once its folder is back here.
FERPLUS = "../shared/data/fer2013/fer2013new.csv"
RUN_FILES = ("best.keras", "config.json", "history.csv", "curves.png", "summary.json", "train.log")
BUNDLE_BYTES = 15_000_000  # one returned file's limit is 16 MiB


def pack(data: Path, out: Path, ferplus: Path | None = None) -> None:
    """Training and PublicTest faces of ``data`` (and their FER+ votes) in one lzma'd npz (57 MB: it must
    travel in 64 MiB)."""
    from edge_emotion.training.data import load_splits

    splits = load_splits(data, ["Training", "PublicTest"], ferplus)
    parts = ("images", "labels") + (("votes",) if ferplus else ())
    arrays = {f"{split}_{part}": getattr(faces, part) for split, faces in splits.items() for part in parts}
    buffer = io.BytesIO()
    np.savez(buffer, source=np.array(str(data)), **arrays)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(lzma.compress(buffer.getvalue()))


def packed(faces: dict[str, np.ndarray], split: str) -> FaceSet:
    """One split of the packed faces as the FaceSet the project's code takes."""
    votes = faces.get(f"{split}_votes")
    return FaceSet(faces[f"{split}_images"], one_hot(faces[f"{split}_labels"]), f"packed {split}", votes)


def targeted(faces: FaceSet, config: object) -> tuple[FaceSet, np.ndarray]:
    """The faces as ``edge-emotion train`` targets them: with ``config.ferplus``, only faces whose FER+
    majority is one of the seven classes, FER2013's label blended with the votes; and which were kept."""
    from edge_emotion.errors import EdgeEmotionError

    keep = np.ones(len(faces), bool)
    if not config.ferplus:
        return faces, keep
    if faces.votes is None:
        raise EdgeEmotionError("the packed faces hold no FER+ votes: pack them with --ferplus")
    keep = faces.human >= 0
    targets = blended_targets(faces.labels[keep], faces.votes[keep], config.ferplus_weight, config.soft_labels)
    return FaceSet(faces.images[keep], targets, faces.source, faces.votes[keep]), keep


def train_one(faces_file: Path, run_dir: Path, config_json: str, teacher_file: Path | None) -> None:
    """One model in ``run_dir``: fit epoch by epoch on arrays jittered one epoch ahead; then its predictions."""
    import cv2

    from edge_emotion.atomic import write_json
    from edge_emotion.training.augment import Jitter, random_affine
    from edge_emotion.training.config import config_from_dict
    from edge_emotion.training.distill import distilled
    from edge_emotion.training.fit import compile_model, recorder, run_summary
    from edge_emotion.training.models import predict_keras
    from edge_emotion.training.progress import TrainLog
    from edge_emotion.training.run_folder import RunFolder, load_best_model, new_state
    from edge_emotion.training.tf_import import import_keras

    cv2.setNumThreads(1)
    keras = import_keras()
    config = config_from_dict(json.loads(config_json), "--config")
    faces = dict(np.load(faces_file))
    (train, kept), (val, _) = targeted(packed(faces, "Training"), config), targeted(packed(faces, "PublicTest"), config)
    teacher = None if teacher_file is None else np.load(teacher_file)[kept]
    taught = train if teacher is None else distilled(train, teacher, config.distill_weight)
    x, y = model_inputs(train.images, config.low_pass), taught.targets
    x_val = model_inputs(val.images, config.low_pass)
    keras.utils.set_random_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    run = RunFolder(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run.config, asdict(config))
    model = compile_model(config, math.ceil(len(x) / config.batch_size))
    state = new_state()
    callbacks = [recorder(run, state)]

    def epoch_data() -> tuple[np.ndarray, np.ndarray]:
        order = rng.permutation(len(x))
        return random_affine(
            x[order], rng, Jitter(blur=config.blur, corrupt=config.corrupt, occlude=config.occlude)
        ), y[order]

    say = TrainLog(run.log)
    with ThreadPoolExecutor(1) as pool:
        upcoming = pool.submit(epoch_data)
        for epoch in range(config.epochs):
            started = time.monotonic()
            images, targets = upcoming.result()
            if epoch + 1 < config.epochs:
                upcoming = pool.submit(epoch_data)
            fitted = model.fit(
                images, targets, batch_size=config.batch_size, epochs=epoch + 1, initial_epoch=epoch, shuffle=False,
                validation_data=(x_val, val.targets), callbacks=callbacks, verbose=0,
            )  # fmt: skip
            scores = {k: round(float(v[-1]), 4) for k, v in fitted.history.items()}
            say(f"{run_dir.name} epoch {epoch + 1}/{config.epochs} {time.monotonic() - started:.1f}s {scores}")
    trained_on = f"GPU, Keras {keras.__version__} on {keras.backend.backend()} (scripts/train_on_gpu.py)"
    summary = run_summary(config, model, state, train_faces=len(x), val_faces=len(x_val), trained_on=trained_on)
    write_json(run.summary, summary)
    # best.keras without optimizer state, in float32: what `edge-emotion member` reads, a third the size.
    best, _ = load_best_model(run_dir)
    best.save(run.best)
    for name, probabilities in (
        ("val", predict_keras(best, val, low_pass_sigma=config.low_pass)),
        ("train", predict_keras(best, train, mirror=True, low_pass_sigma=config.low_pass)),  # a teacher's targets
    ):
        np.save(run_dir / f"{name}_probabilities.npy", probabilities.astype(np.float32))


def committed_member_probabilities(faces: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """PublicTest and (mirror-averaged, as a teacher's) Training probabilities of every member in members/."""
    from edge_emotion.training.members import is_member
    from edge_emotion.training.resolve import load_model

    train, val = packed(faces, "Training"), packed(faces, "PublicTest")
    found = {}
    for folder in sorted(p for p in (ROOT / "members").iterdir() if is_member(p)):
        member = load_model(folder)
        found[f"members/{folder.name}"] = {"val": member.predict(val), "train": member.predict(train, mirror=True)}
    return found


def launch(faces_file: Path, runs: Path, configs: dict[str, dict], teacher: Path | None, deadline: float) -> None:
    """One process per model on the GPU; any still running at ``deadline`` is stopped (its best epoch stays)."""
    env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false", "PYTHONUNBUFFERED": "1"}
    taught = ["--teacher", str(teacher)] if teacher else []
    common = [sys.executable, __file__, "one", "--faces", str(faces_file), *taught]
    processes = [
        subprocess.Popen([*common, "--run", str(runs / name), "--config", json.dumps(config)], env=env)
        for name, config in configs.items()
    ]
    for process in processes:
        try:
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()


def bundle(runs: Path, out: Path) -> None:
    """The runs' files in as few .tar.gz files as fit the returned-file limit."""
    out.mkdir(parents=True, exist_ok=True)
    groups: list[list[Path]] = [[]]
    for run in sorted(p for p in runs.iterdir() if (p / "best.keras").is_file()):
        size = sum((run / f).stat().st_size for f in RUN_FILES if (run / f).is_file())
        if groups[-1] and sum(s for _, s in groups[-1]) + size > BUNDLE_BYTES:
            groups.append([])
        groups[-1].append((run, size))
    for i, group in enumerate(groups):
        with tarfile.open(out / f"runs-{i}.tar.gz", "w:gz") as tar:
            for run, _ in group:
                for name in RUN_FILES:
                    if (run / name).is_file():
                        tar.add(run / name, arcname=f"{run.name}/{name}")


def spec_configs(
    specs: list[str], student: bool, epochs: int, teachers: tuple[str, ...], recipe: dict | None = None
) -> dict[str, dict]:
    """NAME:ARCH:SEED (members) or NAME:ARCH:SEED:WEIGHT[:BLUR] (students) as run configs; ``recipe``
    changes the recipe's flags for all (the FER+ vote weight, the corruption share)."""
    from edge_emotion.training.config import TrainConfig

    configs = {}
    for spec in specs:
        name, arch, seed, *rest = spec.split(":")
        config = TrainConfig(**RECIPE, arch=arch, seed=int(seed))
        config = replace(config, epochs=epochs, **(recipe or {}))
        if student:
            blur = float(rest[1]) if len(rest) > 1 else 0.0
            config = replace(config, teachers=teachers, distill_weight=float(rest[0]), blur=blur)
        configs[name] = asdict(config)
    return configs


def train(args: argparse.Namespace) -> None:
    from edge_emotion.training.members import choose_ensemble

    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # the GPU is shared with the training processes
    started = time.monotonic()
    deadline = started + args.minutes * 60
    faces_file = Path("/tmp/faces.npz")
    faces_file.write_bytes(lzma.decompress(args.faces.read_bytes()))
    faces = dict(np.load(faces_file))
    args.runs.mkdir(parents=True, exist_ok=True)
    recipe = {"corrupt": args.corrupt, "occlude": args.occlude}
    if args.ferplus_weight is not None:
        recipe |= {"ferplus": FERPLUS, "ferplus_weight": args.ferplus_weight, "soft_labels": True}
    members = spec_configs(args.member, False, args.epochs, (), recipe)
    member_deadline = deadline - (args.student_minutes * 60 if args.student else 0)
    launch(faces_file, args.runs, members, None, member_deadline)
    print(f"members done in {time.monotonic() - started:.0f} s", flush=True)
    if args.student:
        candidates = committed_member_probabilities(faces)
        for name in members:
            if (args.runs / name / "val_probabilities.npy").is_file():
                run = args.runs / name
                candidates[f"members/{name}"] = {p: np.load(run / f"{p}_probabilities.npy") for p in ("val", "train")}
        for name, c in candidates.items():
            print(f"{name}: {(c['val'].argmax(1) == faces['PublicTest_labels']).mean():.4f} PublicTest", flush=True)
        chosen = choose_ensemble({n: c["val"] for n, c in candidates.items()}, faces["PublicTest_labels"])
        print(f"teacher: {', '.join(chosen)}", flush=True)
        teacher = args.runs / "teacher.npy"
        np.save(teacher, np.mean([candidates[n]["train"] for n in chosen], axis=0).astype(np.float32))
        summaries = [args.runs / n / "summary.json" for n in members if (args.runs / n / "summary.json").is_file()]
        per_epoch = max((json.loads(s.read_text())["seconds_per_epoch"] for s in summaries), default=4.0)
        left = deadline - time.monotonic() - 60
        epochs = max(10, min(args.student_epochs, int(left / (1.2 * per_epoch))))
        print(f"students: {epochs} epochs ({left:.0f} s left, {per_epoch} s per epoch)", flush=True)
        students = spec_configs(args.student, True, epochs, tuple(chosen), recipe)
        launch(faces_file, args.runs, students, teacher, deadline)
    if args.bundle:
        bundle(args.runs, args.bundle)
    print(f"all done in {time.monotonic() - started:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    packing = commands.add_parser("pack")
    packing.add_argument("--data", type=Path, required=True)
    packing.add_argument("--out", type=Path, required=True)
    packing.add_argument("--ferplus", type=Path, help="FER+ votes (fer2013new.csv) to pack beside the labels")
    training = commands.add_parser("train")
    training.add_argument("--faces", type=Path, required=True)
    training.add_argument("--runs", type=Path, required=True)
    training.add_argument("--member", action="append", default=[], help="NAME:ARCH:SEED")
    training.add_argument("--student", action="append", default=[], help="NAME:ARCH:SEED:DISTILL_WEIGHT[:BLUR]")
    training.add_argument("--epochs", type=int, default=RECIPE["epochs"])
    training.add_argument("--student-epochs", type=int, default=150)
    training.add_argument("--minutes", type=float, default=8.0)
    training.add_argument("--student-minutes", type=float, default=4.0)
    training.add_argument("--bundle", type=Path)
    training.add_argument("--ferplus-weight", type=float, help="as train --ferplus-weight (needs packed votes)")
    training.add_argument("--corrupt", type=float, default=0.0, help="as train --corrupt")
    training.add_argument("--occlude", type=float, default=0.0, help="as train --occlude")
    one = commands.add_parser("one")
    one.add_argument("--faces", type=Path, required=True)
    one.add_argument("--run", type=Path, required=True)
    one.add_argument("--config", required=True)
    one.add_argument("--teacher", type=Path)
    args = parser.parse_args()
    if args.command == "pack":
        pack(args.data, args.out, args.ferplus)
    elif args.command == "train":
        train(args)
    else:
        train_one(args.faces, args.run, args.config, args.teacher)


if __name__ == "__main__":
    main()
