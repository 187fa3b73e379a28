"""`dl-tui evaluate DIR -m NAME`: classify a labelled folder with classify's own engine, and
report accuracy, per-class figures, the confusion matrix, the mistakes and likely label errors."""

from __future__ import annotations

import sys
from enum import Enum
from itertools import chain, islice
from pathlib import Path
from typing import NoReturn

import click

from tui.classify.choose import ALL, select_models
from tui.classify.command import OK, SOME_FAILED, USAGE, Stopped, cut_short, settle_stdout, stop_on_signals
from tui.classify.pipeline import quiet_pillow
from tui.classify.plan import HEAD, cores, default_workers, make_plan, max_workers, prep_for
from tui.classify.report import ProgressBar
from tui.classify.runner import classify
from tui.classify.writers import OutputError
from tui.evaluate.collect import Collector
from tui.evaluate.folder import FolderError, Labelled, class_folders, manifest_path, test_part
from tui.evaluate.label_issues import label_issues
from tui.evaluate.metrics import mistakes, scores
from tui.options import command, device_option, max_file_size_option, models_option, precision_option
from tui.runtime import DeviceError, ModelError, Runtime
from tui.runtime.choices import Device, Polarity, Precision
from tui.runtime.sessions import CPU, providers_for
from tui.text import clean, one_line

PROG = "dl-tui evaluate"
MISTAKES = 50


class Format(str, Enum):
    table = "table"
    json = "json"


class Split(str, Enum):
    all = "all"
    test = "test"


HELP = (
    "Classify a labelled folder and report how the model does: accuracy, macro F1, precision, "
    "recall and F1 per class, the confusion matrix (rows: the true label), the mistakes the "
    "model was surest of, and likely label errors (confident learning, Northcutt et al. 2021: "
    "files whose given label the model finds unlikely, for you to check).\n\n"
    "DIR holds one subfolder per class, named as the model's labels; each is walked as "
    "`dl-tui classify -r` walks (linked folders only with -L). A subfolder that is no label, "
    "and image files at the root, are left out with one line each. --split test evaluates only "
    "the test part of the split `dl-train folder` made (NAME.split.json beside the model), "
    "relative to DIR.\n\n"
    "The figures follow scikit-learn's definitions (classification_report, confusion_matrix, "
    "macro F1 over the labels that occur). The same engine as classify: the same predictions, "
    "the same error rows.\n\n"
    "JSON keys: model, split, count, accuracy, macro_f1, per_class [{label, precision, recall, "
    "f1, support}], confusion {labels, matrix}, mistakes [{path, true_label, label, "
    "confidence}], errors [{path, error}], label_issues [{path, given_label, suggested_label, "
    "given_probability}].\n\n"
    "Exit code 0: every file classified; 1: some files failed (the report is still printed, "
    "each in errors); 2: usage error (no such folder, no class folders, unknown model, no "
    "split manifest), or the run stopped; 128+N: stopped by signal N."
)


@command(name="evaluate", help=HELP)
@click.argument("folder", type=click.Path(path_type=Path), metavar="DIR")
@click.option("--model", "-m", "model", required=True, metavar="NAME",
              help="The image classifier to evaluate (one; its labels name DIR's subfolders).")
@click.option("--format", "-f", "fmt", type=click.Choice(Format),
              help="Output format (default: table on a terminal, else json).")
@click.option("--mistakes", "limit", type=click.IntRange(min=0), default=MISTAKES, show_default=True,
              metavar="K", help="List at most K mistakes, the most confident first.")
@click.option("--split", type=click.Choice(Split), default=Split.all, show_default=True,
              help="all: every file in DIR's class folders; test: the model's held-out test files "
              "(its split manifest).")
@click.option("--recursive", "-r", is_flag=True, hidden=True,
              help="Accepted for classify's sake: class folders are always walked whole.")
@click.option("--follow", "-L", is_flag=True, help="Follow symbolic links to folders too "
              "(each folder is walked once).")
@click.option("--polarity", type=click.Choice(Polarity), default=None,
              help="As classify's: by default the model's own (auto for MNIST models, keep for "
              "folder models).")
