"""`dl-tui evaluate`'s output: one JSON document, or tables for people (Rich, text never markup)."""

from __future__ import annotations

import json
import math
from typing import TextIO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tui.text import clean, plain

TABLE_MISTAKES = 10  # mistakes and label issues shown in the table (JSON has --mistakes of them)


def write_json(report: dict, stream: TextIO) -> None:
    """The report as one JSON object on one line (NaN never reaches it: numbers are finite)."""
    stream.write(json.dumps(report, ensure_ascii=False, allow_nan=False) + "\n")
    stream.flush()


def _pct(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{100 * value:.2f}%"


def write_table(report: dict, console: Console) -> None:
    """The report as tables: the summary, per class, the confusion matrix, the most confident
    mistakes and the likely label errors."""
    console.print(Text(f"{report['model']}: {report['count']} images ({report['split']}), accuracy "
                       f"{_pct(report['accuracy'])}, macro F1 {_pct(report['macro_f1'])}"
                       + (f", {len(report['errors'])} failed" if report["errors"] else "")))
    if not report["count"]:
        _files(console, "files that failed", report["errors"], ("error",), ("error",))
        return
    per_class = Table(box=box.SIMPLE, show_edge=False, pad_edge=False)
    for name in ("label", "precision", "recall", "f1", "support"):
        per_class.add_column(name, justify="left" if name == "label" else "right")
    for row in report["per_class"]:
        per_class.add_row(plain(row["label"]), _pct(row["precision"]), _pct(row["recall"]),
                          _pct(row["f1"]), str(row["support"]))
    console.print(per_class)
    labels, matrix = report["confusion"]["labels"], report["confusion"]["matrix"]
    confusion = Table(box=box.SIMPLE, show_edge=False, pad_edge=False, title="confusion (rows: true label)",
                      title_justify="left")
    confusion.add_column("true \\ predicted")
    for label in labels:
        confusion.add_column(plain(label), justify="right")
    for label, row in zip(labels, matrix, strict=True):
        confusion.add_row(plain(label), *(str(n) for n in row))
    console.print(confusion)
    _files(console, "most confident mistakes", report["mistakes"],
           ("true_label", "label", "confidence"), ("true", "predicted", "confidence"))
    _files(console, "likely label errors (confident learning)", report["label_issues"],
           ("given_label", "suggested_label", "given_probability"), ("given", "suggested", "p(given)"))
    _files(console, "files that failed", report["errors"], ("error",), ("error",))


def _files(console: Console, title: str, rows: list[dict], keys: tuple[str, ...], names: tuple[str, ...]) -> None:
    if not rows:
        return
    table = Table(box=box.SIMPLE, show_edge=False, pad_edge=False, title=f"{title}: {len(rows)}"
                  + (f", the first {TABLE_MISTAKES}" if len(rows) > TABLE_MISTAKES else ""),
                  title_justify="left")
    table.add_column("file", overflow="fold")
    for name in names:
        table.add_column(name, justify="right" if name in ("confidence", "p(given)") else "left")
    for row in rows[:TABLE_MISTAKES]:
        cells = [f"{row[key]:.3f}" if isinstance(row[key], float) else clean(row[key]) for key in keys]
        table.add_row(plain(row["path"]), *(plain(cell) for cell in cells))
    console.print(table)
