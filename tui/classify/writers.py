"""The output formats: a table with probability bars, JSON lines, CSV. All stream.

Each writer takes one batch at a time: a list of files, each the list of its rows
(one per model). Anything a terminal shows passes through `tui.text.clean`.

A model with an OOD calibration adds `"ood": {"score": ..., "flagged": ...}` to its JSON
lines, `ood_score` and `ood_flagged` cells in CSV (empty for other models), and `?` after
the bar in the table where the image does not look like a digit.
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from functools import lru_cache
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from rich.cells import cell_len, set_cell_size
from rich.text import Text

from tui.bar import bar
from tui.classify.rows import Row
from tui.streams import write_lines  # PIPE_BUF: what a test measures the pieces by
from tui.text import clean

if TYPE_CHECKING:
    from rich.console import Console

Batch = list[list[Row]]


class Writer(Protocol):
    def write(self, batch: Batch) -> None: ...


class OutputError(Exception):
    """stdout takes no more: its reader went away (EPIPE) or the disk is full."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error.strerror or str(error))
        self.errno = error.errno


def write(writer: Writer, batch: Batch) -> None:
    """`writer.write(batch)`; OutputError when stdout fails (writers do no other I/O)."""
    try:
        writer.write(batch)
    except OSError as error:
        raise OutputError(error) from None


class Lines:
    """Where a writer's output goes: whole lines to a text stream.

    `Lines(stream)` writes to STREAM (a test's `io.StringIO`, a file); `Lines.stdout()`
    to `sys.stdout` as it is at each write, since a live progress display may wrap it.
    A stream with a file descriptor that is not a terminal gets its lines straight to
    the descriptor, whole (see `write_lines`); a terminal (people) or a stream without
    one gets them through the stream.
    """

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream

    @classmethod
    def stdout(cls) -> Lines:
        """sys.stdout, looked up at each write."""
        return cls(None)

    @property
    def stream(self) -> TextIO:
        return sys.stdout if self._stream is None else self._stream

    def console(self) -> Console:
        """A Rich console on this output (on stdout: whatever sys.stdout is then)."""
        from rich.console import Console  # only tables need it, and it is slow to import

        return Console(file=self._stream, highlight=False, soft_wrap=False)

    def write_lines(self, text: str) -> None:
        """TEXT, whole lines, then flushed."""
        out = self.stream
        try:
            fd = None if out.isatty() else out.fileno()
        except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
            fd = None
        if fd is None:
            out.write(text)
            out.flush()
            return
        out.flush()  # whatever went through the stream goes first
        write_lines(fd, text.encode(getattr(out, "encoding", None) or "utf-8",
                                    getattr(out, "errors", None) or "strict"))

    def flush(self) -> None:
        self.stream.flush()


class JsonlWriter:
    """One JSON object per file and model; the path kept exact (JSON escapes controls)."""

    def __init__(self, out: Lines, top: int | None = None) -> None:
        self.out = out
        self.top = top

    def write(self, batch: Batch) -> None:
        self.out.write_lines("".join(self._line(row) for rows in batch for row in rows))

    def _line(self, row: Row) -> str:
        line = self._plain(row)
        if row.ood is None:
            return line
        ood = f', "ood": {{"score": {_number(row.ood["score"])}, "flagged": {json.dumps(bool(row.ood["flagged"]))}}}'
        return line[:-2] + ood + "}\n"

    def _plain(self, row: Row) -> str:
        # Assembled by hand: json.dumps of the whole record costs more than the model.
        # ensure_ascii (json.dumps' default): C1 controls and odd bytes leave as \u escapes.
        if row.probabilities is None:
            probs = "null"
        else:
            pairs = row.top(self.top) if self.top else row.probabilities.items()
            labels, values = zip(*pairs, strict=False) if pairs else ((), ())
            # One %-format per line; any NaN or infinity makes the sum one, and then the
            # slow path writes it as null.
            if (row.error is None and row.label is not None and row.confidence is not None
                    and math.isfinite(sum(values, row.confidence))):
                return _template(row.model, labels) % (
                    _string(str(row.path)), _key(row.label), row.confidence, *values)
            probs = "{" + ", ".join(f"{_key(label)}: {_number(p)}" for label, p in pairs) + "}"
        return (f'{{"path": {_string(str(row.path))}, "model": {_key(row.model)}, '
                f'"label": {json.dumps(row.label)}, "confidence": {_number(row.confidence)}, '
                f'"probabilities": {probs}, "error": {json.dumps(row.error)}}}\n')


