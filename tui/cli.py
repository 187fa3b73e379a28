"""`dl-tui`: the Textual app (`dl-tui [PATH]`) and the headless `dl-tui classify PATH...`.

Typer cannot give a group both a positional PATH and subcommands, so `main` looks at
the first argument itself. Heavy imports wait until a command needs them.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


class Device(str, Enum):
    """`--device`, here and in `dl-tui classify`."""

    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


@app.command(
    help="Browse images and the exported models in a terminal app.\n\n"
    "Commands: dl-tui classify PATH... classifies image files and folders without the app "
    "(a table, JSON lines or CSV; see dl-tui classify --help).",
)
def launch(
    path: Annotated[Optional[Path], typer.Argument(help="Image file or folder to open "
                                                   "(default: the shipped sample images).",
                                                   show_default=False)] = None,
    models: Annotated[Optional[Path], typer.Option("--models", help="Folder of .onnx models "
                                                   "(default: $DL_TUI_MODELS, else the shipped "
                                                   "exported/).", show_default=False)] = None,
    device: Annotated[Device, typer.Option(help="auto: CUDA where onnxruntime-gpu can run it, "
                                           "else the CPU.")] = Device.auto,
) -> None:
    """Start the app, or list the models where the app is not installed; see `help`."""
    from tui.paths import models_dir, shipped_images_dir
    from tui.text import clean

    path = path if path is not None else shipped_images_dir()
    if not path.exists():
        print(f"dl-tui: error: no such path: {clean(path)}", file=sys.stderr)
        raise typer.Exit(2)
    try:
        from tui.app import run_app
    except ModuleNotFoundError as error:
        if error.name != "tui.app":
            raise
        raise typer.Exit(_print_models(models_dir(models), device.value))
    run_app(path, models_dir(models), device.value)


def _print_models(folder: Path, device: str) -> int:
    """Without the app: a table of the models found. Exit code 2 if there are none."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from tui.runtime import DeviceError, ModelError, Runtime
    from tui.text import clean

    try:
        runtime = Runtime(folder, device)
        infos = [runtime.info(name) for name in runtime.available()]
    except (ModelError, DeviceError) as error:
        print(f"dl-tui: error: {error}", file=sys.stderr)
        return 2
    if not infos:
        print(f"dl-tui: error: no models in {clean(folder)}", file=sys.stderr)
        return 2
    table = Table(title=Text(f"Models in {clean(folder)} ({runtime.provider})"), box=box.SIMPLE)
    for column in ("name", "task"):
        table.add_column(column, no_wrap=True)
    for column in ("inputs", "outputs", "test metrics"):
        table.add_column(column)
    for info in infos:
        table.add_row(*(Text(clean(cell)) for cell in (
            info.name, info.task, _signature(info.inputs), _signature(info.outputs),
            ", ".join(f"{k.removeprefix('test_')} {v:.4g}" if isinstance(v, (int, float))
                      else f"{k} {v}" for k, v in info.metrics.items()),
        )))
    Console().print(table)
    return 0


def _signature(args: list[tuple[str, list, str]]) -> str:
    def dims(shape: list) -> str:
        return ",".join(str(d) if d is not None else "?" for d in shape)

    return "; ".join(f"{name} [{dims(shape)}]" for name, shape, _ in args)


def _run(typer_app: typer.Typer, args: list[str], prog: str) -> int:
    """Run a Typer app; usage errors become one line and exit code 2."""
    command = typer.main.get_command(typer_app)
    try:
        result = command.main(args=args, prog_name=prog, standalone_mode=False)
    except typer.Abort:
        return 130
    except typer.TyperException as error:  # click's UsageError and friends
        message = getattr(error, "format_message", lambda: str(error))()
        print(f"{prog}: error: {message} (see {prog} --help)", file=sys.stderr)
        return int(getattr(error, "exit_code", 2))
    return result if isinstance(result, int) else 0


def main(argv: list[str] | None = None) -> None:
    """The `dl-tui` console script."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["classify"]:
        from tui.classify import app as classify_app

        sys.exit(_run(classify_app, args[1:], "dl-tui classify"))
    sys.exit(_run(app, args, "dl-tui"))


if __name__ == "__main__":
    main()
