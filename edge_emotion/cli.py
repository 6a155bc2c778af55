"""The ``edge-emotion`` command: each command parses its flags and calls its stage's one entry point."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from edge_emotion import __version__
from edge_emotion.device.engine.settings import (
    BENCH_SECONDS,
    BENCH_THREADS,
    DETECT_WIDTH,
    DETECTOR_SCORES,
    FULL_WIDTH,
    MIN_FACE,
    PHOTO_SCALES,
    PHOTO_TILT,
    PHOTO_WIDTH,
    PICAM_SIZE,
    DetectorSettings,
    Outputs,
    Regions,
    RunSettings,
    Steadiness,
    parse_size,
)
from edge_emotion.errors import EdgeEmotionError


def _untyped_flags(params: list[Any]) -> list[Any]:
    """A flag takes no value, so its line in --help shows none (newer Typer would print ``<bool>``)."""
    for param in params:
        if getattr(param, "is_flag", False):
            param.metavar = ""
    return params


class Group(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))


class Command(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _untyped_flags(super().get_params(ctx))


app = typer.Typer(
    cls=Group,
    help="Recognise emotions on faces: train, convert to int8 TFLite, run on a device.",
    no_args_is_help=True,
)
VERBOSE_HELP = "Say what happens, with TensorFlow's, LiteRT's and OpenCV's own console lines."
# training.distribute.PEER_TIMEOUT, written out: the command line imports no training module until a training
# command runs, so that ``edge-emotion run`` on a device imports none (tests/test_layout_imports.py checks both).
PEER_TIMEOUT = 300.0


def _print_version(asked: bool) -> None:
    if asked:
        typer.echo(f"edge-emotion {__version__}")
        raise typer.Exit


def _more_verbose(asked: bool) -> None:
    """``-v`` after the command name: the same as before it."""
    if asked:
        logging.getLogger().setLevel(logging.INFO)


# -v/--verbose is accepted after the command too (``edge-emotion run -v ...``): every command takes it.
Verbose = Annotated[
    bool, typer.Option("--verbose", "-v", help=VERBOSE_HELP, callback=_more_verbose, expose_value=False)
]


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help=VERBOSE_HELP)] = False,
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", callback=_print_version, is_eager=True),
    ] = False,
) -> None:
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")  # once per process
    logging.getLogger().setLevel(logging.INFO if verbose else logging.WARNING)


@contextmanager
def user_errors() -> Iterator[None]:
    """An EdgeEmotionError becomes one red line and exit code 1: the user sees the fix, not a traceback."""
    try:
        yield
    except EdgeEmotionError as error:
        typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None


DataOption = Annotated[
    Path, typer.Option("--data", help="FER2013 CSV (emotion,pixels,Usage) or a folder of class folders.")
]


@app.command("train", cls=Command)
def train_command(
    ctx: typer.Context,
    data: DataOption = Path("fer2013.csv"),
    out: Annotated[Path, typer.Option(help="Run folder for checkpoints, history, curves, summary.")] = Path(
        "runs/seed"
    ),
    arch: Annotated[
        str, typer.Option(help="Architecture from the registry (seed, vgg16, vgg20, vgg24, vgg32).")
    ] = "seed",
    epochs: Annotated[int, typer.Option(min=1)] = 30,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Global batch: split between the replicas (devices and workers) of --strategy.")
    ] = 64,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = 1e-3,
    schedule: Annotated[str, typer.Option(help="Learning rate schedule: constant or cosine.")] = "constant",
    label_smoothing: Annotated[float, typer.Option(min=0.0, max=0.5)] = 0.0,
    weight_decay: Annotated[float, typer.Option(min=0.0, help="Decoupled weight decay (AdamW-style).")] = 0.0,
    augment: Annotated[bool, typer.Option(help="Random flip, shift, rotation and zoom (one sharp resampling).")] = True,
    blur: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=3.0,
            help="With --augment: soften half the faces by a Gaussian of up to this sigma (pixels), "
            "as camera faces are softer than FER2013's crops.",
        ),
    ] = 0.0,
    corrupt: Annotated[
        float,
        typer.Option(
            help="With --augment: this share of the faces (0..1) under a random camera corruption (noise, dim "
            "light, JPEG, blur, small face, contrast, exposure, framing, occlusion) at a random strength.",
            metavar="SHARE",
        ),
    ] = 0.0,
    occlude: Annotated[
        float,
        typer.Option(
            help="With --augment: this share of the faces (0..1) also covered in part (a hand over the mouth, a "
            "mask, dark glasses) at a random strength, besides --corrupt.",
            metavar="SHARE",
        ),
    ] = 0.0,
    low_pass: Annotated[
        float,
        typer.Option(min=0.0, max=3.0, help="Gaussian blur (sigma, pixels) on every face this model will see."),
    ] = 0.0,
    precision: Annotated[
        str, typer.Option(help="float32, or mixed_bfloat16 (faster on CPUs with AVX-512 bf16/AMX).")
    ] = "float32",
    train_split: Annotated[str, typer.Option(help="Split to train on.")] = "Training",
    val_split: Annotated[str, typer.Option(help="Split that picks the best epoch.")] = "PublicTest",
    ferplus: Annotated[Path | None, typer.Option(help="FER+ votes (fer2013new.csv) to use as labels.")] = None,
    soft_labels: Annotated[
        bool, typer.Option(help="With --ferplus: vote distributions instead of majority labels.")
    ] = False,
    ferplus_weight: Annotated[
        float,
        typer.Option(
            help="With --ferplus: targets are (1 - W) x FER2013's label + W x the FER+ votes (0..1); faces whose "
            "FER+ majority is contempt, unknown or not-a-face are left out.",
            metavar="W",
        ),
    ] = 1.0,
    teacher: Annotated[
        list[Path] | None,
        typer.Option(
            help="fast or accurate (a shipped model), a run or member folder, a .keras file or a .tflite model "
            "whose predictions to distil into this model; repeat to average several."
        ),
    ] = None,
    distill_weight: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="With --teacher: share of the targets taken from the teacher.")
    ] = 0.5,
    init_from: Annotated[
        Path | None,
        typer.Option(
            help="Start from this member's (or run's, or .keras file's) weights, with a new optimizer and schedule; "
            "not a .tflite model nor a shipped one (fast, accurate): their weights are quantised."
        ),
    ] = None,
    seed: int = 0,
    strategy: Annotated[
        str,
        typer.Option(
            help="auto, default (one device), mirrored (the GPUs or --device list of this machine) or "
            "multiworker (the machines TF_CONFIG names); auto picks multiworker with TF_CONFIG, mirrored with "
            "several GPUs. See the README: More than one machine."
        ),
    ] = "auto",
    device: Annotated[
        list[str] | None, typer.Option(help="A device for --strategy mirrored (e.g. /gpu:1); repeat for each.")
    ] = None,
    stream: Annotated[
        bool,
        typer.Option(
            help="Read an image folder's faces from disk while training instead of holding them in memory "
            "(automatic above 50,000 faces in a split)."
        ),
    ] = False,
    cache: Annotated[
        Path | None, typer.Option(help="With a streamed folder: keep its decoded faces in tf.data cache files here.")
    ] = None,
    peer_timeout: Annotated[
        float,
        typer.Option(min=1.0, help="Multiworker: seconds to wait for every worker to start, or to answer in a step."),
    ] = PEER_TIMEOUT,
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue the run in --out from its last saved epoch, with its saved flags (one killed before "
            "its first epoch starts again). Other flags must match the saved ones, except --epochs, which moves "
            "the end of a constant-schedule run (a cosine schedule's length is fixed when the run starts)."
        ),
    ] = False,
    verbose: Verbose = False,
) -> None:
    """Train a CNN on 48x48 grey faces; keeps the best epoch on the validation split.

    Prints what it loaded, then a line every few batches with the time left, also into train.log in the run folder."""
    from edge_emotion.training.config import REPEATED_FLAGS, TrainConfig
    from edge_emotion.training.fit import train

    config = TrainConfig(
        data=str(data), arch=arch, train_split=train_split, val_split=val_split,
        ferplus=str(ferplus) if ferplus else None, soft_labels=soft_labels, ferplus_weight=ferplus_weight,
        epochs=epochs,
        batch_size=batch_size, learning_rate=learning_rate, schedule=schedule,
        label_smoothing=label_smoothing, weight_decay=weight_decay, augment=augment, blur=blur, corrupt=corrupt,
        occlude=occlude, low_pass=low_pass,
        precision=precision,
        teachers=tuple(map(str, teacher or ())), distill_weight=distill_weight,
        init_from=str(init_from) if init_from else None, seed=seed, strategy=strategy,
        devices=tuple(device or ()), stream=stream, cache=str(cache) if cache else None,
    )  # fmt: skip
    # The flags typed on this command line: with --resume they must agree with the run's own.
    sources = {name: ctx.get_parameter_source(name) for name in ctx.params}
    typed = {name for name, source in sources.items() if source is not None and source.name == "COMMANDLINE"}
    given = {name: value for name, value in asdict(config).items() if REPEATED_FLAGS.get(name, name) in typed}
    try:
        with user_errors():
            summary = train(out=out, config=config, resume=resume, given=given, peer_timeout=peer_timeout)
    except KeyboardInterrupt:
        typer.secho(f"interrupted; continue with: edge-emotion train --out {out} --resume", err=True)
        raise typer.Exit(130) from None
    typer.echo(
        f"best validation accuracy {summary['best_val_accuracy']:.4f} at epoch {summary['best_epoch']} "
        f"({summary['seconds_per_epoch']} s/epoch); run folder: {out}"
    )


@app.command("member", cls=Command)
def member_command(
    run: Annotated[Path, typer.Argument(help="A training run folder.", metavar="RUN")],
    out: Annotated[Path, typer.Option(help="Member folder to write (commit it: it outlives the machine).")],
    force: Annotated[
        bool, typer.Option(help="Replace a member that came from another run (its own run refreshes it anyway).")
    ] = False,
    verbose: Verbose = False,
) -> None:
    """Keep a run's best weights as an ensemble member: float16 when lossless, with config, history and command."""
    from edge_emotion.training.members import save_member

    with user_errors():
        record = save_member(run=run, out=out, force=force)
    check = record["float16_check"]
    typer.echo(
        f"{out}: {record['arch']}, {record['params']:,} parameters in {record['weights_dtype']} "
        f"(float16 agrees with float32 on {check['top1_agreement']:.2%} of {check['faces']} validation faces)"
    )