# What json.dumps does with a str (ensure_ascii), without its checks around it.
_string = encode_basestring_ascii


@lru_cache(maxsize=1024)
def _key(text: str) -> str:
    return json.dumps(text)


@lru_cache(maxsize=256)
def _template(model: str, labels: tuple[str, ...]) -> str:
    """A classified row's line as a %-format: path, label, confidence, then each
    probability. `%.6g` writes what `_number` does for a finite float."""
    probs = ", ".join(f"{_key(label).replace('%', '%%')}: %.6g" for label in labels)
    return ('{"path": %s, "model": ' + _key(model).replace("%", "%%")
            + ', "label": %s, "confidence": %.6g, "probabilities": {' + probs
            + '}, "error": null}\n')


def _number(value: float | None) -> str:
    """Six significant digits, as JSON: `null` for None, NaN or infinity."""
    return f"{value:.6g}" if value is not None and math.isfinite(value) else "null"


# What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text_cell(text: str) -> str:
    """A text cell for CSV, cleaned, and with a `'` before it where it would start a
    formula, as OWASP recommends (`=HYPERLINK(...).png` -> `'=HYPERLINK(...).png`). Numbers
    are written by the writer itself and never pass here: `-3.2` stays a number."""
    text = clean(text)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class CsvWriter:
    """The JSONL fields as columns, then one column per label; with `top` K instead the
    columns label_1, probability_1 ... label_K, probability_K, most likely first. Text
    cells (paths, labels, errors) that would start a formula get a `'` before them."""

    def __init__(self, out: Lines, labels: list[str], top: int | None = None) -> None:
        self.out = out
        self.labels = labels
        self.top = top
        self.started = False

    def write(self, batch: Batch) -> None:
        buffer = io.StringIO()  # the batch's lines, then one write (whole lines only)
        writer = csv.writer(buffer, lineterminator="\n")
        if not self.started:
            writer.writerow(["path", "model", "label", "confidence", "error", "ood_score", "ood_flagged",
                             *self._header()])
            self.started = True
        for rows in batch:
            for row in rows:
                writer.writerow([
                    _text_cell(str(row.path)), _text_cell(row.model), _text_cell(row.label or ""),
                    "" if row.confidence is None else f"{row.confidence:.6g}",
                    _text_cell(row.error or ""), *_ood_cells(row), *self._probabilities(row),
                ])
        self.out.write_lines(buffer.getvalue())

    def _header(self) -> list[str]:
        if self.top is None:
            return [_text_cell(label) for label in self.labels]
        return [name for k in range(1, self.top + 1) for name in (f"label_{k}", f"probability_{k}")]

    def _probabilities(self, row: Row) -> list[str]:
        probs = row.probabilities or {}
        if self.top is None:
            return [f"{probs[label]:.6g}" if label in probs else "" for label in self.labels]
        pairs = row.top(self.top)  # fewer than K for a model with fewer labels, none for an error
        cells = [cell for label, p in pairs for cell in (_text_cell(label), f"{p:.6g}")]
        return cells + [""] * (2 * self.top - len(cells))


def _ood_cells(row: Row) -> list[str]:
    if row.ood is None:
        return ["", ""]
    return [_number(row.ood["score"]).replace("null", ""), "true" if row.ood["flagged"] else "false"]


def _failed_file(rows: list[Row]) -> str | None:
    """The error when every model failed alike (the file could not be loaded), else None."""
    errors = {row.error for row in rows}
    return errors.pop() if len(errors) == 1 else None


