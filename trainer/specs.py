"""Every model dl-train trains, one `ModelSpec` each: the one place a model is described.

The `dl-train` commands (trainer/cli.py), `dl-train all`, `dl-train models`, export's OOD heads
(trainer/export.py) and the int8 twins (trainer/quantize.py) are all made from this table.
Adding a model is adding a spec (docs/adding-a-model.md): to MODELS here, or from outside with
`register()` in a module named by $DL_TRAIN_PLUGINS or a `dl_train.models` entry point.

No TensorFlow here: `dl-train models` and `--help` read this table without it.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from tui import contract

DEFAULT_MODEL = contract.DEFAULT_MODEL  # the Train screen's first choice
DEFAULT_EPOCHS = contract.DEFAULT_EPOCHS  # the notebook's, for every model
DEFAULT_SEED = 42
ALL = "all"
PLUGINS_ENV = "DL_TRAIN_PLUGINS"  # comma-separated modules that register() more models
ENTRY_POINTS = "dl_train.models"  # entry points naming a ModelSpec, or a module that registers some
DIGITS = tuple(str(d) for d in range(10))
IMAGE_PREPROCESSING = {"kind": "image", "size": [28, 28], "range": [0, 1], "polarity": "white-on-black", "binarize": None}


@dataclass(frozen=True)
class OnnxFile:
    """One ONNX file a model's run writes (`NAME.onnx`), and what export adds to it."""

    name: str
    int8: str | None = None  # the quantisation recipe of its int8 twin (trainer/quantize.py RECIPES); None: no twin
    ood: bool = False  # given an out-of-distribution head (trainer/ood.py)
    both_polarities: bool = False  # reads dark-on-light digits too: its head and twin are calibrated on both

    def files(self) -> tuple[str, ...]:
        """Its file, and its twin's."""
        return (self.name + contract.ONNX_SUFFIX,) + ((contract.int8_name(self.name),) if self.int8 else ())


@dataclass(frozen=True)
class Variant:
    """A flag that makes another model from the same command (`cnn --invert` is cnn-invert)."""

    flag: str  # the option --FLAG, and the keyword the train function takes
    help: str
    onnx: tuple[OnnxFile, ...]
    metrics: tuple[str, ...]


@dataclass(frozen=True)
class ModelSpec:
    """Everything dl-train knows about one model; `name` is its command."""

    name: str
    description: str  # the command's help: one line, what it makes
    onnx: tuple[OnnxFile, ...]  # the files a run writes, with their twins and OOD heads
    builder: str  # "module:function" making the Keras model (its defaults are the notebook's)
    # "module:function(settings, reporter[, mnist], **options)" that trains and exports;
    # None: trainer.training.train_classifier, a digit classifier from `builder` alone.
    train: str | None = None
    metrics: tuple[str, ...] = ("test_accuracy",)  # the test metrics in its `done` event and metadata
    epochs: int = DEFAULT_EPOCHS
    batch_size: int = 32
    learning_rate: float = 1e-3
    seed: int = DEFAULT_SEED
    needs_mnist: bool = True  # takes --data
    needs: tuple[str, ...] = ()  # models whose outputs it trains on (their files must be in --out)
    other_files: tuple[str, ...] = ()  # written beside the ONNX files, kept with them
    variant: Variant | None = None
    # More options of its own: (keyword, type, default, typer.Option). The keyword is the train
    # function's, except `learning_rate`, which goes into the run's Settings.
    cli_options: Callable[[], list[tuple[str, Any, Any, Any]]] | None = None
    in_all: tuple[dict[str, Any], ...] = ({},)  # the runs `dl-train all` makes of it (keyword options)
    labels: tuple[str, ...] = DIGITS  # for train_classifier
    preprocessing: dict = field(default_factory=lambda: dict(IMAGE_PREPROCESSING))  # for train_classifier

    @property
    def options(self) -> list[str]:
        """Which of the Train form's fields apply to it."""
        return [*(["invert"] if self.variant and self.variant.flag == "invert" else []),
                *(["data"] if self.needs_mnist else []), "restart", "epochs"]

    @property
    def files(self) -> list[str]:
        """Every file a plain run writes into --out (float files, twins, the rest)."""
        return [name for one in self.onnx for name in one.files()] + list(self.other_files)

    def variant_files(self) -> list[str]:
        return [name for one in self.variant.onnx for name in one.files()] if self.variant else []

    def describe(self) -> dict[str, Any]:
        """Its entry in `dl-train models --format json`."""
        entry = {"name": self.name, "description": self.description, "epochs": self.epochs,
                 "needs_mnist": self.needs_mnist, "needs": list(self.needs), "options": self.options,
                 "files": self.files, "batch_size": self.batch_size, "metrics": list(self.metrics)}
        if self.variant:
            entry["variant"] = {"flag": self.variant.flag, "models": [f.name for f in self.variant.onnx],
                                "files": self.variant_files(), "metrics": list(self.variant.metrics)}
        return entry

    def run(self, settings, reporter, data, **options) -> dict:
        """Train and export it (TensorFlow imported here); returns its test metrics."""
        if self.train is None:
            from trainer.training import train_classifier

            return train_classifier(self, settings, reporter, data)
        function = load(self.train)
        return function(settings, reporter, *([data] if self.needs_mnist else []), **options)


