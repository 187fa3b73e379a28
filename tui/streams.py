"""stdout and stderr as both command-line tools use them: whole lines, never half of one,
and one line (not a traceback) when either stream is closed.

Standard library only: `dl-train` (trainer/progress.py) writes its JSON-line events through
here as `dl-tui classify` writes its rows (tui/classify/writers.py).
"""

from __future__ import annotations

import os
import select
import signal
import stat
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# A pipe takes a write of at most PIPE_BUF bytes whole or not at all.
PIPE_BUF = getattr(select, "PIPE_BUF", 512)
HELD = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

CLOSED = {
    "stdout": "stdout is closed: give it somewhere to write (> FILE, > /dev/null)",
    "stderr": "stderr is closed: give it somewhere to write (2> FILE, 2> /dev/null)",
}


def write_lines(fd: int, data: bytes) -> None:
    """Write DATA, whole lines, so that no signal leaves half a line behind.

    A signal handler raises (Stopped, KeyboardInterrupt) where a write is interrupted. A
    write to a pipe of at most PIPE_BUF bytes is never cut: interrupted, it wrote nothing.
    So the lines go in such pieces; a longer line, or any write to a socket or a device
    (where a write can stop part way), goes with the signals held, acted on once it is out.
    A regular file is never cut by a signal: it takes the lot at once.
    """
    mode = os.fstat(fd).st_mode
    view = memoryview(data)
    if stat.S_ISREG(mode):
        _write_all(fd, view)
        return
    pipe = stat.S_ISFIFO(mode)
    start = 0
    while start < len(data):
        end = data.rfind(b"\n", start, start + PIPE_BUF) + 1
        if end <= start:  # one line longer than PIPE_BUF (or no line end at all)
            end = data.find(b"\n", start + PIPE_BUF) + 1 or len(data)
        if pipe and end - start <= PIPE_BUF:
            _write_all(fd, view[start:end])
        else:
            with _signals_held():
                _write_all(fd, view[start:end])
        start = end


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data):]


@contextmanager
def _signals_held() -> Iterator[None]:
    """Within: SIGINT, SIGTERM and SIGHUP are noted, not acted on; after, each that came
    is raised again, for the handler it would have had."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers
        return
    arrived: list[int] = []
    before = {signum: signal.signal(signum, lambda signum, frame: arrived.append(signum))
              for signum in HELD}
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        for signum in dict.fromkeys(arrived):
            signal.raise_signal(signum)


def closed_streams() -> list[str]:
    """Which of stdout and stderr are closed (`>&-`, `2>&-`): Python then made that stream
    None at start, and a descriptor opened since may have taken its number."""
    closed = []
    for name, fd in (("stdout", 1), ("stderr", 2)):
        try:
            os.fstat(fd)
        except OSError:
            closed.append(name)
            continue
        if getattr(sys, name) is None:
            closed.append(name)
    return closed


def refuse_closed_streams(prog: str) -> None:
    """Exit 2 if stdout or stderr is closed, with one line on the other, if that is open:
    every command writes to both, and would otherwise fail with a traceback, or silently."""
    closed = closed_streams()
    if not closed:
        return
    if len(closed) == 1:
        other = sys.stderr if closed == ["stdout"] else sys.stdout
        print(f"{prog}: error: {CLOSED[closed[0]]}", file=other, flush=True)
    sys.exit(2)
