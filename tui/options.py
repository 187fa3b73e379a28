"""What every dl-tui command shares: `-h`, flags shown without a value, `--models` and `--device`.

Kept apart from `tui.cli` (the dispatcher), so that a command module never imports the
module that dispatches to it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperCommand

from tui.runtime.choices import Device

# Every dl-tui command: -h is --help too.
CONTEXT: dict[str, Any] = {"help_option_names": ["-h", "--help"]}


class Command(TyperCommand):
    """A Typer command whose usage errors are one line, and whose flags show no value in --help.

    Typer 0.29 labels every bool option `<bool>`, flags and --help included, as if each
    took a value; a flag's metavar left empty shows nothing there.
    """

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        """Run the command; its exit code. A usage error is one line on stderr and exit code 2
        (Typer's own is a box of help), Ctrl-C is 130. Alike under `dl-tui` and a CliRunner."""
        prog = prog_name or self.name or "dl-tui"
        try:
            result = super().main(args, prog, complete_var, standalone_mode=False, **extra)
            code = result if isinstance(result, int) else 0
        except typer.Abort:
            code = 130
        except typer.TyperException as error:  # click's UsageError and friends
            message = getattr(error, "format_message", lambda: str(error))()
            print(f"{prog}: error: {message} (see {prog} --help)", file=sys.stderr)
            code = int(getattr(error, "exit_code", 2))
        if standalone_mode:
            sys.exit(code)
        return code

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
