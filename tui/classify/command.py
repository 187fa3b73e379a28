"""`dl-tui classify PATH...`: options, checks and exit codes around the classify loop."""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from itertools import chain, islice
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from tui.classify.choose import select_models
from tui.classify.pipeline import quiet_pillow
from tui.classify.plan import HEAD, Plan, cores, default_workers, make_plan, max_workers, prep_for
from tui.classify.report import ProgressBar, Stats
from tui.classify.runner import classify
from tui.classify.sources import count_files, has_subfolders, iter_files
from tui.classify.writers import CsvWriter, JsonlWriter, Lines, OutputError, TableWriter, Writer
from tui.contract import DEFAULT_MODEL
from tui.extras import CLUSTER_EXTRA
from tui.options import command, device_option, max_file_size_option, models_option, precision_option
from tui.runtime import DeviceError, ModelError, ModelInfo, Runtime
from tui.runtime.choices import Device, Polarity, Precision
from tui.runtime.sessions import CPU, providers_for
from tui.text import clean, one_line

if TYPE_CHECKING:
    from tui.classify.ray_engine import Job

PROG = "dl-tui classify"
OK, SOME_FAILED, USAGE = 0, 1, 2


class Format(str, Enum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"  # only files written by the Ray workers (--output)


class Engine(str, Enum):
    local = "local"
    ray = "ray"



HELP = (
    "Classify image files and folders with the exported models: a table with probability "
    "bars, JSON lines or CSV, one result per file and model.\n\n"
    "Exit code 0: every file classified (a folder with no image files is not an error: "
    "one line on stderr says so); 1: some files failed (each has an error row); "
    "2: usage error (no such path, unknown model, CUDA unavailable, stdout or stderr "
    "closed), or the run stopped "
    "(a model failed, the output cannot be written); 128+N: stopped by signal N "
    "(141: the reader of the pipe went away, 143: SIGTERM, 129: SIGHUP).\n\n"
    "CSV: a text cell (a file name, a label, an error) that starts with =, +, -, @, a tab or "
    "a carriage return gets a ' before it, so that a spreadsheet does not run it as a "
    "formula (OWASP's advice on CSV injection); numbers are left as they are."
)


@command(name="classify", help=HELP)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="PATH...")
@click.option("--model", "-m", "model", multiple=True, default=[DEFAULT_MODEL], show_default=True,
              metavar="NAME", help="cnn, cnn-invert, vae-classifier, another image classifier "
              "in the models folder, or all. Give -m again for more models side by side "
              "(one column each).")
@click.option("--top", type=click.IntRange(min=1), metavar="K", help="Show the K most likely "
              "labels (default: 1 in the table, all in JSON lines and CSV). In CSV the columns "
              "label_1, probability_1 ... label_K, probability_K then take the place of the one "
              "column per label.")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True, metavar="N",
              help="Images per model run.")
@click.option("--format", "-f", "fmt", type=click.Choice(Format),
              help="Output format (default: table on a terminal, else jsonl).")
@click.option("--recursive", "-r", is_flag=True, help="Go into folders inside folders. Symbolic "
              "links to folders are not followed (as ripgrep and fd), linked files are read.")
@click.option("--follow", "-L", is_flag=True, help="With -r, follow symbolic links to folders "
              "too (each folder is walked once, however many links lead to it).")
@click.option("--polarity", type=click.Choice(Polarity), default=None,
              help="auto: invert images with a light background; keep; invert. Default: auto for "
              "the MNIST models; keep for models trained on a folder (their pictures as they are).")
@click.option("--normalize/--no-normalize", default=None,
              help="MNIST-style crop, 20x20 fit and centre of mass centring (off: squeeze "
              "the whole image). Default: on for the MNIST models; off for models trained on a "
              "folder (the whole picture stretched, as they were trained; --normalize applies to "
              "grey ones only).")
@models_option
@device_option
@precision_option
@max_file_size_option
@click.option("--workers", type=click.IntRange(min=1), metavar="N",
              help="Processes loading images (and on the CPU running the models too).",
              show_default="on the CPU one per core, at most 8; beside a GPU a third of the cores")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary line on stderr.")
@click.option("--engine", type=click.Choice(Engine), default=Engine.local, show_default=True,
              help="local: worker processes on this machine; ray: a Ray cluster, one model actor "
              f"per CPU or GPU ({CLUSTER_EXTRA}); --workers then counts actors.")
@click.option("--ray-address", metavar="ADDRESS", help="The Ray cluster for --engine ray.",
              show_default="$RAY_ADDRESS, else a cluster running here, else a local Ray for the run")
@click.option("--output", type=click.Path(path_type=Path), metavar="DIR",
              help="With --engine ray: the workers write the rows into a new or empty folder "
              "DIR, as JSON lines, CSV or Parquet (--format; default jsonl), in parts of 10,000 "
              "files, instead of sending them here.")
