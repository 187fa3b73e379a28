"""`dl-train`: train the notebook's models and export them to ONNX.

TensorFlow is imported inside the command bodies, so `dl-train --help` is instant.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from trainer.data import DataError, load_mnist
from trainer.outdir import OutputError, claim
from trainer.outliers import OutlierLoss
from trainer.progress import JsonlReporter, Reporter, make_reporter, refuse_closed_streams
from trainer.strategy import StrategyError, StrategyMode, check, prepare, worker_lost
from tui.extras import NO_TENSORFLOW

app = typer.Typer(
    help="Train the notebook's models (iris MLP, MNIST CNN, CVAE, VAE-latent classifier) and export ONNX files.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    add_completion=False,
    pretty_exceptions_enable=False,
)


class ProgressMode(str, Enum):
    auto = "auto"
    rich = "rich"
    jsonl = "jsonl"
    none = "none"


DEFAULT_OUT = Path("exported")
# The notebook's batch size and Adam learning rate for each model.
BATCH_SIZE = {"iris": 32, "cnn": 128, "vae": 64, "vae-classifier": 32}
LEARNING_RATE = {"iris": 1e-3, "cnn": 1e-3, "vae": 1e-4, "vae-classifier": 1e-3}
Epochs = Annotated[int, typer.Option("--epochs", min=1, help="Passes over the training data.")]
Out = Annotated[Path, typer.Option("--out", help="Folder the ONNX files are written to.")]
Data = Annotated[Optional[Path], typer.Option("--data", help="A Keras-style mnist.npz, or a folder with the four MNIST IDX files (gzipped or not). Default: Keras's download cache.")]
Seed = Annotated[int, typer.Option("--seed", min=0, max=2**32 - 1, help="Random seed for weights and shuffling (0 to 2**32-1).")]
Progress = Annotated[ProgressMode, typer.Option("--progress", help="auto: bars on a terminal, JSON lines when piped.")]
Restart = Annotated[bool, typer.Option("--restart", help="Start over instead of resuming an interrupted run.")]
Strategy = Annotated[StrategyMode, typer.Option(
    "--strategy", help="default: one device; mirrored: one replica per GPU, each taking --batch-size examples a step; "
    "auto: mirrored when there are two or more GPUs; multi-worker: every worker in TF_CONFIG runs this command, each with its own --out, and worker 0 writes the model.")]
INSTALL_HINT = NO_TENSORFLOW  # the Train screen gives the same pip command (tui/extras.py)


def _batch_size(model: str):
    return Annotated[int, typer.Option("--batch-size", min=1, help=f"Examples per training step, on each replica under --strategy mirrored (the notebook's: {BATCH_SIZE[model]}).")]


class NoTensorFlow(Exception):
    """The `train` extra is not installed."""


def _quiet_tensorflow() -> None:
    """Import TensorFlow with its C++ start-up chatter (absl, oneDNN notices) silenced."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Those lines are written by C++ before TF_CPP_MIN_LOG_LEVEL applies, straight to
    # fd 2; hide fd 2 for the import alone. An import error is still raised as usual.
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401
    except ImportError:
        raise NoTensorFlow(INSTALL_HINT) from None
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _mnist(data: Optional[Path]):
    """Load MNIST before TensorFlow, so a bad --data fails fast; Keras's loader needs TF first."""
    if data is None:
        _quiet_tensorflow()
    return load_mnist(data)


@contextmanager
def _writing_to(out: Path, strategy: StrategyMode) -> Iterator[None]:
    """Hold --out for the run, then import TensorFlow: a busy or unwritable folder fails fast too."""
    with claim(out):
        check(strategy.value)
        _quiet_tensorflow()
        prepare(strategy.value)
        yield


class Terminated(BaseException):
    """SIGTERM arrived; a BaseException like KeyboardInterrupt, so no `except Exception` swallows it."""


def _terminate(signum, frame):
    raise Terminated


RESUME_HINT = "run the same command again to resume from the last finished epoch"