@app.command("evaluate", cls=Command)
def evaluate_command(
    model: Annotated[
        str,
        typer.Argument(
            help="fast or accurate (a shipped model), a run folder (its best epoch), a member folder, "
            "a .keras file or a .tflite model.",
            metavar="MODEL",
        ),
    ],
    data: Annotated[
        Path | None,
        typer.Option(help="FER2013 CSV or a folder of class folders (default: the run's data, else fer2013.csv)."),
    ] = None,
    split: Annotated[
        str,
        typer.Option(help="Split to score: Training, PublicTest, PrivateTest, or a folder's train/val/test."),
    ] = "PublicTest",
    out: Annotated[Path | None, typer.Option(help="Folder for metrics.json and confusion.png.")] = None,
    mirror: Annotated[bool, typer.Option("--mirror", help="Average each face with its mirror image.")] = False,
    ferplus: Annotated[
        Path | None,
        typer.Option(
            help="FER+ votes (fer2013new.csv) to score against the human majority too "
            "(default: fer2013new.csv beside the data CSV, when it is there)."
        ),
    ] = None,
    verbose: Verbose = False,
) -> None:
    """Accuracy, loss, macro-F1, per-class precision and recall, and the confusion matrix,
    against FER2013's labels and (with FER+ votes) the majority of ten human annotators."""
    from edge_emotion.console import print_scores
    from edge_emotion.training.evaluate import evaluate

    with user_errors():
        result = evaluate(model=model, data=data, split=split, out=out, mirror=mirror, ferplus=ferplus)
    print_scores(result.scores, result.title)
    typer.echo(f"report: {result.report}")


