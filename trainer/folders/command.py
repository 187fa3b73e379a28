"""The `dl-train check DIR` command (registered in trainer/cli.py). No TensorFlow."""

from __future__ import annotations

import json
import signal
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from trainer.folders.phash import DEFAULT_NEAR, THUMB
from trainer.folders.split import DEFAULT_TEST, DEFAULT_VAL


class CheckFormat(str, Enum):
    table = "table"
    json = "json"


def check_command(
    directory: Annotated[Path, typer.Argument(help="The dataset folder: DIR/<class>/... or DIR/train|val|test/<class>/...",
                                              show_default=False, metavar="DIR")],
    format: Annotated[CheckFormat, typer.Option(
        "--format", help="table: for people; json: one object (root, layout, can_train, classes, counts, splits, "
        "sizes, modes, imbalance, suggested, problems [{path, kind, detail, severity}], duplicates, leaks).")] = CheckFormat.table,
    near: Annotated[int, typer.Option(
        "--near", min=0, max=256, help=f"Near duplicates: pictures whose 256-bit perceptual hashes (pHash of a {THUMB}x{THUMB} "
        f"grey thumbnail) differ in at most this many bits. A copy recompressed, resized or brightened stays within "
        f"{DEFAULT_NEAR}; different pictures of one kind differ in more.")] = DEFAULT_NEAR,
    val: Annotated[float, typer.Option("--val", help="The validation fraction of the split dl-train folder would make "
                                                     "(leaks across it are reported).")] = DEFAULT_VAL,
    test: Annotated[float, typer.Option("--test", help="The test fraction of that split.")] = DEFAULT_TEST,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**32 - 1, help="The seed of that split.")] = 0,
) -> None:
    """Check a dataset folder without training: classes and counts, image sizes and modes,
    imbalance, exact and near duplicates, duplicates across train/val/test (leaks) or under two
    classes, and every file it cannot use, with the reason. Exit 0 when it can train (two
    classes with images or more), whatever the warnings; 2 when it cannot, or on a usage error."""
    from trainer.folders.check import CheckError, check_folder
    from trainer.folders.report import table
    from trainer.folders.split import check_fraction

    try:
        check_fraction(val, test)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    progress = _progress_line if sys.stderr.isatty() else None
    try:
        report = check_folder(directory, near=near, val=val, test=test, seed=seed, progress=progress)
    except CheckError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    finally:
        if progress is not None:
            sys.stderr.write("\r\x1b[K")
    try:
        if format is CheckFormat.json:
            typer.echo(json.dumps(report))
        else:
            for line in table(report):
                typer.echo(line)
    except BrokenPipeError:
        raise typer.Exit(128 + signal.SIGPIPE) from None
    raise typer.Exit(0 if report["can_train"] else 2)


def _progress_line(done: int, total: int) -> None:
    """How far the reading is, on one line of a terminal's stderr (rewritten in place)."""
    sys.stderr.write(f"\rread {done:,} of {total:,} files")
    sys.stderr.flush()
