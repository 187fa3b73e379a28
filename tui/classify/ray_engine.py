"""`dl-tui classify --engine ray`: the same listing, decoding and models, on a Ray cluster.

We list the files (tui.classify.sources) and hand Ray their names; Ray Data runs our own
decoding and onnxruntime sessions (tui.classify.ray_worker) in stateful actors, one per CPU,
or one per GPU fed by decoding tasks, and streams the results back, in the order they
finish. Every file is written exactly once: a worker that dies is replaced and its batch run
again (Ray's retries); a batch that kills its worker every time gets the local engine's
error rows. Ray is imported only here, and only for a run that asks for it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import signal
import socket
import sys
import threading
import warnings
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from functools import partial
from itertools import islice
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np

from tui.classify.pipeline import Done, Loaded
from tui.classify.plan import Plan
from tui.classify.pool import DIED, RETRIES
from tui.classify.ray_worker import (CANNOT_WRITE, Classifier, Rows, decode, done_of,
                                     text_or_none, write_done, write_rows, write_shard)
from tui.classify.report import ProgressBar, Stats
from tui.classify.sources import Source, iter_files
from tui.classify.writers import OutputError, Writer
from tui.contract import INT8_MODEL_SUFFIX
from tui.extras import CLUSTER_EXTRA
from tui.paths import find_models
from tui.runtime import ModelError
from tui.text import one_line

INSTALL = f"--engine ray needs Ray, which this install does not have: {CLUSTER_EXTRA}"
OUTPUT_FORMATS = ("jsonl", "csv", "parquet")
SHARD = 10_000  # files per output file with --output: few files, each written whole
_COLOURS = re.compile(r"\x1b\[[0-9;]*m")


class RayError(Exception):
    """The cluster cannot be reached or cannot run the job: one line, exit code 2."""


def ray_missing() -> bool:
    """Whether Ray is not installed (asked without importing it: that takes seconds)."""
    return importlib.util.find_spec("ray") is None


@dataclass(frozen=True)
class Job:
    """What the Ray engine needs beyond the local engine's Plan."""

    plan: Plan
    folders: tuple[Path, ...]  # the driver's models folders: the files are shipped from there
    paths: tuple[Path, ...]  # what to classify, listed by tui.classify.sources
    recursive: bool = False
    device: str = "auto"
    precision: str = "auto"
    workers: int | None = None  # actors on the CPU; decoding tasks at once beside GPUs
    address: str | None = None
    output: Path | None = None
    fmt: str = "jsonl"  # of the files under `output`
    top: int | None = None
    follow: bool = False  # -r follows links to folders (tui.classify.sources)


@dataclass
class Cluster:
    """What the run found: nodes, CPUs and GPUs, and what connecting cost."""

    nodes: int
    cpus: int
    gpus: int
    started_here: bool  # a local Ray started for this run, stopped after it
    start_seconds: float


@dataclass
class Result:
    """A run's counts, and what ran where, for the summary line and the tests."""

    stats: Stats
    providers: set[str]
    nodes: set[str]
    pids: set[int]

    def where(self, cluster: Cluster) -> str:
        """`CPUExecutionProvider, Ray: 2 nodes (2 did work), started in 4.1 s`."""
        started = "a local Ray started" if cluster.started_here else "connected"
        return (f"{', '.join(sorted(self.providers)) or 'no provider'}, Ray: {cluster.nodes} "
                f"node{'s' * (cluster.nodes != 1)} ({len(self.nodes)} did work), {started} in "
                f"{cluster.start_seconds:.1f} s")


