"""`dl-train folder DIR --name NAME`: the command, its options and its checks (no TensorFlow here,
so a usage error is told at once). The training itself is trainer/folder_training.py."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from trainer import specs
from trainer.data import DataError
from tui import contract

NAME_RULE = re.compile(r"[A-Za-z0-9_-]+")
DEFAULT_BATCH_SIZE = 32
SIZE_RULE = re.compile(r"(\d+)(?:[xX](\d+))?")
MAX_SIDE = 512


class Colour(str, Enum):
    auto = "auto"
    grey = "grey"
    rgb = "rgb"


class Balance(str, Enum):
    auto = "auto"
    none = "none"
    weights = "weights"


class Progress(str, Enum):  # trainer.cli.ProgressMode's values (cli imports this module)
    auto = "auto"
    rich = "rich"
    jsonl = "jsonl"
    none = "none"


class Augment(str, Enum):
    auto = "auto"
    none = "none"
    shift = "shift"
    shift_flip = "shift-flip"


@dataclass(frozen=True)
class FolderRun:
    """What `dl-train folder` was asked for, checked."""

    root: Path
    name: str
    out: Path
    epochs: int | None
    batch_size: int
    size: tuple[int, int] | None
    colour: str
    val: float
    test: float
    seed: int
    balance: str
    augment: str
    int8: bool
    restart: bool


def shipped_names() -> set[str]:
    """The names dl-train's own models use (commands and files): a folder model may not take one without --force."""
    return {one.name for one in specs.models()} | {f.name for f in specs.onnx_files()}


def check_name(name: str, force: bool) -> str:
    """NAME if a folder model may be called that; DataError (one line, exit 2) if not."""
    if name.endswith(contract.INT8_MODEL_SUFFIX):
        raise DataError(f"--name {name!r}: a name ending in {contract.INT8_MODEL_SUFFIX!r} is an int8 twin's; choose another name")
    if not NAME_RULE.fullmatch(name):
        raise DataError(f"--name {name!r}: use letters, digits, '-' and '_' only (it becomes {name}.onnx)")
    if name == specs.ALL:
        raise DataError(f"--name {name!r} is reserved (dl-tui's -m all runs every model); choose another name")
    if name in shipped_names() and not force:
        raise DataError(f"--name {name!r} is one of dl-train's own models; choose another name, or give --force to replace it")
    return name


def parse_size(text: str | None) -> tuple[int, int] | None:
    """--size HxW or N (square) as (height, width); None for the default (chosen from the pictures)."""
    if text is None:
        return None
    found = SIZE_RULE.fullmatch(text.strip())
    if not found:
        raise DataError(f"--size {text!r}: give HEIGHTxWIDTH (such as 32x48) or one number for a square")
    height = int(found.group(1))
    width = int(found.group(2) or height)
    if not (8 <= height <= MAX_SIDE and 8 <= width <= MAX_SIDE):
        raise DataError(f"--size {text!r}: each side from 8 to {MAX_SIDE} pixels")
    return height, width


def check_fractions(val: float, test: float) -> None:
    from trainer.folders.split import check_fraction

    try:
        check_fraction(val, test)
    except ValueError as error:
        raise DataError(str(error)) from None


def scan_folder(root: Path):
    """DATA's scan of ROOT (trainer/folders/layout.py), checked to have two classes to train on."""
    import os

    from trainer.folders.layout import scan

    if not root.is_dir():
        raise DataError(f"{root} is not a folder; give a folder with one subfolder of pictures per class")
    try:
        found = scan(Path(os.path.abspath(root)))
    except OSError as error:
        raise DataError(f"cannot read {root}: {error.strerror or error}") from None
    if len(found.classes) < 2:
        raise DataError(f"{root} has {len(found.classes)} class folder(s) with pictures; training needs at least two "
                        "(DIR/<class>/...; `dl-train check DIR` says what is wrong)")
    return found


def default_out() -> Path:
    """The first folder dl-tui reads models from: $DL_TUI_MODELS, else the user's models folder."""
    from tui.paths import model_folders

    return model_folders()[0]


def folder(
    root: Annotated[Path, typer.Argument(metavar="DIR", help="The pictures: DIR/<class>/... or DIR/train|val|test/<class>/...")],
    name: Annotated[str, typer.Option("--name", help="The model's name: letters, digits, '-' and '_' (writes NAME.onnx).")],
    out: Annotated[Path | None, typer.Option("--out", help="Folder the model is written to (default: the first folder dl-tui "
                                             "reads models from: $DL_TUI_MODELS, else your models folder). A model of "
                                             "that name already there moves to its previous/ folder.")] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", min=1, help="Train exactly this many epochs (the best validation "
                                               "epoch's weights are kept). Default: stop when validation has not improved "
                                               "for 10 epochs, never before epoch 12, at most 100; from 20,000 training "
                                               "pictures, round(380,000 / pictures) epochs on a cosine learning rate.")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Pictures per training step.")] = DEFAULT_BATCH_SIZE,
    size: Annotated[str | None, typer.Option("--size", help="Training size, HEIGHTxWIDTH or N (default: the pictures' "
                                             "median size, at most 64 on the longer side).")] = None,
    colour: Annotated[Colour, typer.Option("--colour", help="auto: rgb when the pictures of some class have colour, "
                                           "else grey.")] = Colour.auto,
    val: Annotated[float, typer.Option("--val", help="Share of each class held out for validation (early stopping, "
                                       "the OOD threshold), unless DIR gives a val folder.")] = 0.1,
    test: Annotated[float, typer.Option("--test", help="Share of each class held out for the test figures, unless DIR "
                                        "gives a test folder.")] = 0.1,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**32 - 1, help="Seed of the split, the weights and the "
                                      "shuffling: the same seed and folder give the same split.")] = 0,
    balance: Annotated[Balance, typer.Option("--balance", help="weights: each class weighs in the loss by the inverse of "
                                             "its share; auto: so when the largest class has 1.5 times the pictures of "
                                             "the smallest; none: never.")] = Balance.auto,
    augment: Annotated[Augment, typer.Option("--augment", help="shift: moves of up to 10% and zooms of up to 10% while "
                                             "training; shift-flip: those and left-right flips; auto: shift, never flips "
                                             "(a flip changes letters and digits, and a folder cannot say it allows "
                                             "one), and none from 2,000 training pictures a class; none: the pictures "
                                             "as they are.")] = Augment.auto,
    int8: Annotated[bool, typer.Option("--int8/--no-int8", help="Also write NAME.int8.onnx when it stays within the "
                                       "int8 bar of the float model's test accuracy.")] = True,
    progress: Annotated[Progress, typer.Option("--progress", help="auto: bars on a terminal, JSON lines when piped.")] = Progress.auto,
    restart: Annotated[bool, typer.Option("--restart", help="Start over instead of resuming an interrupted run of this "
                                          "name on this folder.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Allow a name of dl-train's own models (cnn, iris...).")] = False,
) -> None:
    """Train an image classifier on a folder of pictures, one subfolder per class, and export NAME.onnx."""
    from trainer import cli

    def job(reporter):
        run = FolderRun(root=root, name=check_name(name, force), out=out if out is not None else default_out(),
                        epochs=epochs, batch_size=batch_size, size=parse_size(size), colour=colour.value, val=val,
                        test=test, seed=seed, balance=balance.value, augment=augment.value, int8=int8, restart=restart)
        check_fractions(val, test)
        found = scan_folder(root)
        with cli._writing_to(run.out, cli.StrategyMode.default):
            from trainer.folder_training import train_folder

            train_folder(run, reporter, found)

    cli._run(progress, job)