def load(target: str) -> Any:
    """The object a "module:attribute" string names."""
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _cnn_options() -> list[tuple[str, Any, Any, Any]]:
    from trainer.outliers import OutlierLoss

    return [
        ("exposure", bool, True, typer.Option(
            "--outlier-exposure/--no-outlier-exposure",
            help="Also train on synthetic non-digits towards a uniform answer, and on printed digits (docs/ood.md).")),
        ("outlier_loss", OutlierLoss, OutlierLoss.energy, typer.Option(
            "--outlier-loss", help="energy (the shipped models'): a non-digit's answer trained towards uniform and its "
            "energy pushed past a margin, and the OOD score is the energy; uniform: towards uniform only, scored by a "
            "logistic head fitted on the logits after training (docs/ood.md).")),
        ("fonts", Path | None, None, typer.Option(
            "--fonts", exists=True, file_okay=False,
            help="A folder of .ttf/.otf fonts to draw more of the non-digits' letters and signs in.")),
        ("shift", int, 0, typer.Option(
            "--shift", min=0, max=4, help="Move each training image by up to this many pixels, at random, each time "
            "it is seen (0: never; docs/ood.md).")),
        ("init", Path | None, None, typer.Option(
            "--init", help="Start from this exported cnn .onnx's weights (a fine-tune) instead of random ones.")),
        ("learning_rate", float, CNN_LEARNING_RATE, typer.Option(
            "--learning-rate", min=0.0,
            help=f"Adam's learning rate (the notebook's: {CNN_LEARNING_RATE:g}; a fine-tune wants less).")),
    ]


CNN_LEARNING_RATE = 1e-3

# The notebook's four models, in the order `dl-train all` trains them (vae before vae-classifier).
MODELS: list[ModelSpec] = [
    ModelSpec(
        "iris", "Iris MLP (4-10-10-3) -> iris.onnx.", (OnnxFile("iris"),),
        builder="trainer.models:build_iris", train="trainer.training:train_iris",
        batch_size=32, learning_rate=1e-3, needs_mnist=False),
    ModelSpec(
        "cnn", "MNIST CNN -> cnn.onnx, or cnn-invert.onnx with --invert.",
        (OnnxFile("cnn", int8="classifier", ood=True),),
        builder="trainer.models:build_cnn", train="trainer.training:train_cnn",
        batch_size=128, learning_rate=CNN_LEARNING_RATE,
        variant=Variant("invert", "Also train and test on colour-inverted copies (-> cnn-invert.onnx).",
                        (OnnxFile("cnn-invert", int8="classifier", ood=True, both_polarities=True),),
                        ("test_accuracy", "test_accuracy_original", "test_accuracy_inverted")),
        cli_options=_cnn_options, in_all=({"invert": False}, {"invert": True})),
    ModelSpec(
        "vae", "Convolutional VAE with a 2-D latent space -> vae-encoder.onnx, vae-decoder.onnx.",
        (OnnxFile("vae-encoder"), OnnxFile("vae-decoder", int8="decoder")),
        builder="trainer.models:CVAE", train="trainer.training:train_vae", metrics=("test_elbo",),
        batch_size=64, learning_rate=1e-4, other_files=("vae.weights.h5", contract.LATENT_MAP_FILE)),
    ModelSpec(
        "vae-classifier", "MLP on the trained VAE's latent encoding -> vae-classifier.onnx (needs `dl-train vae` first).",
        (OnnxFile("vae-classifier", int8="binarised-classifier"),),
        builder="trainer.models:build_latent_classifier", train="trainer.training:train_vae_classifier",
        batch_size=32, learning_rate=1e-3, needs=("vae",)),
]