def app(paths: tuple[Path, ...], model: tuple[str, ...], top: int | None, batch_size: int,
        fmt: Format | None, recursive: bool, follow: bool, polarity: Polarity | None, normalize: bool | None,
        models: Path | None, device: Device, precision: Precision, max_file_size: int,
        workers: int | None, quiet: bool, engine: Engine, ray_address: str | None, output: Path | None) -> int:
    """Classify files and folders, streamed in batches; see HELP."""
    quiet_pillow()
    on_ray = engine is Engine.ray
    check_engine(on_ray, fmt, output)
    if not on_ray and workers is not None and workers > max_workers():
        workers, asked = max_workers(), workers
        say("warning", f"--workers {asked} is more than this machine can use: using {workers}")
    for path in paths:
        if not path.exists():
            fail(f"no such path: {clean(path)}")
    sources = iter_files(paths, recursive, follow)
    head = list(islice(sources, HEAD))  # what make_plan needs to tell a short run
    try:
        # With Ray, --device is the workers' (this machine may have no GPU).
        gpu = not on_ray and providers_for(device.value)[0] != CPU
        decoders = workers or default_workers(False)
        # No spinning: idle threads polling for work would take the cores that decode
        # (measured: slower, more so on a busy machine). Beside a GPU, processes decode
        # and get their cores; on the CPU the sessions here run only for short runs.
        # With Ray the models run on the workers: here only their metadata is read.
        runtime = Runtime(models, "cpu" if on_ray else device.value, interactive=True,
                          precision=precision.value,
                          threads=max(1, cores() - decoders) if gpu and decoders > 1 else None)
        infos = select_models(runtime, model, lambda message: say("warning", message))
        provider = runtime.provider
    except (ModelError, DeviceError) as error:
        fail(str(error))
    if not head:  # every path is a folder (a file given by name is always tried)
        say("warning", nothing_found(paths, recursive, follow))
        return OK
    top = cap_top(top, infos)
    prep = prep_for(infos, polarity and polarity.value, normalize, max_bytes=max_file_size)
    if on_ray:
        from tui.classify.ray_engine import Job  # 20 ms, for Ray runs only

        job = Job(Plan(infos, prep, batch_size), runtime.folders, tuple(paths), recursive,
                  device.value, precision.value, workers, ray_address, output,
                  (fmt or Format.jsonl).value, top, follow)
        writer = None if output is not None else make_writer(fmt, infos, top)
        return classify_on_ray(job, writer, quiet)
    # On the CPU, what really runs: CUDA may have fallen back.
    plan = make_plan(infos, prep, batch_size, workers, on_cpu=provider == CPU, head=head)
    writer = make_writer(fmt, infos, top)
    bar = ProgressBar(not quiet, lambda: count_files(paths, recursive, follow))
    try:
        with stop_on_signals():
            stats = classify(chain(head, sources), plan, runtime, writer, bar)
    except (ModelError, OutputError, Stopped) as error:
        bar.close()  # before any message
        return cut_short(error)
    finally:
        bar.close()  # on Ctrl-C too
    return finish(stats, [info.name for info in infos], provider, quiet)


def check_engine(on_ray: bool, fmt: Format | None, output: Path | None) -> None:
    """Usage errors of --engine, --output and --format, before anything starts."""
    if fmt is Format.parquet and output is None:
        fail("--format parquet needs --output DIR")
    if not on_ray and output is None:
        return
    from tui.classify.ray_engine import INSTALL, OUTPUT_FORMATS, ray_missing

    if on_ray and ray_missing():
        fail(INSTALL)
    if output is not None and not on_ray:
        fail("--output needs --engine ray (the local engine writes to stdout)")
    if output is not None and fmt is not None and fmt.value not in OUTPUT_FORMATS:
        fail(f"--output writes {', '.join(OUTPUT_FORMATS)}, not {fmt.value}")
    if output is not None:
        try:
            output.mkdir(parents=True, exist_ok=True)
            if any(output.iterdir()):
                fail(f"--output {clean(output)} is not empty")
        except OSError as error:
            fail(f"cannot use --output {clean(output)}: {error.strerror or error}")


def classify_on_ray(job: Job, writer: Writer | None, quiet: bool) -> int:
    """The run on a Ray cluster, with the local engine's exit codes; Ray's start-up time is
    on the summary line apart from the run's."""
    from tui.classify.ray_engine import RayError, connect
    from tui.classify.ray_engine import run as run_on_ray

    bar = ProgressBar(not quiet, lambda: 0)  # the engine knows the count once it has listed
    try:
        with stop_on_signals(), connect(job.address) as cluster:
            if job.workers is not None and job.workers > cluster.cpus:
                say("warning", f"--workers {job.workers} is more than the Ray cluster's "
                    f"{cluster.cpus} CPUs: using {cluster.cpus}")
            result = run_on_ray(job, cluster, writer, bar)
    except RayError as error:
        bar.close()
        fail(str(error))
    except (ModelError, OutputError, Stopped) as error:
        bar.close()  # before any message
        return cut_short(error)
    finally:
        bar.close()  # on Ctrl-C too
    return finish(result.stats, [info.name for info in job.plan.models], result.where(cluster), quiet)