def _run(progress: ProgressMode, job) -> None:
    """Run JOB(reporter) and turn what a user can cause into one line and an exit code."""
    reporter = make_reporter(progress.value)
    # SIGTERM (a cancel, a service stop) ends the run like Ctrl-C: an error event, temporary files removed.
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        job(reporter)
    except (DataError, NoTensorFlow, StrategyError) as exc:
        _fail(reporter, str(exc), 2)
    except OutputError as exc:
        _fail(reporter, str(exc), 1)
    except KeyboardInterrupt:
        _fail(reporter, f"interrupted; {RESUME_HINT}", 130)
    except Terminated:
        _fail(reporter, f"terminated; {RESUME_HINT}", 143)
    except BrokenPipeError:  # `| head`: the reader went away; quiet, as if killed by SIGPIPE (as dl-tui)
        raise typer.Exit(128 + signal.SIGPIPE) from None
    except Exception as exc:  # a failed export or a missing VAE is one line; anything else is a bug: traceback
        from trainer.export import ExportError
        from trainer.training import MissingModelError

        if isinstance(exc, (ExportError, MissingModelError)):
            _fail(reporter, str(exc), 2 if isinstance(exc, MissingModelError) else 1)
        if worker_lost(exc):
            _fail(reporter, "another worker stopped or cannot be reached; start every worker again with the same command to resume from the last epoch they all finished", 1)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
        reporter.close()


def _fail(reporter: Reporter, message: str, code: int):
    reporter.emit("error", message=message)
    reporter.close()
    if isinstance(reporter, JsonlReporter):
        # The event carries the message for programs; people reading stderr get it too.
        typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _settings(model, epochs, out, seed, restart, strategy, batch_size=None):
    from trainer.training import Settings

    # Under several replicas --batch-size is per replica and the learning rate stays the notebook's.
    return Settings(epochs=epochs, batch_size=batch_size or BATCH_SIZE[model], out=out, seed=seed,
                    restart=restart, learning_rate=LEARNING_RATE[model], strategy=strategy.value)


@app.command()
def iris(
    epochs: Epochs = 10,
    batch_size: _batch_size("iris") = BATCH_SIZE["iris"],
    out: Out = DEFAULT_OUT,
    seed: Seed = 42,
    progress: Progress = ProgressMode.auto,
    restart: Restart = False,
    strategy: Strategy = StrategyMode.auto,
) -> None:
    """Iris MLP (4-10-10-3) -> iris.onnx."""

    def job(reporter):
        with _writing_to(out, strategy):
            from trainer.training import train_iris

            train_iris(_settings("iris", epochs, out, seed, restart, strategy, batch_size), reporter)

    _run(progress, job)


@app.command()
def cnn(
    invert: Annotated[bool, typer.Option("--invert", help="Also train and test on colour-inverted copies (-> cnn-invert.onnx).")] = False,
    epochs: Epochs = 10,
    batch_size: _batch_size("cnn") = BATCH_SIZE["cnn"],
    outlier_exposure: Annotated[bool, typer.Option(
        "--outlier-exposure/--no-outlier-exposure",
        help="Also train on synthetic non-digits towards a uniform answer, and on printed digits (docs/ood.md).")] = True,
    outlier_loss: Annotated[OutlierLoss, typer.Option(
        "--outlier-loss", help="energy (the shipped models'): a non-digit's answer trained towards uniform and its "
        "energy pushed past a margin, and the OOD score is the energy; uniform: towards uniform only, scored by a "
        "logistic head fitted on the logits after training (docs/ood.md).")] = OutlierLoss.energy,
    fonts: Annotated[Optional[Path], typer.Option(
        "--fonts", exists=True, file_okay=False,
        help="A folder of .ttf/.otf fonts to draw more of the non-digits' letters and signs in.")] = None,
    shift: Annotated[int, typer.Option(
        "--shift", min=0, max=4, help="Move each training image by up to this many pixels, at random, each time "
        "it is seen (0: never; docs/ood.md).")] = 0,
    init: Annotated[Optional[Path], typer.Option(
        "--init", help="Start from this exported cnn .onnx's weights (a fine-tune) instead of random ones.")] = None,
    learning_rate: Annotated[float, typer.Option(
        "--learning-rate", min=0.0, help=f"Adam's learning rate (the notebook's: {LEARNING_RATE['cnn']:g}; a fine-tune wants less).")] = LEARNING_RATE["cnn"],
    data: Data = None,
    out: Out = DEFAULT_OUT,
    seed: Seed = 42,
    progress: Progress = ProgressMode.auto,
    restart: Restart = False,
    strategy: Strategy = StrategyMode.auto,
) -> None:
    """MNIST CNN -> cnn.onnx, or cnn-invert.onnx with --invert."""

    def job(reporter):
        split = _mnist(data)
        with _writing_to(out, strategy):
            from dataclasses import replace

            from trainer.training import train_cnn

            settings = replace(_settings("cnn", epochs, out, seed, restart, strategy, batch_size), learning_rate=learning_rate)
            train_cnn(settings, reporter, split, invert, exposure=outlier_exposure, init=init,
                      outlier_loss=outlier_loss.value, fonts=fonts, shift=shift)

    _run(progress, job)


