"""Seconds per epoch of `--arch seed` here, and its PublicTest and PrivateTest scores after a short run.

python benchmarks/train_seed.py --epochs 10
"""

import argparse
from pathlib import Path

from common import fer_csv, save

from edge_emotion.metrics import score
from edge_emotion.training.config import TrainConfig
from edge_emotion.training.data import load_faces
from edge_emotion.training.fit import train
from edge_emotion.training.resolve import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-seed"))
    args = parser.parse_args()
    data = fer_csv()
    config = TrainConfig(data=str(data), arch="seed", epochs=args.epochs, precision=args.precision)
    started = (args.out / "config.json").is_file()
    summary = (
        train(out=args.out, resume=True, given={"epochs": args.epochs})
        if started
        else train(config=config, out=args.out)
    )
    figures = {"command": f"edge-emotion train --arch seed --epochs {args.epochs} --precision {args.precision}"}
    figures["train"] = summary
    for split in ("PublicTest", "PrivateTest"):
        faces = load_faces(data, split)
        scores = score(load_model(args.out).predict(faces), faces.labels)
        figures[split] = {"accuracy": round(scores.accuracy, 4), "macro_f1": round(scores.macro_f1, 4)}
    save("train_seed", figures)


if __name__ == "__main__":
    main()
