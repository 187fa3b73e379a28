"""Chunks of work on worker processes: results in order, surviving a worker's death.

A worker can die under a run (the kernel's OOM killer, a stray `kill -9`); its pool
is then broken and every unfinished chunk is lost with it. Those chunks run again, one
at a time, each on a fresh worker, so only a chunk that kills its worker every time is
given up; the rest of the run goes on.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor, Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

# BrokenExecutor is BrokenProcessPool's base, so that concurrent.futures.process (and
# multiprocessing, 10 ms of a one-image run's start) is imported only when a pool starts.

T = TypeVar("T")
RETRIES = 2  # runs of a chunk on a worker of its own, after a death, before giving it up
DIED = "worker process died (out of memory?)"
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def ordered(task: Callable[..., T], chunks: Iterator[list], args: tuple, workers: int,
            init: tuple[Callable[..., None], tuple], lost: Callable[[list], T]) -> Iterator[T]:
    """`task(chunk, *args)` for each chunk, in order; with `workers` > 1 on that many
    processes, each started with `init` (a function and its arguments), else here. Two
    chunks per worker are in flight at most, so memory stays flat however many files
    come. A chunk given up yields `lost(chunk)`."""
    if workers <= 1:
        for chunk in chunks:
            yield task(chunk, *args)
        return
    pool = _Pool(task, args, workers, init, lost)
    try:
        for chunk in chunks:
            pool.submit(chunk)
            if len(pool.jobs) > 2 * workers:
                yield pool.next()
        while pool.jobs:
            yield pool.next()
        pool.executor.shutdown(wait=True)
    finally:
        pool.kill()  # stopped early (an error, a signal, a closed pipe): leave no worker behind


@dataclass
class _Job:
    chunk: list
    future: Future
    deaths: int = 0  # workers that died while it was unfinished


class _Pool:
    """A process pool that keeps its jobs in order and replaces itself when a worker dies."""

    def __init__(self, task: Callable[..., Any], args: tuple, workers: int,
                 init: tuple[Callable[..., None], tuple], lost: Callable[[list], Any]) -> None:
        self.task, self.args, self.workers, self.init, self.lost = task, args, workers, init, lost
        self.jobs: deque[_Job] = deque()
        self.executor = self._start(workers)

    def submit(self, chunk: list) -> None:
        try:
            future = self.executor.submit(self.task, chunk, *self.args)
        except BrokenExecutor:  # an idle worker died since the last result
            self._recover()
            future = self.executor.submit(self.task, chunk, *self.args)
        self.jobs.append(_Job(chunk, future))

    def next(self) -> Any:
        """The oldest job's result, or what its task raised."""
        try:
            result = self.jobs[0].future.result()
        except BrokenExecutor:
            self._recover()
            return self.next()  # the oldest job is finished now
        self.jobs.popleft()
        return result

    def kill(self) -> None:
        """Stop the workers now, whatever they are doing."""
        kill_workers = getattr(self.executor, "kill_workers", None)  # public from Python 3.14
        if kill_workers is not None:
            kill_workers()
        else:
            # Private, but the only handle on them before 3.14 (tests/test_private_apis.py
            # fails, saying so, if a Python without kill_workers changes it).
            for process in list((self.executor._processes or {}).values()):
                process.kill()
        self.executor.shutdown(wait=True, cancel_futures=True)

    def _recover(self) -> None:
        """Run each unfinished job alone until it finishes or is given up, then go on
        with a fresh pool. Jobs finished before the death keep their results."""
        for job in self.jobs:
            while _broken(job.future):
                job.deaths += 1
                if job.deaths > RETRIES:
                    job.future = Future()
                    job.future.set_result(self.lost(job.chunk))
                else:
                    self._restart(1)  # alone: a death now is this chunk's doing
                    job.future = self.executor.submit(self.task, job.chunk, *self.args)
        self._restart(self.workers)

    def _restart(self, workers: int) -> None:
        self.kill()
        self.executor = self._start(workers)

    def _start(self, workers: int) -> ProcessPoolExecutor:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # fork starts workers in milliseconds; elsewhere only spawn is safe.
        context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
        return ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                                   initargs=(os.getpid(), *self.init))


def _broken(future: Future) -> bool:
    """Whether the future's worker died before it finished (waits for it)."""
    return isinstance(future.exception(), BrokenExecutor)


def _start_worker(parent: int, initializer: Callable[..., None], initargs: tuple) -> None:
    # The parent alone decides when to stop. Ctrl-C reaches the whole process group;
    # a handler inherited from the parent would turn SIGTERM into an error inside a task.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
    _die_with(parent)
    initializer(*initargs)


def _die_with(parent: int) -> None:
    """Have the kernel kill this worker when its parent dies, even by SIGKILL (Linux)."""
    if sys.platform == "linux":
        import ctypes

        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before that
        os._exit(1)


@contextmanager
def memory_limit(extra: int) -> Iterator[None]:
    """Within: this process's data may grow by at most `extra` bytes more (RLIMIT_DATA, which
    Linux 4.7 and later apply to mmap too); past that an allocation fails with MemoryError
    instead of the process growing until the OOM killer picks something. Set around decoding
    only, on whichever process decodes (a worker, this one, a Ray worker), so onnxruntime's
    sessions and arenas are never under it. The limit is the whole process's: any other
    thread shares the headroom while it is set."""
    used = _data_bytes()
    if used is None:  # no /proc: nothing to measure the limit from
        yield
        return
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    limit = min([used + extra, *(bound for bound in (soft, hard) if bound != resource.RLIM_INFINITY)])
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


def _data_bytes() -> int | None:
    """The process's data and stack now (what RLIMIT_DATA counts, and its stack), in bytes."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[5]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None
