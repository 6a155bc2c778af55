"""Tables for the terminal (Rich), kept apart from the code that computes what they show."""

from collections.abc import Mapping, Sequence

from rich.console import Console
from rich.table import Table

from edge_emotion.metrics import Scores

console = Console()


def print_scores(scores: Scores, title: str) -> None:
    table = Table(title=title)
    for column in ("class", "precision", "recall", "faces"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for index, name in enumerate(scores.recall):
        table.add_row(
            name,
            f"{scores.precision[name]:.3f}",
            f"{scores.recall[name]:.3f}",
            str(scores.confusion[index].sum()),
        )
    console.print(table)
    console.print(f"accuracy {scores.accuracy:.4f}   loss {scores.loss:.4f}   macro-F1 {scores.macro_f1:.4f}")


def print_rows(title: str, header: Sequence[str], rows: Sequence[Mapping[str, object]]) -> None:
    """A plain table from dict rows, in ``header`` order."""
    table = Table(title=title)
    for column in header:
        table.add_column(column, justify="left" if column == header[0] else "right")
    for row in rows:
        table.add_row(*(str(row.get(column, "")) for column in header))
    console.print(table)
