"""`dl-tui`: the Textual app (`dl-tui [PATH]`), `dl-tui classify PATH...`, `dl-tui evaluate DIR`,
`dl-tui explain PATH...` and `dl-tui models`.

A click group cannot have both a positional PATH and subcommands, so `main` looks at the
first argument itself. Heavy imports wait until a command needs them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, get_args

import click

from tui.options import Command, command, device_option, max_file_size_option, models_option, precision_option
from tui.runtime.choices import Device, Precision
from tui.streams import refuse_closed_streams
from tui.terminal import GRAPHICS_ENV, Graphics
from tui.text import clean, one_line

if TYPE_CHECKING:
    from tui.runtime import Runtime

NO_TERMINAL = "dl-tui: the app needs a terminal; for scripts use `dl-tui classify`"


def interactive() -> bool:
    """Are stdin and stdout both terminals? The app reads keys and draws; nothing else will do."""
    return all(stream is not None and stream.isatty() for stream in (sys.stdin, sys.stdout))


def package_version() -> str:
    """This package's version, from its installed metadata."""
    from importlib.metadata import PackageNotFoundError, version  # 25 ms: only for --version

    try:
        return version("dl-tui")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        print(f"dl-tui {package_version()}")
        ctx.exit()


@command(
    name="dl-tui",
    help="Browse images and the exported models in a terminal app.\n\n"
    "Commands: dl-tui classify PATH... classifies image files and folders without the app "
    "(a table, JSON lines or CSV); dl-tui evaluate DIR -m NAME reports a model's accuracy, "
    "per-class figures, confusion matrix and mistakes on a folder of class subfolders; "
    "dl-tui explain PATH... -m NAME shows which pixels made a model decide (PNG overlays and "
    "JSON lines); dl-tui models lists the models. Each has --help. "
    "(To open a folder named classify, evaluate, explain or models, write ./classify, "
    "./evaluate, ./explain or ./models.)\n\n"
    "Exit code 2: no such path, CUDA unavailable, or stdin or stdout is not a terminal.",
)
@click.argument("path", required=False, type=click.Path(path_type=Path))
@models_option
@device_option
@precision_option
@max_file_size_option
@click.option("--graphics", type=click.Choice(get_args(Graphics), case_sensitive=False),
              default="auto", show_default=True, envvar=GRAPHICS_ENV, show_envvar=True,
              help="How pictures are drawn: auto asks the terminal; kitty, sixel or halfcell "
              "(coloured half blocks) for a terminal that claims what it cannot draw.")
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Print the version and exit.")
def app(path: Path | None, models: Path | None, device: Device, precision: Precision,
        max_file_size: int, graphics: Graphics) -> int:
    """Start the app; see `help`."""
    from tui.paths import shipped_images_dir

    path = path if path is not None else shipped_images_dir()
    if not path.exists():
        print(f"dl-tui: error: no such path: {clean(path)}", file=sys.stderr)
        return 2
    if not interactive():  # else Textual runs on, drawing to nobody, at 100% of a core
        print(NO_TERMINAL, file=sys.stderr)
        return 2
    from tui.app import run_app

    run_app(path, models, device.value, graphics.lower(), precision.value, max_file_size=max_file_size)
    return 0


@command(
    name="models",
    help="List the models dl-tui reads: name, task, inputs, outputs, test metrics and "
    "source (user: trained here; shipped: came with dl-tui). A model that hides one of the "
    "same name in a later folder is listed once.\n\n"
    "Exit code 0: listed; 1: some models cannot be loaded (each row says why); "
    "2: no models.",
)
@models_option
def models_app(models: Path | None) -> int:
    """Print the models table; see `help`."""
    from tui.runtime import Runtime

    from tui.paths import no_models_reason

    runtime = Runtime(models, "cpu")  # reading what a model says needs no GPU
    if problem := no_models_reason(runtime.available(), runtime.folders):
        print(f"dl-tui models: error: {one_line(problem)}", file=sys.stderr)
        return 2
    return print_models(runtime)


MODEL_COLUMNS = ("name", "task", "inputs", "outputs", "test metrics", "source")


def print_models(runtime: Runtime) -> int:
    """The models on stdout, a table on a terminal, else tab-separated with a header line;
    1 if some model cannot be loaded (its row says why), else 0."""
    rows = model_rows(runtime)
    if sys.stdout.isatty():
        from rich import box
        from rich.console import Console
        from rich.table import Table

        table = Table(box=box.SIMPLE, show_edge=False, pad_edge=False)
        for column in MODEL_COLUMNS:  # names and tasks whole; the rest wraps in a narrow terminal
            table.add_column(column, no_wrap=column in ("name", "task"))
        for row in rows:
            table.add_row(*row, style="red" if row[1].startswith("error: ") else None)
        Console(highlight=False).print(table, markup=False)
    else:  # for scripts: cut -f, awk -F'\t'; clean() writes a tab in a name as \t
        print("\n".join("\t".join(row) for row in [MODEL_COLUMNS, *rows]))
    return 1 if any(row[1].startswith("error: ") for row in rows) else 0


def model_rows(runtime: Runtime) -> list[tuple[str, ...]]:
    """One row of MODEL_COLUMNS per model, every cell cleaned; `error: why` as the task of a
    model that cannot be loaded."""
    from tui.model_text import metrics, signature
    from tui.paths import model_source
    from tui.runtime import ModelError

    rows = []
    for name in runtime.available():
        try:
            info = runtime.info(name)
        except ModelError as error:
            rows.append((clean(name), f"error: {one_line(error)}", "", "", "", ""))
            continue
        rows.append(tuple(clean(cell) for cell in (
            name, info.task, signature(info.inputs), signature(info.outputs),
            metrics(info.metrics), model_source(info.path, runtime.folders))))
    return rows


def _run(command: Command, args: Sequence[str], prog: str) -> int:
    """Run a dl-tui command (its usage errors are one line); the exit code."""
    return command.main(args=list(args), prog_name=prog, standalone_mode=False)


COMMANDS = ("classify", "evaluate", "explain", "models")


def mistyped_command(args: list[str]) -> str | None:
    """The command the first argument was probably meant to be: it is no option, no path
    that exists, and close to a command's name (`clasify` -> `classify`); else None."""
    if not args or args[0].startswith("-") or args[0] in COMMANDS or Path(args[0]).exists():
        return None
    from difflib import get_close_matches

    close = get_close_matches(args[0], COMMANDS, n=1, cutoff=0.6)
    return close[0] if close else None


def main(argv: list[str] | None = None) -> None:
    """The `dl-tui` console script."""
    args = sys.argv[1:] if argv is None else list(argv)
    refuse_closed_streams("dl-tui")
    if meant := mistyped_command(args):
        print(f"dl-tui: error: no such command or path: {clean(args[0])} (did you mean "
              f"`dl-tui {meant}`?)", file=sys.stderr)
        sys.exit(2)
    if args[:1] == ["classify"]:
        from tui.classify import app as classify_app

        sys.exit(_run(classify_app, args[1:], "dl-tui classify"))
    if args[:1] == ["evaluate"]:
        from tui.evaluate import app as evaluate_app

        sys.exit(_run(evaluate_app, args[1:], "dl-tui evaluate"))
    if args[:1] == ["explain"]:
        from tui.classify.explain_command import app as explain_app

        sys.exit(_run(explain_app, args[1:], "dl-tui explain"))
    if args[:1] == ["models"]:
        sys.exit(_run(models_app, args[1:], "dl-tui models"))
    sys.exit(_run(app, args, "dl-tui"))


if __name__ == "__main__":
    main()
