"""`dl-train`: train the notebook's models and export them to ONNX.

TensorFlow is imported inside the command bodies, so `dl-train --help` is instant.
"""

from __future__ import annotations

import inspect
import json
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from trainer import specs
from trainer.data import DataError, load_mnist
from trainer.outdir import OutputError, claim
from trainer.progress import JsonlReporter, Reporter, make_reporter
from trainer.specs import ModelSpec, parameter
from trainer.strategy import StrategyError, StrategyMode, prepare, worker_lost
from trainer.strategy import check as check_strategy
from tui.extras import NO_TENSORFLOW
from tui.streams import refuse_closed_streams


class ProgressMode(str, Enum):
    auto = "auto"
    rich = "rich"
    jsonl = "jsonl"
    none = "none"


DEFAULT_OUT = Path("exported")
Epochs = Annotated[int, typer.Option("--epochs", min=1, help="Passes over the training data.")]
Out = Annotated[Path, typer.Option("--out", help="Folder the ONNX files are written to.")]
Data = Annotated[Path | None, typer.Option("--data", help="A Keras-style mnist.npz, or a folder with the four MNIST IDX files "
                                            "(gzipped or not). Default: Keras's download cache. At most 1 GiB of arrays, "
                                            "checked before anything is unpacked.")]
Seed = Annotated[int, typer.Option("--seed", min=0, max=2**32 - 1, help="Random seed for weights and shuffling (0 to 2**32-1).")]
Progress = Annotated[ProgressMode, typer.Option("--progress", help="auto: bars on a terminal, JSON lines when piped.")]
Restart = Annotated[bool, typer.Option("--restart", help="Start over instead of resuming an interrupted run.")]
Strategy = Annotated[StrategyMode, typer.Option(
    "--strategy", help="default: one device; mirrored: one replica per GPU, each taking --batch-size examples a step; "
    "auto: mirrored when there are two or more GPUs; multi-worker: every worker in TF_CONFIG runs this command, "
    "each with its own --out, and worker 0 writes the model.")]
INSTALL_HINT = NO_TENSORFLOW  # the Train screen gives the same pip command (tui/extras.py)


def _batch_size(spec: ModelSpec):
    return Annotated[int, typer.Option("--batch-size", min=1, help="Examples per training step, on each replica under --strategy "
                                       f"mirrored (the notebook's: {spec.batch_size}).")]


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


def _mnist(data: Path | None):
    """Load MNIST before TensorFlow, so a bad --data fails fast; Keras's loader needs TF first."""
    if data is None:
        _quiet_tensorflow()
    return load_mnist(data)


@contextmanager
def _writing_to(out: Path, strategy: StrategyMode) -> Iterator[None]:
    """Hold --out for the run, then import TensorFlow: a busy or unwritable folder fails fast too."""
    with claim(out):
        check_strategy(strategy.value)
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
            _fail(reporter, "another worker stopped or cannot be reached; start every worker again with the same command "
                  "to resume from the last epoch they all finished", 1)
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


def _settings(spec: ModelSpec, epochs, out, seed, restart, strategy, batch_size=None, learning_rate=None):
    from trainer.training import Settings

    # Under several replicas --batch-size is per replica and the learning rate stays the notebook's.
    return Settings(epochs=epochs, batch_size=batch_size or spec.batch_size, out=out, seed=seed, restart=restart,
                    learning_rate=spec.learning_rate if learning_rate is None else learning_rate, strategy=strategy.value)


def _plain(value):
    """An option's value as the train function takes it: an Enum's value."""
    return value.value if isinstance(value, Enum) else value