def _reraise() -> None:
    raise  # (called inside rich's `except BrokenPipeError`)


class TableWriter:
    """Aligned rows printed as they come: the file, then per model label, confidence, bar."""

    def __init__(self, out: Lines, models: list[str], labels: list[str], top: int | None) -> None:
        self.out = out
        self.console = out.console()
        # Rich's own answer to a closed pipe is SystemExit(1); ours is `write`'s.
        self.console.on_broken_pipe = _reraise  # type: ignore[method-assign]
        self.top = top or 1
        self.label_width = min(12, max([len(clean(label)) for label in labels] + [1]))
        self.width = width = self.console.width
        # As many models as fit whole, at least one; `dropped` names the others (the
        # command says so on stderr), rather than cutting columns off without a word.
        for shown in range(len(models), 0, -1):
            per_model = max(14, (width - 24) // shown - 1)
            self.bar_width = max(4, min(20, per_model - self.label_width - 10))
            self.cell_width = self.label_width + 10 + self.bar_width  # " ?" after the bar: OOD-flagged
            if 12 + (self.cell_width + 1) * shown <= width:
                break
        self.models, self.dropped = models[:shown], models[shown:]
        # Paths are cut from the left beyond 50 cells; the results stay beside them.
        self.file_width = max(12, min(50, width - (self.cell_width + 1) * shown - 1))
        self.started = False

    def write(self, batch: Batch) -> None:
        if not self.started:
            self.console.print(self._header(), no_wrap=True, crop=True)
            self.started = True
        for rows in batch:
            error = _failed_file(rows) is not None
            for line in self._lines(rows):
                # A reason is worth a second line; a result row never wraps.
                self.console.print(line, no_wrap=not error, crop=not error, overflow="fold")
        self.out.flush()

    def _header(self) -> Text:
        text = Text(self._fit("file", self.file_width), style="bold")
        for model in self.models:
            several = len(self.models) + len(self.dropped) > 1
            head = clean(model) if several else f"{clean(model)}: prediction"
            text.append(" " + self._fit(head, self.cell_width), style="bold")
        return text

    def _lines(self, rows: list[Row]) -> list[Text]:
        name = self._fit_path(rows[0].path)
        error = _failed_file(rows)
        if error is not None:
            return [Text(name + " ") + Text(f"error: {clean(error)}", style="red")]
        lines = []
        for rank in range(self.top):
            line = Text(name if rank == 0 else " " * self.file_width)
            for row in rows[:len(self.models)]:
                pairs = row.top(self.top)
                line.append(" ")
                if row.error is not None and rank == 0:  # this model alone failed
                    line.append(self._fit(f"error: {clean(row.error)}", self.cell_width), "red")
                else:
                    flagged = rank == 0 and row.ood is not None and row.ood["flagged"]
                    line.append_text(self._cell(*pairs[rank], flagged) if rank < len(pairs)
                                     else Text(" " * self.cell_width))
            lines.append(line)
        return lines

    def _cell(self, label: str, p: float, flagged: bool = False) -> Text:
        label = self._fit(clean(label), self.label_width)
        style = "green" if p >= 0.9 else "yellow" if p >= 0.5 else "red"
        return Text.assemble((label, "bold"), f" {p:6.1%} ", (bar(p, self.bar_width), style),
                             (" ?", "bold red") if flagged else "  ")

    def _fit_path(self, path: Path) -> str:
        """The path if it fits, else `…/name`, else the start of the name: the folders
        matter least, and a name often starts with what matters most."""
        text, name = clean(path), clean(path.name)
        if cell_len(text) <= self.file_width:
            return self._fit(text, self.file_width)
        return self._fit("…/" + name if cell_len(name) + 2 <= self.file_width else name,
                         self.file_width)

    @staticmethod
    def _fit(text: str, width: int) -> str:
        """Pad or cut to `width` terminal cells (wide characters count twice)."""
        if cell_len(text) <= width:
            return set_cell_size(text, width)
        return set_cell_size(text, width - 1) + "…"