_plugins_loaded = False


def register(spec: ModelSpec) -> ModelSpec:
    """Add a model (or replace the one of that name); returns it, so it can decorate nothing
    but reads well as `SPEC = register(ModelSpec(...))`."""
    if not spec.name or spec.name == ALL or spec.name.startswith("-"):
        raise ValueError(f"a model cannot be called {spec.name!r}")
    for index, known in enumerate(MODELS):
        if known.name == spec.name:
            MODELS[index] = spec
            return spec
    MODELS.append(spec)
    return spec


def load_plugins() -> None:
    """Import the modules in $DL_TRAIN_PLUGINS and the `dl_train.models` entry points, once; one
    that fails is named in one line on stderr and left out."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for name in filter(None, (part.strip() for part in os.environ.get(PLUGINS_ENV, "").split(","))):
        _plugin(name, lambda name=name: importlib.import_module(name))
    from importlib.metadata import entry_points

    for point in entry_points(group=ENTRY_POINTS):
        _plugin(point.name, point.load)


def _plugin(name: str, load_it: Callable[[], Any]) -> None:
    try:
        loaded = load_it()
    except Exception as error:  # noqa: BLE001 (a plugin's own code: whatever it raises is one line)
        print(f"dl-train: warning: model plugin {name!r} not loaded: {type(error).__name__}: {error}", file=sys.stderr)
        return
    if isinstance(loaded, ModelSpec):
        register(loaded)


def models() -> list[ModelSpec]:
    """Every model, plugins' included, in the order `dl-train all` trains them."""
    load_plugins()
    return list(MODELS)


def spec(name: str) -> ModelSpec:
    """The model of that command name; KeyError if none."""
    return next(one for one in models() if one.name == name)


def onnx_file(name: str) -> OnnxFile | None:
    """The spec of one ONNX file by its model name (`cnn-invert`, `vae-decoder`), or None."""
    return next((candidate for candidate in onnx_files() if candidate.name == name), None)


def onnx_files() -> list[OnnxFile]:
    """Every ONNX file a model of the table writes, variants' included."""
    return [f for one in models() for f in (*one.onnx, *(one.variant.onnx if one.variant else ()))]


def quantizable() -> list[str]:
    """The models with an int8 twin, by file name."""
    return [f.name for f in onnx_files() if f.int8]


def ood_models() -> list[str]:
    """The models given an OOD head, by file name."""
    return [f.name for f in onnx_files() if f.ood]


def all_runs() -> Iterable[tuple[ModelSpec, dict[str, Any]]]:
    """What `dl-train all` trains, in order: each model's runs."""
    for one in models():
        for options in one.in_all:
            yield one, options


def all_description() -> str:
    """`dl-train all`'s help, from the table."""
    runs = [one.name + "".join(f" --{key}" for key, value in options.items() if value is True)
            for one, options in all_runs()]
    several = [f"{one.name} makes {_words(len(one.onnx))}" for one in models() if len(one.onnx) > 1]
    count = _words(sum(len(one.onnx) for one, _ in all_runs()))
    return f"Every model in order: {', '.join(runs)} ({count} ONNX files{'; ' if several else ''}{', '.join(several)})."


def _words(n: int) -> str:
    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
    return words[n] if n < len(words) else str(n)


def catalogue() -> dict[str, Any]:
    """`dl-train models --format json`: the default model and every model, `all` last."""
    entries = [one.describe() for one in models()]
    everything = {"name": ALL, "description": all_description(), "epochs": DEFAULT_EPOCHS,
                  "needs_mnist": any(one.needs_mnist for one in models()), "needs": [],
                  "options": ["data", "restart", "epochs"],
                  "files": [name for one, options in all_runs()
                            for name in (one.variant_files() if options.get(one.variant.flag if one.variant else "") else one.files)]}
    return {"default": DEFAULT_MODEL, "models": [*entries, everything]}


def parameter(name: str, kind: Any, default: Any, option: Any) -> inspect.Parameter:
    """A Typer option as a function parameter (commands are made from specs, not written out)."""
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[kind, option])
