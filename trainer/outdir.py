"""The output folder: one run at a time, files replaced atomically, no temporary files left behind.

No TensorFlow here: the CLI claims the folder before it imports anything heavy.
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

LOCK_NAME = ".dl-train.lock"
# atomic_target's temporary files: ".<target>.<8 random characters from mkstemp><suffix>".
TEMP_NAME = re.compile(r"\..+\.[a-z0-9_]{8}(\.tmp|\.weights\.h5)")
# HDF5 (under Keras's .h5 writer) reports a failed write as a RuntimeError naming the errno.
HDF5_ERRNO = re.compile(r"errno = (\d+)")


class OutputError(Exception):
    """The output folder cannot be used or written; the message is one line for the user."""


@contextmanager
def claim(out: Path) -> Iterator[None]:
    """Make OUT, hold its lock for the run, and remove temporary files that killed runs left there."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot use --out {out}: {exc.strerror or exc}") from None
    handle = _lock(out)
    try:
        remove_stale_temps(out)
        yield
    finally:
        # Unlink before unlocking: a run that opened this file meanwhile sees it gone and retries.
        (out / LOCK_NAME).unlink(missing_ok=True)
        handle.close()


def _lock(out: Path) -> IO[str]:
    path = out / LOCK_NAME
    while True:
        try:
            handle = open(path, "a+", encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"cannot use --out {out}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid = handle.read().strip() or "unknown"
            handle.close()
            raise OutputError(f"another dl-train run (PID {pid}) is writing to {out}; wait for it to finish or choose another --out") from None
        if _same_file(handle, path):
            break
        handle.close()  # its owner removed the file as we opened it: lock the new one
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _same_file(handle: IO[str], path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
    except FileNotFoundError:
        return False


def remove_stale_temps(out: Path) -> None:
    """Delete atomic_target's leftovers (a SIGKILL skips its clean-up) in OUT and its checkpoint folders."""
    checkpoints = out / ".checkpoints"
    folders = [out, *(p for p in checkpoints.iterdir() if p.is_dir())] if checkpoints.is_dir() else [out]
    for folder in folders:
        for path in folder.iterdir():
            if TEMP_NAME.fullmatch(path.name) and path.is_file():
                path.unlink(missing_ok=True)


@contextmanager
def atomic_target(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside PATH that replaces it when the block ends; gone if the block fails.

    A killed run never leaves half a file, and a failed write (a full disk) leaves the old one
    and raises OutputError. SUFFIX is for writers that insist on one (Keras).
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
        os.close(fd)
    except OSError as exc:
        raise _write_error(path, exc) from None
    tmp = Path(name)
    try:
        # mkstemp makes the file private; a model is for everyone who can read the folder.
        os.chmod(tmp, 0o666 & ~_umask())
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent)  # the rename itself survives a power cut
    except Exception as exc:
        error = _write_error(path, exc)
        if error is None:
            raise
        raise error from None
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes) -> None:
    """Write DATA to PATH through a temporary file and a rename."""
    with atomic_target(path) as tmp:
        tmp.write_bytes(data)


def _write_error(path: Path, exc: Exception) -> OutputError | None:
    """OutputError for a failed write (OSError, or HDF5's errno in a RuntimeError); None for anything else."""
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc)
    else:
        found = HDF5_ERRNO.search(str(exc))
        if not found:
            return None
        reason = os.strerror(int(found.group(1)))
    return OutputError(f"cannot write {path}: {reason}; earlier files are kept, and the same command resumes once that is fixed")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