def finish(stats: Stats, names: list[str], where: str, quiet: bool) -> int:
    """A finished run's exit code, after its summary line on stderr (unless `quiet`)."""
    if not quiet:
        print(stats.summary(names, where), file=sys.stderr)
    return SOME_FAILED if stats.failed else OK


def cap_top(top: int | None, infos: list[ModelInfo]) -> int | None:
    """--top K, at most the labels of the model with the most (one warning line if cut)."""
    most = max(len(info.labels) for info in infos)
    if top is None or top <= most or most == 0:
        return top
    whose = f"{clean(infos[0].name)}'s" if len(infos) == 1 else "the models'"
    say("warning", f"--top {top} is more than {whose} {most} labels: showing {most}")
    return most


def make_writer(fmt: Format | None, infos: list[ModelInfo], top: int | None) -> Writer:
    """The writer for `--format`: by default a table for people, JSON lines for pipes."""
    labels = list(dict.fromkeys(label for info in infos for label in info.labels))
    fmt = fmt or (Format.table if sys.stdout.isatty() else Format.jsonl)
    if fmt is Format.table:
        table = TableWriter(Lines.stdout(), [info.name for info in infos], labels, top)
        if table.dropped:
            say("warning", f"the table is {table.width} columns wide: left out "
                f"{', '.join(map(clean, table.dropped))} (widen the terminal, or use -m, "
                "or -f jsonl)")
        return table
    out = Lines.stdout()
    return CsvWriter(out, labels, top) if fmt is Format.csv else JsonlWriter(out, top)


def nothing_found(folders: list[Path], recursive: bool, follow: bool = False) -> str:
    """What to say when the folders hold no image files, with a hint if -r would find some."""
    where = ", ".join(clean(folder) for folder in folders)
    if not recursive and any(has_subfolders(folder, follow) for folder in folders):
        return f"no image files in {where} (use -r to look in subfolders)"
    return f"no image files in {where}"


class Stopped(BaseException):
    """SIGTERM or SIGHUP arrived. A BaseException, as KeyboardInterrupt is: no handler
    meant for a failing file or model catches it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _ignore(signum: int, frame: object) -> None:
    """A signal after the first: the run is already stopping."""


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within: SIGTERM and SIGHUP (the SSH session dropped) raise Stopped, so the run
    unwinds and stops its workers rather than dying and leaving them running."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers
        return
    signums = (signal.SIGTERM, signal.SIGHUP)

    def stop(signum: int, frame: object) -> None:
        for each in signums:  # once: a second signal must not cut the clean-up short
            # A handler that does nothing, not SIG_IGN: a second signal that came before this
            # line and is still pending in Python would find SIG_IGN and raise OSError
            # ("Signal 15 ignored due to race condition"), a traceback on stderr.
            signal.signal(each, _ignore)
        raise Stopped(signum)

    before = {signum: signal.signal(signum, stop) for signum in signums}
    try:
        yield
    except Stopped:
        # Stopping: later signals stay ignored until the process exits with 128 + the first,
        # where the default handler would kill it on the way out (status -15, not 143).
        raise
    except BaseException:
        _restore(before)
        raise
    else:
        _restore(before)


def _restore(handlers: dict[int, object]) -> None:
    for signum, handler in handlers.items():
        signal.signal(signum, handler)  # type: ignore[arg-type]


def cut_short(error: ModelError | OutputError | Stopped) -> int:
    """The exit code of a run that stopped early, after at most one line on stderr."""
    if isinstance(error, ModelError):
        say("error", str(error))
        return USAGE
    settle_stdout()
    if isinstance(error, Stopped):
        return 128 + error.signum
    if error.errno == errno.EPIPE:  # `| head`: no error, quiet, as if killed by SIGPIPE
        return 128 + signal.SIGPIPE
    say("error", f"cannot write output: {error}")
    return USAGE


def settle_stdout() -> None:
    """Flush stdout, or if it takes no more point it at /dev/null: else Python's own
    flush at exit fails again, with a traceback and exit status 120."""
    try:
        sys.stdout.flush()
    except OSError:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except OSError:  # not a real file (a test's capture): nothing at exit to fail
            pass


def say(level: str, message: str) -> None:
    """One line on stderr: `dl-tui classify: LEVEL: MESSAGE`."""
    print(f"{PROG}: {level}: {one_line(message)}", file=sys.stderr)


def fail(message: str) -> NoReturn:
    """A usage error: one line on stderr and exit code 2."""
    say("error", message)
    raise click.exceptions.Exit(USAGE)