@contextmanager
def connect(address: str | None) -> Iterator[Cluster]:
    """Ray for one run: ADDRESS, or $RAY_ADDRESS, or a cluster running here (`auto`), or
    else a local Ray started now and stopped after. RayError when none can be had."""
    with _quiet():
        import ray

        start = perf_counter()
        quiet: dict[str, Any] = {"logging_level": logging.CRITICAL, "log_to_driver": False,
                                 "include_dashboard": False}
        # Workers that did not start from our Python get this very version of tui.
        shipped = {"py_modules": [str(Path(__file__).resolve().parents[1])],
                   "excludes": ["_shipped", "__pycache__", "*.pyc"]}
        started = False
        _check_reachable(address or os.environ.get("RAY_ADDRESS") or "auto")
        try:
            if address or os.environ.get("RAY_ADDRESS"):
                _init(ray, address=address, runtime_env=shipped, **quiet)
            else:
                try:
                    _init(ray, address="auto", runtime_env=shipped, **quiet)
                except ConnectionError:
                    _init(ray, **quiet)
                    started = True
        except Exception as error:  # noqa: BLE001  whatever the reason, there is no cluster to run on
            where = address or os.environ.get("RAY_ADDRESS")
            raise RayError(f"cannot connect to Ray at {where}: {one_line(error)}") from None
        try:
            resources = ray.cluster_resources()
            alive = [node for node in ray.nodes() if node.get("Alive")]
            yield Cluster(len(alive), int(resources.get("CPU", 0)), int(resources.get("GPU", 0)),
                          started, perf_counter() - start)
        finally:
            with _muted():  # at shutdown Ray prints, from this thread, the lines it held back
                ray.shutdown()


def _init(ray: Any, **settings: Any) -> None:
    """`ray.init`, muted, keeping our SIGTERM handler: Ray sets its own, which exits with
    status 15 (the documented status is 143, and the run must stop its workers). A SIGTERM
    while Ray starts is handed to ours once it is back."""
    main = threading.current_thread() is threading.main_thread()
    before = signal.getsignal(signal.SIGTERM) if main else None
    try:
        with _muted():
            ray.init(**settings)
    except SystemExit as exit:  # Ray's handler: sys.exit(signum)
        if before is None or exit.code != signal.SIGTERM:
            raise
        signal.signal(signal.SIGTERM, before)
        signal.raise_signal(signal.SIGTERM)  # ours raises Stopped (or the default kills)
        raise
    finally:
        if before is not None:
            signal.signal(signal.SIGTERM, before)


@contextmanager
def _muted() -> Iterator[None]:
    """Within: sys.stdout and sys.stderr go nowhere, from every thread, this one too."""
    stdout, stderr = sys.stdout, sys.stderr
    with open(os.devnull, "w") as null:
        sys.stdout = sys.stderr = null
        try:
            yield
        finally:
            sys.stdout, sys.stderr = stdout, stderr


def _check_reachable(address: str) -> None:
    """RayError at once when nothing listens at a `host:port` address: Ray itself retries
    for minutes, silently, before it gives up."""
    found = re.fullmatch(r"(?:ray://)?\[?([^\]]+?)\]?:(\d+)", address)
    if found is None:  # auto, local, or a form Ray knows and we do not
        return
    try:
        socket.create_connection((found[1], int(found[2])), timeout=10).close()
    except OSError as error:
        raise RayError(f"cannot connect to Ray at {address}: {error.strerror or error}") from None