@app.command("convert", cls=Command)
def convert_command(
    source: Annotated[
        list[str],
        typer.Argument(
            help="A run folder (its best epoch), a member folder or a .keras file; "
            "several make one ensemble model that averages them.",
            metavar="SOURCE",
        ),
    ],
    mode: Annotated[
        str | None,
        typer.Option(
            help="int8 (full-integer: what devices and the Edge TPU run), float16, or float32 (the default).",
            metavar="MODE",
        ),
    ] = None,
    int8: Annotated[bool, typer.Option("--int8", help="Short for --mode int8.")] = False,
    out: Annotated[
        Path | None, typer.Option(help="Output .tflite (default: model_MODE.tflite beside the source).")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            help="FER2013 CSV or a folder of class folders, to calibrate int8 and to check on "
            "(default: the run's data, else fer2013.csv)."
        ),
    ] = None,
    calibration_faces: Annotated[
        int, typer.Option(min=1, help="Training faces to calibrate int8 on (stratified).")
    ] = 500,
    check_data: Annotated[Path | None, typer.Option(help="Data to check on, if not --data (CSV or folder).")] = None,
    check_split: Annotated[
        str, typer.Option(help="Split the float and converted models are compared on.")
    ] = "PublicTest",
    max_drop: Annotated[float, typer.Option(help="Fail when accuracy drops more than this many points.")] = 1.0,
    edgetpu: Annotated[
        bool, typer.Option("--edgetpu", help="With --int8: static batch 1, then edgetpu_compiler if on PATH.")
    ] = False,
    seed: int = 0,
    force: Annotated[bool, typer.Option(help="Overwrite an existing output.")] = False,
    verbose: Verbose = False,
) -> None:
    """Convert a trained model to TFLite and check it against the float model on the same faces.

    The default export is float32, for comparison; devices run int8: add --int8 (--mode int8)."""
    from edge_emotion.console import print_conversion
    from edge_emotion.convert.edgetpu import EdgetpuCompilerMissing, edgetpu_fix
    from edge_emotion.convert.export import convert
    from edge_emotion.metadata import sidecar_path

    try:
        with user_errors():
            if int8 and mode not in (None, "int8"):
                raise EdgeEmotionError(f"--int8 is --mode int8; give one of --int8 and --mode {mode}")
            result = convert(
                sources=source, out=out, mode="int8" if int8 else mode or "float32", data=data,
                calibration_faces=calibration_faces, seed=seed, check_data=check_data, check_split=check_split,
                max_drop=max_drop, edgetpu=edgetpu, force=force,
            )  # fmt: skip
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM
        typer.secho("interrupted", err=True)
        raise typer.Exit(130) from None
    print_conversion(result.metadata, result.report, edgetpu_fix(result.report, result.metadata.quantization))
    typer.echo(f"wrote {result.model} and {sidecar_path(result.model)}")
    if result.edgetpu_model is not None:
        typer.echo(f"wrote {result.edgetpu_model}")
    if isinstance(result.edgetpu_error, EdgetpuCompilerMissing):  # a hint: the model is written
        typer.secho(f"warning: {result.edgetpu_error}", fg=typer.colors.YELLOW, err=True)
    elif result.edgetpu_error is not None:
        typer.secho(f"error: {result.edgetpu_error}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)


@app.command("models", cls=Command)
def models_command() -> None:
    """The shipped models: size, MACs per face, PrivateTest accuracy and faces/s from their metadata."""
    from edge_emotion.console import print_models
    from edge_emotion.shipped import installed_models

    print_models(installed_models())


@app.command("bench", cls=Command)
def bench_command(
    seconds: Annotated[
        float, typer.Option(min=0.1, max=600.0, help="About how long to measure, all stages together.")
    ] = BENCH_SECONDS,
    threads: Annotated[
        int, typer.Option(min=1, max=64, help="Classify with 1 to this many interpreter threads.")
    ] = BENCH_THREADS,
    video: Annotated[
        Path | None, typer.Option(help="Time capture from this video (default: synthetic frames).")
    ] = None,
    camera: Annotated[str | None, typer.Option(help="Time capture from this camera (an index or picam).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    verbose: Verbose = False,
) -> None:
    """Per-stage median and p95 ms on this machine (capture, detect full and in a region, align, classify fast and
    accurate with 1..N threads), and FPS with one and four faces: run it on a Pi to see where a frame's time goes."""
    import json

    from edge_emotion.console import print_bench
    from edge_emotion.device.io.bench import run_bench

    with user_errors():
        if video is not None and camera is not None:
            raise EdgeEmotionError("give one of --video and --camera (or neither: synthetic frames)")
        result = run_bench(seconds=seconds, threads=threads, video=video, camera=camera)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        print_bench(result)


@app.command("run", cls=Command)
def run_command(
    camera: Annotated[
        str | None,
        typer.Option(
            help="Camera index (0 = /dev/video0), or picam (Pi camera module).",
            rich_help_panel="Source (one is required)",
        ),
    ] = RunSettings.camera,
    camera_size: Annotated[
        str | None,
        typer.Option(
            "--camera-size",
            help=f"With --camera: ask the camera for frames of this size (default: its own; picam "
            f"{PICAM_SIZE[0]}x{PICAM_SIZE[1]}). An error, saying what it chose, where it cannot.",
            metavar="WxH",
            show_default=False,
            rich_help_panel="Source (one is required)",
        ),
    ] = None,  # RunSettings.camera_size's default, given as text here
    fps: Annotated[
        float | None,
        typer.Option(
            help="With --camera: ask the camera for this many frames a second (default: its own). An error, "
            "saying what it chose, where it cannot.",
            rich_help_panel="Source (one is required)",
        ),
    ] = RunSettings.fps,
    video: Annotated[
        Path | None, typer.Option(help="A video file.", rich_help_panel="Source (one is required)")
    ] = RunSettings.video,
    image: Annotated[
        Path | None, typer.Option(help="One image.", rich_help_panel="Source (one is required)")
    ] = RunSettings.image,
    folder: Annotated[
        Path | None, typer.Option("--dir", help="A folder of images.", rich_help_panel="Source (one is required)")
    ] = RunSettings.folder,
    model: Annotated[
        str,
        typer.Option(
            help="fast or accurate (the shipped int8 models: edge-emotion models lists them), or a .tflite file "
            "made with: edge-emotion convert RUN --int8.",
            metavar="fast|accurate|PATH",
        ),
    ] = RunSettings.model,
    loop: Annotated[
        bool, typer.Option("--loop", help="With --video: play it again from the start at its end (a live demo).")
    ] = RunSettings.loop,
    realtime: Annotated[
        bool | None,
        typer.Option(
            "--realtime/--no-realtime",
            help="With --video: play it at its own frame rate, as a camera would (default: with --loop or --serve; "
            "otherwise as fast as it is processed).",
            show_default=False,
        ),
    ] = RunSettings.realtime,
    threads: Annotated[int, typer.Option(help="Interpreter threads, 1 to 64.")] = RunSettings.threads,
    edgetpu: Annotated[
        bool, typer.Option("--edgetpu", help="Run on a Coral Edge TPU (libedgetpu.so.1).")
    ] = RunSettings.edgetpu,
    detector: Annotated[
        str, typer.Option(help="Face detector: yunet (landmarks, aligned crops) or haar.")
    ] = DetectorSettings.name,
    detect_width: Annotated[
        int | None,
        typer.Option(
            help=f"Search frames downscaled to this width (default: {DETECT_WIDTH} for camera and video, up to "
            f"{PHOTO_WIDTH} for --image and --dir, which are searched at {PHOTO_SCALES[-1]:g} times it too; never "
            "wider than the frame)."
        ),
    ] = DetectorSettings.detect_width,
    tilt: Annotated[
        float | None,
        typer.Option(
            help="Also search each frame turned by +-DEGREES, for tilted heads; each turn costs a search "
            f"(default: {PHOTO_TILT:g} for --image and --dir, 0 for camera and video).",
            metavar="DEGREES",
        ),
    ] = DetectorSettings.tilt,
    min_face: Annotated[
        int | None,
        typer.Option(min=1, help=f"Ignore faces narrower than this many frame pixels (default {MIN_FACE})."),
    ] = DetectorSettings.min_face,
    min_score: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help=f"Ignore detections scoring less (default: yunet {DETECTOR_SCORES['yunet'].stream:g}, "
            f"{DETECTOR_SCORES['yunet'].photos:g} for --image and --dir; haar {DETECTOR_SCORES['haar'].stream:g}).",
        ),
    ] = DetectorSettings.min_score,
    landmarks: Annotated[
        bool, typer.Option("--landmarks", help="Draw the five landmarks (yunet).")
    ] = Outputs.landmarks,
    largest: Annotated[bool, typer.Option("--largest", help="Keep only the largest face.")] = RunSettings.largest,
    mirror: Annotated[
        bool, typer.Option("--mirror", help="Average each face with its mirror image: more accurate, 2x classify.")
    ] = RunSettings.mirror,
    smooth_seconds: Annotated[
        float, typer.Option(help="Time constant of the probability smoothing, in seconds (0 = none).")
    ] = Steadiness.smooth_seconds,
    hysteresis: Annotated[
        float, typer.Option(help="How far another emotion must lead the shown one before the label changes (0..1).")
    ] = Steadiness.hysteresis,
    min_frames: Annotated[
        int, typer.Option(help="Frames a face must be seen before it is reported.")
    ] = Steadiness.min_frames,
    calibrate: Annotated[
        float,
        typer.Option(help="Take the first SECONDS of each new face as its neutral face (0 = off).", metavar="SECONDS"),
    ] = RunSettings.calibrate_seconds,
    track_regions: Annotated[
        bool,
        typer.Option(
            "--track-regions/--no-track-regions",
            help="Camera and video: follow each face in a small window around where it was and search the whole "
            f"frame only every --full-search-every frames (at --detect-width, default up to {FULL_WIDTH}): finds "
            f"more small faces than a whole search at {DETECT_WIDTH}, for about half its cost per frame "
            "(benchmarks/stream_tracking.py). "
            f"Off: every frame is searched whole (at --detect-width, default {DETECT_WIDTH}).",
        ),
    ] = RunSettings.regions is not None,
    full_search_every: Annotated[
        int,
        typer.Option(
            help="With region tracking: search the whole frame every N frames, so new faces appear within N "
            "frames (and at once when a face is lost).",
            metavar="N",
        ),
    ] = Regions.every,
    events: Annotated[Path | None, typer.Option(help="JSON lines events file; - or none: stdout.")] = Outputs.events,
    events_mode: Annotated[
        str, typer.Option(help="frames (a line per frame), changes (face_enter, change, face_leave), or all.")
    ] = Outputs.events_mode,
    save: Annotated[Path | None, typer.Option(help="Annotated output: image, folder (--dir) or video.")] = Outputs.save,
    show: Annotated[bool, typer.Option("--show", help="Open a window where a display exists.")] = Outputs.show,
    no_fps: Annotated[
        bool, typer.Option("--no-fps", help="No frame rate on the window and the stream (saved files never have it).")
    ] = not Outputs.show_fps,
    quiet: Annotated[
        bool, typer.Option("--quiet", help="No event lines on stdout (--events still written), no human summary.")
    ] = False,
    max_frames: Annotated[int | None, typer.Option(min=1, help="Stop after this many frames.")] = Outputs.max_frames,
    serve: Annotated[
        str | None, typer.Option(help="Serve the live view and events over HTTP at HOST:PORT.")
    ] = RunSettings.serve,
    token: Annotated[
        str | None,
        typer.Option(
            help="With --serve: a secret every request must carry (seen by every local user in ps: prefer "
            "--token-file, or the EDGE_EMOTION_TOKEN environment variable)."
        ),
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option("--token-file", help="With --serve: read the secret from this file (chmod 600).", metavar="PATH"),
    ] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="With --serve: allow a network address without --token.")
    ] = RunSettings.insecure,
    mqtt: Annotated[
        str | None,
        typer.Option(
            help="Publish the events to an MQTT broker: PREFIX/<event> (as --events-mode says), a retained "
            "PREFIX/state and PREFIX/status (online/offline); mqtts:// for TLS. Password: "
            "--mqtt-password-file or EDGE_EMOTION_MQTT_PASSWORD, never in the URL. Needs paho-mqtt (the mqtt extra).",
            metavar="mqtt://[USER@]HOST[:PORT]/PREFIX",
            rich_help_panel="Event sinks",
        ),
    ] = RunSettings.mqtt,
    mqtt_password_file: Annotated[
        Path | None,
        typer.Option(
            "--mqtt-password-file",
            help="With --mqtt: read the broker's password from this file (chmod 600).",
            metavar="PATH",
            rich_help_panel="Event sinks",
        ),
    ] = None,
    mqtt_wait: Annotated[
        float,
        typer.Option(
            help="With --mqtt: keep trying to reach the broker this long before giving up (0: one try).",
            metavar="SECONDS",
            rich_help_panel="Event sinks",
        ),
    ] = RunSettings.mqtt_wait,
    webhook: Annotated[
        str | None,
        typer.Option(
            help="POST each change event as JSON to this http(s) URL (retried, never holding up the camera).",
            metavar="URL",
            rich_help_panel="Event sinks",
        ),
    ] = RunSettings.webhook,
    verbose: Verbose = False,
) -> None:
    """Detect faces and recognise their emotions, live or on files; events as JSON lines.

    Needs a source: one of --camera, --video, --image or --dir.

    Ctrl-C, SIGTERM and SIGHUP stop it with the video finished and the events kept."""
    import json
    import os

    from edge_emotion.device.io.live import run_live
    from edge_emotion.device.io.serve import resolve_token
    from edge_emotion.device.io.sinks import resolve_mqtt_password
    from edge_emotion.device.io.stats import describe, plural

    if quiet and events is None:
        events = Path(os.devnull)  # the events go nowhere rather than to stdout
    with user_errors():
        token, warning = resolve_token(token, token_file)  # before the camera opens
        if warning:
            typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
        mqtt_password, warning = resolve_mqtt_password(mqtt, mqtt_password_file)
        if warning:
            typer.secho(f"warning: {warning}", fg=typer.colors.YELLOW, err=True)
        settings = RunSettings(
            camera=camera, camera_size=None if camera_size is None else parse_size(camera_size), fps=fps,
            video=video, image=image, folder=folder, loop=loop, realtime=realtime, model=model,
            threads=threads, edgetpu=edgetpu,
            detector=DetectorSettings(
                name=detector, min_face=min_face, min_score=min_score, detect_width=detect_width, tilt=tilt
            ),
            largest=largest, mirror=mirror,
            steadiness=Steadiness(smooth_seconds=smooth_seconds, hysteresis=hysteresis, min_frames=min_frames),
            calibrate_seconds=calibrate, regions=Regions(every=full_search_every) if track_regions else None,
            outputs=Outputs(
                events=events, events_mode=events_mode, save=save, show=show, show_fps=not no_fps,
                landmarks=landmarks, max_frames=max_frames,
            ),
            serve=serve, insecure=insecure, mqtt=mqtt, mqtt_wait=mqtt_wait, webhook=webhook,
        )  # fmt: skip
        summary = run_live(settings, token=token, mqtt_password=mqtt_password)
    typer.echo(json.dumps({"summary": summary}), err=True)
    if not quiet:
        typer.echo(describe(summary), err=True)
    if summary["frames_skipped"]:
        count = summary["frames_skipped"]
        skipped = (
            f"{plural(count, 'image')} that could not be read" if folder is not None else f"{count} undecodable frames"
        )
        typer.secho(f"warning: skipped {skipped}", fg=typer.colors.YELLOW, err=True)
    if summary["source_lost"]:
        typer.secho("warning: the camera was lost; stopped with the events so far", fg=typer.colors.YELLOW, err=True)
    if summary.get("events_reader_gone"):
        kept = ", the video kept" if save is not None else ""
        gone = f"warning: the events' reader went away (a closed pipe); stopped as after Ctrl-C{kept}"
        typer.secho(gone, fg=typer.colors.YELLOW, err=True)
    for sink in ("mqtt", "webhook"):
        lost = summary.get(sink, {})
        if lost.get("dropped") or lost.get("unsent"):
            said = f"warning: {sink}: {lost['dropped']} dropped (its queue was full), {lost['unsent']} never sent"
            typer.secho(said, fg=typer.colors.YELLOW, err=True)
