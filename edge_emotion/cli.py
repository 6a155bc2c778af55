"""The ``edge-emotion`` command: parses flags and hands the work to the stage modules."""

import logging
from pathlib import Path
from typing import Annotated

import typer

from edge_emotion.errors import EdgeEmotionError

app = typer.Typer(
    help="Recognise emotions on faces: train, convert to int8 TFLite, run on a device.", no_args_is_help=True
)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")] = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


def fail(error: EdgeEmotionError) -> typer.Exit:
    """Print the error as one red line and exit non-zero: the user sees the fix, not a traceback."""
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    return typer.Exit(1)


DataOption = Annotated[
    Path, typer.Option("--data", help="FER2013 CSV (emotion,pixels,Usage) or a folder of class folders.")
]


@app.command("train")
def train_command(
    data: DataOption = Path("fer2013.csv"),
    out: Annotated[Path, typer.Option(help="Run folder for checkpoints, history, curves, summary.")] = Path(
        "runs/seed"
    ),
    arch: Annotated[
        str, typer.Option(help="Architecture from the registry (seed, vgg16, vgg24, vgg32).")
    ] = "seed",
    epochs: Annotated[int, typer.Option(min=1)] = 30,
    batch_size: Annotated[int, typer.Option(min=1)] = 64,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = 1e-3,
    schedule: Annotated[str, typer.Option(help="Learning rate schedule: constant or cosine.")] = "constant",
    label_smoothing: Annotated[float, typer.Option(min=0.0, max=0.5)] = 0.0,
    augment: Annotated[bool, typer.Option(help="Random flip, shift, rotation and zoom.")] = True,
    precision: Annotated[
        str, typer.Option(help="float32, or mixed_bfloat16 (faster on CPUs with AVX-512 bf16/AMX).")
    ] = "float32",
    train_split: Annotated[str, typer.Option(help="Split to train on.")] = "Training",
    val_split: Annotated[str, typer.Option(help="Split that picks the best epoch.")] = "PublicTest",
    ferplus: Annotated[
        Path | None, typer.Option(help="FER+ votes (fer2013new.csv) to use as labels.")
    ] = None,
    soft_labels: Annotated[
        bool, typer.Option(help="With --ferplus: vote distributions instead of majority labels.")
    ] = False,
    seed: int = 0,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out from its last epoch.")] = False,
) -> None:
    """Train a CNN on 48x48 grey faces; keeps the best epoch on the validation split."""
    from edge_emotion.training.fit import TrainConfig, train

    config = TrainConfig(
        data=str(data), arch=arch, train_split=train_split, val_split=val_split,
        ferplus=str(ferplus) if ferplus else None, soft_labels=soft_labels, epochs=epochs,
        batch_size=batch_size, learning_rate=learning_rate, schedule=schedule,
        label_smoothing=label_smoothing, augment=augment, precision=precision, seed=seed,
    )  # fmt: skip
    try:
        summary = train(config, out, resume=resume)
    except EdgeEmotionError as error:
        raise fail(error) from None
    typer.echo(
        f"best validation accuracy {summary['best_val_accuracy']:.4f} at epoch {summary['best_epoch']} "
        f"({summary['seconds_per_epoch']} s/epoch); run folder: {out}"
    )


@app.command("evaluate")
def evaluate_command(
    model: Annotated[Path, typer.Argument(help="A run folder (its best model) or a .tflite model.")],
    data: DataOption = Path("fer2013.csv"),
    split: Annotated[
        str,
        typer.Option(help="Split to score: Training, PublicTest, PrivateTest, or a folder's train/val/test."),
    ] = "PublicTest",
    out: Annotated[Path | None, typer.Option(help="Folder for metrics.json and confusion.png.")] = None,
) -> None:
    """Accuracy, loss, macro-F1, per-class precision and recall, and the confusion matrix."""
    from edge_emotion.console import print_scores
    from edge_emotion.metrics import score
    from edge_emotion.training.data import load_faces
    from edge_emotion.training.evaluate import default_report_dir, predict_model, write_report

    try:
        if not model.exists():
            raise EdgeEmotionError(f"model not found: {model}")
        faces = load_faces(data, split)
        scores = score(predict_model(model, faces), faces.labels)
        report = out or default_report_dir(model, split)
        write_report(scores, faces, model, report)
    except EdgeEmotionError as error:
        raise fail(error) from None
    print_scores(scores, f"{model} on {faces.source} ({len(faces)} faces)")
    typer.echo(f"report: {report}")