@click.option("--normalize/--no-normalize", default=None, help="As classify's: by default the model's own.")
@models_option
@device_option
@precision_option
@max_file_size_option
@click.option("--workers", type=click.IntRange(min=1), metavar="N",
              help="Processes loading images (and on the CPU running the model too).",
              show_default="as classify")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True, metavar="N",
              help="Images per model run.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary line on stderr.")
def app(folder: Path, model: str, fmt: Format | None, limit: int, split: Split, recursive: bool,
        follow: bool, polarity: Polarity | None, normalize: bool | None, models: Path | None,
        device: Device, precision: Precision, max_file_size: int, workers: int | None,
        batch_size: int, quiet: bool) -> int:
    """Evaluate a model on a labelled folder; see HELP."""
    quiet_pillow()
    if model == ALL:
        fail("evaluate takes one model: name it with -m NAME")
    if not folder.is_dir():
        fail(f"no such folder: {clean(folder)}" if not folder.exists() else f"not a folder: {clean(folder)}")
    if workers is not None and workers > max_workers():
        workers, asked = max_workers(), workers
        say("warning", f"--workers {asked} is more than this machine can use: using {workers}")
    try:
        gpu = providers_for(device.value)[0] != CPU
        decoders = workers or default_workers(False)
        runtime = Runtime(models, device.value, interactive=True, precision=precision.value,
                          threads=max(1, cores() - decoders) if gpu and decoders > 1 else None)
        (info,) = select_models(runtime, [model], lambda message: say("warning", message))
        provider = runtime.provider
    except (ModelError, DeviceError) as error:
        fail(str(error))
    try:
        files: Labelled = (test_part(folder, manifest_path(info.path, info.name), info.labels)
                           if split is Split.test else class_folders(folder, info.labels, follow))
    except FolderError as error:
        fail(str(error))
    for note in files.notes:
        say("warning", note)
    if not files.sources:
        say("warning", f"no image files to evaluate in {clean(folder)}")
    prep = prep_for([info], polarity and polarity.value, normalize, max_bytes=max_file_size)
    sources = iter(files.sources)
    head = list(islice(sources, HEAD))
    plan = make_plan([info], prep, batch_size, workers, on_cpu=provider == CPU, head=head)
    collector = Collector(info.labels)
    bar = ProgressBar(not quiet, lambda: len(files.sources))
    try:
        with stop_on_signals():
            stats = classify(chain(head, sources), plan, runtime, collector, bar)
    except ModelError as error:
        bar.close()
        say("error", str(error))
        return USAGE
    except (OutputError, Stopped) as error:
        bar.close()
        return cut_short(error)
    finally:
        bar.close()
    report = build_report(info.name, split.value, collector, files.truth, limit)
    fmt = fmt or (Format.table if sys.stdout.isatty() else Format.json)
    try:
        if fmt is Format.json:
            from tui.evaluate.report import write_json

            write_json(report, sys.stdout)
        else:
            from rich.console import Console

            from tui.evaluate.report import write_table

            write_table(report, Console(highlight=False))
    except OSError as error:
        return cut_short(OutputError(error))
    if not quiet:
        print(stats.summary([info.name], provider), file=sys.stderr)
    settle_stdout()
    return SOME_FAILED if stats.failed else OK


def build_report(model: str, split: str, collector: Collector, truth: list[int], limit: int) -> dict:
    """The JSON report of a finished run: TRUTH holds every file's label index, in order."""
    paths = [collector.paths[i] for i in collector.good]
    given = [truth[i] for i in collector.good]
    probabilities = collector.matrix()
    predicted = probabilities.argmax(axis=1).tolist() if len(paths) else []
    figures = scores(given, predicted, collector.labels)
    return {"model": model, "split": split, **figures.as_json(),
            "mistakes": mistakes(paths, given, probabilities, collector.labels, limit),
            "errors": collector.errors,
            "label_issues": label_issues(paths, probabilities, given, collector.labels)}


def say(level: str, message: str) -> None:
    """One line on stderr: `dl-tui evaluate: LEVEL: MESSAGE`."""
    print(f"{PROG}: {level}: {one_line(message)}", file=sys.stderr)


def fail(message: str) -> NoReturn:
    """A usage error: one line on stderr and exit code 2."""
    say("error", message)
    raise click.exceptions.Exit(USAGE)