def _train_command(spec: ModelSpec):
    """The `dl-train NAME` command of one spec: its options, then the ones every model has."""

    def command(*, epochs, batch_size, out, seed, progress, restart, strategy, data=None, **options) -> None:
        options = {key: _plain(value) for key, value in options.items()}
        learning_rate = options.pop("learning_rate", None)

        def job(reporter):
            split = _mnist(data) if spec.needs_mnist else None
            with _writing_to(out, strategy):
                settings = _settings(spec, epochs, out, seed, restart, strategy, batch_size, learning_rate)
                spec.run(settings, reporter, split, **options)

        _run(progress, job)

    parameters = []
    if spec.variant is not None:
        flag = spec.variant.flag
        parameters.append(parameter(flag, bool, False, typer.Option(f"--{flag}", help=spec.variant.help)))
    parameters += [parameter("epochs", int, spec.epochs, Epochs.__metadata__[0]),
                   parameter("batch_size", int, spec.batch_size, _batch_size(spec).__metadata__[0])]
    parameters += [parameter(*option) for option in (spec.cli_options() if spec.cli_options else [])]
    if spec.needs_mnist:
        parameters.append(parameter("data", Path | None, None, Data.__metadata__[0]))
    parameters += _common(spec.seed)
    command.__signature__ = inspect.Signature(parameters)
    command.__doc__ = spec.description
    command.__name__ = spec.name.replace("-", "_")
    return command


def _common(seed: int) -> list[inspect.Parameter]:
    return [parameter("out", Path, DEFAULT_OUT, Out.__metadata__[0]),
            parameter("seed", int, seed, Seed.__metadata__[0]),
            parameter("progress", ProgressMode, ProgressMode.auto, Progress.__metadata__[0]),
            parameter("restart", bool, False, Restart.__metadata__[0]),
            parameter("strategy", StrategyMode, StrategyMode.auto, Strategy.__metadata__[0])]


def _all_command():
    """`dl-train all`: every spec's runs in the table's order."""

    def command(*, epochs, data, out, seed, progress, restart, strategy) -> None:
        def job(reporter):
            runs = list(specs.all_runs())
            split = _mnist(data) if any(spec.needs_mnist for spec, _ in runs) else None
            with _writing_to(out, strategy):
                for spec, options in runs:
                    spec.run(_settings(spec, epochs or spec.epochs, out, seed, restart, strategy), reporter, split, **options)

        _run(progress, job)

    epochs = typer.Option("--epochs", min=1, help=f"Epochs for every model (default: each model's own, {specs.DEFAULT_EPOCHS}).")
    command.__signature__ = inspect.Signature([
        parameter("epochs", int | None, None, epochs),
        parameter("data", Path | None, None, Data.__metadata__[0]),
        *_common(specs.DEFAULT_SEED)])
    command.__doc__ = specs.all_description()
    command.__name__ = "all_models"
    return command


class Format(str, Enum):
    text = "text"
    json = "json"


def models(
    format: Annotated[Format, typer.Option("--format", help="text: a table for people; json: one object for programs.")] = Format.text,
) -> None:
    """The models dl-train trains: their files, default epochs and what they need."""
    catalogue = specs.catalogue()
    if format is Format.json:
        typer.echo(json.dumps(catalogue))
        return
    for entry in catalogue["models"]:
        default = " (default)" if entry["name"] == catalogue["default"] else ""
        needs = f"; needs {', '.join(entry['needs'])}" if entry["needs"] else ""
        typer.echo(f"{entry['name']}{default}: {entry['description']} {entry['epochs']} epochs{needs}")


def make_app() -> typer.Typer:
    """The dl-train app, one command per model in trainer/specs.py (plugins' included), then `all` and `models`."""
    made = typer.Typer(
        help="Train the notebook's models (iris MLP, MNIST CNN, CVAE, VAE-latent classifier) and export ONNX files.",
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"]},
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for spec in specs.models():
        made.command(spec.name)(_train_command(spec))
    made.command(specs.ALL)(_all_command())
    made.command("models")(models)
    from trainer.folder_command import folder  # no TensorFlow there either

    made.command("folder")(folder)
    from trainer.folders.command import check_command  # dl-train check DIR: no TensorFlow either

    # The docstring's hard line breaks would show in the command list: one line there.
    made.command("check", short_help="Check a dataset folder without training: classes, counts, duplicates, "
                 "leaks and every file it cannot use.")(check_command)
    return made


app = make_app()


def main() -> None:
    """Console-script entry point."""
    refuse_closed_streams("dl-train")
    app()


if __name__ == "__main__":
    main()
