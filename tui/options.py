"""What every dl-tui command shares: `-h`, flags shown without a value, `--models` and `--device`.

Kept apart from `tui.cli` (the dispatcher), so that a command module never imports the
module that dispatches to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperCommand

from tui.runtime.choices import Device

# Every dl-tui command: -h is --help too.
CONTEXT: dict[str, Any] = {"help_option_names": ["-h", "--help"]}


class Command(TyperCommand):
    """A Typer command whose flags show no value in --help.

    Typer 0.29 labels every bool option `<bool>`, flags and --help included, as if each
    took a value; a flag's metavar left empty shows nothing there.
    """

    def get_params(self, ctx: typer.Context) -> list:
        params = super().get_params(ctx)
        for param in params:
            if getattr(param, "is_flag", False):
                param.metavar = ""
        return params


def typer_app() -> typer.Typer:
    """The Typer app for one dl-tui command (its one function takes `cls=Command`)."""
    return typer.Typer(add_completion=False, pretty_exceptions_enable=False, context_settings=CONTEXT)


ModelsOption = Annotated[Optional[Path], typer.Option(
    "--models", metavar="DIR", show_default=False,
    help="Read models from DIR only (default: $DL_TUI_MODELS, else your own models, "
    "trained in the app, then the shipped ones).")]
DeviceOption = Annotated[Device, typer.Option(
    help="auto: CUDA where onnxruntime-gpu can run it, else the CPU.")]