@contextmanager
def _quiet() -> Iterator[None]:
    """Within: Ray's own output stays off stdout and stderr, which are for our rows and
    lines. Its C++ core writes errors straight to file descriptor 2 (an actor with restarts,
    say), and the processes a local Ray starts inherit fds 1 and 2: both go to /dev/null,
    and `sys.stdout` and `sys.stderr`, where they were fds 1 and 2, to copies of them. Its
    Python parts log, warn, and print what the cluster reports (a task to be retried) from a
    thread of their own to sys.stdout: only this thread's writes get through (and `connect`
    mutes this thread too while Ray starts and stops)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray.data  # its import sets up its logging: quieted after

    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # ours is on stderr already
    context.print_on_execution_start = False
    context.enable_auto_log_stats = False
    stdout, stderr = sys.stdout, sys.stderr
    with _moved(stdout, 1) as out, _moved(stderr, 2) as err:
        sys.stdout, sys.stderr = _ThisThreadOnly(out), _ThisThreadOnly(err)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield
        finally:
            sys.stdout, sys.stderr = stdout, stderr


@contextmanager
def _moved(stream: Any, fd: int) -> Iterator[Any]:
    """Within: file descriptor FD goes to /dev/null; yields a stream writing where it went,
    if STREAM wrote to FD, else STREAM itself (a test's capture has no descriptor)."""
    try:
        ours = stream.fileno() == fd
    except (AttributeError, OSError, ValueError):
        ours = False
    stream.flush()
    saved = os.dup(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
    copy = open(saved, "w", buffering=1, encoding=stream.encoding,  # noqa: SIM115
                errors=stream.errors, closefd=False) if ours else stream
    try:
        yield copy
    finally:
        try:
            copy.flush()
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            if ours:
                copy.close()


class _ThisThreadOnly:
    """A stream that passes on what the thread that made it writes, and drops the rest."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._thread = threading.current_thread()

    def write(self, text: str) -> int:
        if threading.current_thread() is self._thread:
            return self._stream.write(text)
        return len(text)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding...
        return getattr(self._stream, name)


def run(job: Job, cluster: Cluster, writer: Writer | None, bar: ProgressBar) -> Result:
    """Classify every file on the cluster: rows to `writer`, or with `job.output` files
    written by the workers. ModelError (a model failed), OutputError, RayError."""
    import ray.data

    context = ray.data.DataContext.get_current()
    # A batch whose worker died RETRIES + 1 times is skipped, not the run: its files get
    # the local engine's error rows at the end.
    context.max_errored_blocks = -1

    tables, total = _listing(iter_files(list(job.paths), job.recursive, job.follow), job.plan.batch_size)
    bar.count = lambda: total
    bar.advance(0)  # the bar, if the run is long already: the actors take seconds to start
    dataset = _pipeline(ray.data.from_arrow(tables), job, cluster)
    del tables  # in the object store now
    result = Result(Stats(), set(), set(), set())
    seen = np.zeros(total, bool)
    with closing(_results(dataset)) as results:
        for batch in results:
            fatal = next(filter(None, map(text_or_none, batch["fatal"])), None)
            if fatal is not None and fatal.startswith(CANNOT_WRITE):
                raise OutputError(OSError(0, fatal.removeprefix(CANNOT_WRITE)))
            if fatal is not None:
                raise ModelError(fatal)
            fresh = ~seen[batch["index"]]  # a batch run again after its first run got through
            seen[batch["index"]] = True
            batch = {key: column[fresh] for key, column in batch.items()}
            _count(result, batch, job, writer)
            bar.advance(int(fresh.sum()))
    missing = np.flatnonzero(~seen)
    if len(missing):
        _give_up(result, job, missing, writer)
        bar.advance(len(missing))
    return result


def _results(dataset: Any) -> Iterator[dict[str, np.ndarray]]:
    """The dataset's batches as they finish; RayError if Ray itself fails (a worker that
    cannot import our code, say): our own failures come back in the rows."""
    batches = iter(dataset.iter_batches(batch_size=None, batch_format="numpy"))
    try:
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except Exception as error:  # noqa: BLE001  Ray's own types, whatever failed in the run
                # The first line of Ray's message, without its colours.
                reason = _COLOURS.sub("", str(error)).strip().split("\n", 1)[0]
                raise RayError(f"the Ray run failed: {one_line(reason)}") from None
            yield batch
    finally:
        # Stopped early (a signal, an error): Ray Data stops its actors now, not when
        # the cluster notices that this process went away.
        with suppress(Exception):  # what the run stopped for is what counts
            getattr(batches, "close", lambda: None)()


def model_files(folders: tuple[Path, ...], names: list[str]) -> dict[str, bytes]:
    """The files the named models run from, by file name: each model and its int8 twin."""
    found = find_models(folders)
    files = {}
    for name in names:
        for each in (name, name + INT8_MODEL_SUFFIX):  # a model and its int8 twin
            path = found.get(each)
            if path is not None and (each == name or path.parent == found[name].parent):
                files[path.name] = path.read_bytes()
    return files


def _listing(sources: Iterable[Source], size: int) -> tuple[list, int]:
    """Our listing as Arrow tables of `size` files (one batch each): the place of each
    file, its name as bytes (any name, even one that is not UTF-8) and its error."""
    import pyarrow as pa

    tables, total, it = [], 0, iter(sources)
    while chunk := list(islice(it, size)):
        tables.append(pa.table({
            "index": pa.array(np.arange(total, total + len(chunk))),
            "path": pa.array([os.fsencode(path) for path, _ in chunk], pa.binary()),
            "error": pa.array([error for _, error in chunk], pa.string()),
        }))
        total += len(chunk)
    return tables, total


def _pipeline(dataset: Any, job: Job, cluster: Cluster) -> Any:
    """Decoding, the models and with --output the writing, as Ray Data operators."""
    import ray.data

    gpu = job.device == "cuda" or (job.device == "auto" and cluster.gpus > 0)
    if gpu and cluster.gpus == 0:
        raise RayError("--device cuda: the Ray cluster has no GPUs")
    cwd = os.getcwd()
    names = [info.name for info in job.plan.models]
    batches = {"batch_size": job.plan.batch_size, "batch_format": "numpy"}
    if gpu:  # tasks decode on the CPUs, so the GPUs only run the models
        dataset = dataset.map_batches(decode, fn_kwargs={"prep": job.plan.prep, "cwd": cwd},
                                      num_cpus=1, concurrency=job.workers, **batches)
        actors, resources = cluster.gpus, {"num_gpus": 1}
    else:
        actors, resources = min(job.workers or cluster.cpus, cluster.cpus), {}
    dataset = dataset.map_batches(
        Classifier, fn_constructor_kwargs={
            "files": model_files(job.folders, names), "names": names, "prep": job.plan.prep,
            "device": "cuda" if gpu else "cpu", "precision": job.precision,
            # One thread each on the CPU, as the local engine's workers: the actors fill the cores.
            "threads": None if gpu else 1, "cwd": cwd},
        compute=ray.data.ActorPoolStrategy(size=max(1, actors)), num_cpus=1,
        # Restarted without end (Ray Data's default), but a batch whose worker died
        # RETRIES + 1 times is given up, as by the local pool.
        ray_remote_args_fn=partial(dict, max_task_retries=RETRIES), **resources, **batches)
    if job.output is not None:
        dataset = dataset.map_batches(
            write_shard, fn_kwargs={"plan": job.plan, "folder": str(job.output.resolve()),
                                    "fmt": job.fmt, "top": job.top},
            batch_size=SHARD, batch_format="numpy", num_cpus=0, concurrency=max(1, actors))
    return dataset


def _count(result: Result, batch: dict[str, np.ndarray], job: Job, writer: Writer | None) -> None:
    """Count a batch that came back and, unless the workers wrote them, write its rows."""
    stats = result.stats
    if job.output is None:
        write_done(done_of(batch, job.plan), job.plan, writer, stats)  # counts too
    else:
        stats.files += len(batch["index"])
        stats.failed += int(batch["failed"].sum())
        stats.flagged += int(batch["flagged"].sum())
        stats.ood_checked |= bool(batch["checked"].any())
        stats.load_seconds += float(batch["seconds"].sum())
        stats.infer_seconds += float(batch["infer"].sum())
    result.providers.update(batch["provider"])
    result.nodes.update(batch["node"])
    result.pids.update(int(pid) for pid in batch["pid"])


def _give_up(result: Result, job: Job, missing: np.ndarray, writer: Writer | None) -> None:
    """Error rows for the files whose batch killed its worker every time: found again by
    walking the same listing (this happens rarely; the driver keeps no list of names)."""
    wanted = set(missing.tolist())
    listing = iter_files(list(job.paths), job.recursive, job.follow)
    lost = Done([Loaded(path, None, DIED, 0.0) for index, (path, _) in enumerate(listing)
                 if index in wanted], {}, 0.0)
    if job.output is None:
        write_done(lost, job.plan, writer, result.stats)
        return
    rows = Rows()
    write_done(lost, job.plan, rows, result.stats)
    try:
        write_rows(job.output / f"part-lost.{job.fmt}", rows.files, job.fmt, job.plan, job.top)
    except OSError as error:
        raise OutputError(error) from None
