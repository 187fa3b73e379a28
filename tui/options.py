"""What every dl-tui command shares: `-h`, one-line usage errors, `--models`, `--device`, `--precision`.

dl-tui's commands are plain click, not Typer (which `dl-train` uses): Typer 0.29 builds a
pydantic adapter for every parameter on every run, about 150 ms of the 0.3 s a one-image
`dl-tui classify` may take from process start to exit (bench/README.md). Click is what Typer
is built on: the errors and exit codes are as before, the help is click's plain layout.

Kept apart from `tui.cli` (the dispatcher), so that a command module never imports the
module that dispatches to it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import click

from tui.runtime.choices import PRECISION_ENV, Device, Precision

# Every dl-tui command: -h is --help too; help as wide as the terminal, up to 100 columns.
CONTEXT: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Command(click.Command):
    """A click command whose usage errors are one line, and whose exit code is returned."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", CONTEXT)
        super().__init__(*args, **kwargs)

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        """Run the command; its exit code. A usage error is one line on stderr and exit code 2
        (click's own adds the usage), Ctrl-C is 130. Alike under `dl-tui` and a CliRunner."""
        prog = prog_name or self.name or "dl-tui"
        try:
            result = super().main(args, prog, complete_var, standalone_mode=False, **extra)
            code = result if isinstance(result, int) else 0
        except click.Abort:
            code = 130
        except click.ClickException as error:  # UsageError, BadParameter and friends
            print(f"{prog}: error: {error.format_message()} (see {prog} --help)", file=sys.stderr)
            code = error.exit_code
        if standalone_mode:
            sys.exit(code)
        return code


def command(**settings: Any):
    """`@command(help=...)`: a dl-tui command (one-line usage errors, -h)."""
    return click.command(cls=Command, **settings)


def models_option(function):
    """`--models DIR`, for every command that reads models."""
    return click.option(
        "--models", type=click.Path(path_type=Path), metavar="DIR",
        help="Read models from DIR only (default: $DL_TUI_MODELS, else your own models, "
        "trained in the app, then the shipped ones).")(function)


def device_option(function):
    """`--device auto|cpu|cuda` (tui.runtime.choices.Device)."""
    return click.option(
        "--device", type=click.Choice(Device), default=Device.auto, show_default=True,
        help="auto: CUDA where onnxruntime-gpu can run it, else the CPU.")(function)


def precision_option(function):
    """`--precision auto|float|int8` (tui.runtime.choices.Precision), also from DL_TUI_PRECISION."""
    return click.option(
        "--precision", type=click.Choice(Precision), default=Precision.auto, show_default=True,
        envvar=PRECISION_ENV, show_envvar=True,
        help="auto: a model's int8 twin where one meets the bar (within 0.1 accuracy points "
        "of the float model; faster on the CPU), else the float model.")(function)


MAX_FILE_SIZE = "200M"  # tui.runtime.preprocess.MAX_FILE_BYTES, without importing Pillow here


class ByteSize(click.ParamType):
    """A size in bytes: a number, with K, M or G for 1024, 1024² or 1024³ (200M, 1.5G)."""

    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        found = re.fullmatch(r"(\d+(?:\.\d*)?)\s*([KMG]?)I?B?", str(value).strip(), re.IGNORECASE)
        size = int(float(found[1]) * 1024 ** " KMG".index(found[2].upper() or " ")) if found else 0
        if size < 1:
            self.fail(f"{value!r} is not a size: give bytes, or K, M or G (such as 200M)", param, ctx)
        return size


def max_file_size_option(function):
    """`--max-file-size SIZE`: larger files are not read (one error line each)."""
    return click.option(
        "--max-file-size", type=ByteSize(), default=MAX_FILE_SIZE, show_default=True, metavar="SIZE",
        help="Do not read image files larger than SIZE (bytes, or with K, M or G): each gets an "
        "error naming the limit.")(function)