@app.command()
def vae(
    epochs: Epochs = 10,
    batch_size: _batch_size("vae") = BATCH_SIZE["vae"],
    data: Data = None,
    out: Out = DEFAULT_OUT,
    seed: Seed = 42,
    progress: Progress = ProgressMode.auto,
    restart: Restart = False,
    strategy: Strategy = StrategyMode.auto,
) -> None:
    """Convolutional VAE with a 2-D latent space -> vae-encoder.onnx, vae-decoder.onnx."""

    def job(reporter):
        split = _mnist(data)
        with _writing_to(out, strategy):
            from trainer.training import train_vae

            train_vae(_settings("vae", epochs, out, seed, restart, strategy, batch_size), reporter, split)

    _run(progress, job)


@app.command("vae-classifier")
def vae_classifier(
    epochs: Epochs = 10,
    batch_size: _batch_size("vae-classifier") = BATCH_SIZE["vae-classifier"],
    data: Data = None,
    out: Out = DEFAULT_OUT,
    seed: Seed = 42,
    progress: Progress = ProgressMode.auto,
    restart: Restart = False,
    strategy: Strategy = StrategyMode.auto,
) -> None:
    """MLP on the trained VAE's latent encoding -> vae-classifier.onnx (needs `dl-train vae` first)."""

    def job(reporter):
        split = _mnist(data)
        with _writing_to(out, strategy):
            from trainer.training import train_vae_classifier

            train_vae_classifier(_settings("vae-classifier", epochs, out, seed, restart, strategy, batch_size), reporter, split)

    _run(progress, job)


@app.command("all")
def all_models(
    epochs: Annotated[Optional[int], typer.Option("--epochs", min=1, help="Epochs for every model (default: each model's own, 10).")] = None,
    data: Data = None,
    out: Out = DEFAULT_OUT,
    seed: Seed = 42,
    progress: Progress = ProgressMode.auto,
    restart: Restart = False,
    strategy: Strategy = StrategyMode.auto,
) -> None:
    """Every model in order: iris, cnn, cnn --invert, vae, vae-classifier (six ONNX files; the VAE makes two)."""

    def job(reporter):
        split = _mnist(data)
        n = epochs or 10
        with _writing_to(out, strategy):
            from trainer import training

            training.train_iris(_settings("iris", n, out, seed, restart, strategy), reporter)
            training.train_cnn(_settings("cnn", n, out, seed, restart, strategy), reporter, split, invert=False)
            training.train_cnn(_settings("cnn", n, out, seed, restart, strategy), reporter, split, invert=True)
            training.train_vae(_settings("vae", n, out, seed, restart, strategy), reporter, split)
            training.train_vae_classifier(_settings("vae-classifier", n, out, seed, restart, strategy), reporter, split)

    _run(progress, job)


def main() -> None:
    """Console-script entry point."""
    refuse_closed_streams("dl-train")
    app()


if __name__ == "__main__":
    main()
