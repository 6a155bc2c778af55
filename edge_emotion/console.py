"""Tables for the terminal (Rich), kept apart from the code that computes what they show."""

from collections.abc import Mapping, Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from edge_emotion.metadata import ModelMetadata
from edge_emotion.metrics import LabelSets

console = Console()


def print_scores(scores: LabelSets, title: str) -> None:
    """Per-class precision and recall against FER2013's labels (and the FER+ majority, side by side)."""
    sets = [("FER2013", scores.fer2013)] + ([("FER+", scores.ferplus)] if scores.ferplus is not None else [])
    table = Table(title=title)
    table.add_column("class", justify="left")
    for label, _ in sets:
        for column in ("precision", "recall", "faces"):
            table.add_column(f"{column} {label}" if len(sets) > 1 else column, justify="right")
    for index, name in enumerate(scores.fer2013.recall):
        cells = []
        for _, each in sets:
            cells += [f"{each.precision[name]:.3f}", f"{each.recall[name]:.3f}", str(each.confusion[index].sum())]
        table.add_row(name, *cells)
    console.print(table)
    for label, each in sets:
        figures = f"accuracy {each.accuracy:.4f}   loss {each.loss:.4f}   macro-F1 {each.macro_f1:.4f}"
        console.print(f"{label + ' labels:':16} {figures}")
    if scores.ferplus is not None:
        console.print(f"(FER+ majority: {scores.left_out} faces left out, their majority contempt/unknown/not a face)")


def print_rows(
    title: str, header: Sequence[str], rows: Sequence[Mapping[str, object]], caption: str | None = None
) -> None:
    """A plain table from dict rows, in ``header`` order."""
    table = Table(title=title, caption=caption)
    for column in header:
        table.add_column(column, justify="left" if column == header[0] else "right")
    for row in rows:
        table.add_row(*(str(row.get(column, "")) for column in header))
    console.print(table)


def print_models(models: Sequence[Mapping[str, object]]) -> None:
    """The shipped models with the figures their sidecars record (— where a figure was not measured).

    Short headers, what they mean in the caption and the files below: the table fits an 80-column terminal.
    """

    def figure(row: Mapping[str, object], key: str, form: str, scale: int = 1) -> str:
        value = row.get(key)
        return format(value / scale if scale > 1 else value, form) if isinstance(value, int | float) else "—"

    rows = [
        {
            "model": row["name"],
            "size (MB)": figure(row, "bytes", ".2f", scale=1_000_000),
            "MACs": figure(row, "macs", ","),
            "accuracy": figure(row, "privatetest_accuracy", ".1%"),
            "macro-F1": figure(row, "privatetest_macro_f1", ".3f"),
            "faces/s": figure(row, "faces_per_second_2_threads", ",.0f"),
        }
        for row in models
    ]
    header = ["model", "size (MB)", "MACs", "accuracy", "macro-F1", "faces/s"]
    caption = "MACs per face; accuracy, macro-F1 on PrivateTest; faces/s on 2 threads"
    print_rows("installed models (edge-emotion run --model NAME)", header, rows, caption=caption)
    for row in models:
        console.print(f"{row['name']}: {Path(str(row['path'])).name}", highlight=False)


def print_conversion(metadata: ModelMetadata, report: dict, fix: str | None = None) -> None:
    """The float-vs-converted check and the Edge TPU op report of a conversion, ending with ``fix``: how to make
    it ready for the Edge TPU (``convert.edgetpu.edgetpu_fix``'s, which the command passes in)."""
    check, mode = metadata.check, metadata.quantization
    rows = [
        ("float (Keras)", check["float_accuracy"], check["float_macro_f1"], check["float_weight_bytes"]),
        (f"{mode} (TFLite)", check["converted_accuracy"], check["converted_macro_f1"], check["converted_bytes"]),
    ]
    print_rows(
        f"float vs {mode} on {check['faces']} faces of {check['split']}",
        ["model", "accuracy", "macro-F1", "size (KB)"],
        [{"model": m, "accuracy": a, "macro-F1": f, "size (KB)": b // 1024} for m, a, f, b in rows],
    )
    console.print(
        f"drop {check['drop_points']:.2f} points (max {check['max_drop_points']}); "
        f"top-1 agreement {check['top1_agreement']:.4f}; mean |prob diff| {check['mean_abs_prob_diff']}"
    )
    print_rows("Edge TPU op report", ["op", "count", "edgetpu"], report["ops"])
    console.print(
        f"Edge TPU ready: {report['edgetpu_ready']} (float tensors: {len(report['float_tensors'])}, "
        f"dynamic shapes: {len(report['dynamic_shapes'])})"
    )
    if fix is not None:
        console.print(f"  to make it ready: {fix}")


def print_bench(result: dict) -> None:
    """``edge-emotion bench``'s figures: one row a stage, then the frame rates and the machine."""
    table = Table(title="edge-emotion bench")
    for column in ("stage", "threads", "median ms", "p95 ms", "runs"):
        table.add_column(column, justify="left" if column == "stage" else "right", no_wrap=True)
    for row in result["stages"]:
        threads = "" if row["threads"] is None else str(row["threads"])
        table.add_row(row["stage"], threads, f"{row['median_ms']:.2f}", f"{row['p95_ms']:.2f}", str(row["runs"]))
    console.print(table)
    console.print("FPS of compute (capture + full search + align and classify fast, best threads): " + ", ".join(
        f"{faces}: {fps:g}" for faces, fps in result["fps"].items()
    ))  # fmt: skip
    console.print(f"frames: {result['source']}")
    console.print("machine: " + ", ".join(f"{key} {value}" for key, value in result["machine"].items()))
