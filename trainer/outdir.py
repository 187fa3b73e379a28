"""The output folder: one run at a time, files replaced atomically, no temporary files left behind.

No TensorFlow here: the CLI claims the folder before it imports anything heavy.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from trainer.data import one_line
from tui.atomic import atomic_path

LOCK_NAME = ".dl-train.lock"
# atomic_target's temporary files: ".<target>.<8 random characters from mkstemp><suffix>".
TEMP_NAME = re.compile(r"\..+\.[a-z0-9_]{8}(\.tmp|\.weights\.h5)")
# HDF5 (under Keras's .h5 writer) reports a failed write as an OSError or RuntimeError whose text names the errno.
HDF5_ERRNO = re.compile(r"errno = (\d+)")


class OutputError(Exception):
    """The output folder cannot be used or written; the message is one line for the user."""


@contextmanager
def claim(out: Path) -> Iterator[None]:
    """Make OUT, hold its lock for the run, and remove temporary files that killed runs left there.

    Folders it made are removed again if the run leaves them empty: a run that cannot start (no
    TensorFlow, a bad strategy) creates nothing.
    """
    made = _missing(out)
    fd = _lock(out)
    try:
        remove_stale_temps(out)
        yield
    finally:
        # Unlink before unlocking: a run that opened this file meanwhile sees it gone and retries.
        (out / LOCK_NAME).unlink(missing_ok=True)
        os.close(fd)
        for folder in made:  # deepest first; rmdir refuses a folder that has anything in it
            try:
                folder.rmdir()
            except OSError:
                break


def _missing(out: Path) -> list[Path]:
    """OUT and those of its parents that do not exist yet, deepest first."""
    missing = []
    for folder in (out, *out.parents):
        if folder.exists() or folder.is_symlink():
            break
        missing.append(folder)
    return missing


def _lock(out: Path) -> int:
    """Make OUT and take an exclusive flock on its lock file, which names our PID; OutputError naming
    the holder's if taken."""
    path = out / LOCK_NAME
    attempts = 0
    while True:
        try:
            out.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError as exc:  # a run that made OUT removed it, empty, as we made it
            attempts += 1
            if attempts < 5:
                continue
            raise OutputError(f"cannot use --out {out}: {exc.strerror or exc}") from None
        except OSError as exc:
            raise OutputError(f"cannot use --out {out}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise OutputError(f"another dl-train run (PID {pid}) is writing to {out}; "
                              "wait for it to finish or choose another --out") from None
        if _same_file(fd, path):
            break
        os.close(fd)  # its owner removed the file as we opened it: lock the new one
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError:
        pass  # a full disk: the lock holds all the same, only a refusal cannot name our PID
    return fd


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
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
    and raises OutputError. SUFFIX is for writers that insist on one (Keras). The file handling
    is tui.atomic's (temporary file in the same folder, fsync, rename).
    """
    try:
        with atomic_path(path, suffix) as tmp:
            yield tmp
    except Exception as exc:
        error = _write_error(path, exc)
        if error is None:
            raise
        raise error from None


def write_atomic(path: Path, data: bytes) -> None:
    """Write DATA to PATH through a temporary file and a rename."""
    with atomic_target(path) as tmp:
        tmp.write_bytes(data)


def _write_error(path: Path, exc: Exception) -> OutputError | None:
    """OutputError for a failed write (an OSError, or HDF5's errno in any error); None for anything else."""
    hdf5 = HDF5_ERRNO.search(str(exc))
    if hdf5:
        reason = os.strerror(int(hdf5.group(1)))
    elif isinstance(exc, OSError):
        reason = exc.strerror or one_line(exc)
    else:
        return None
    return OutputError(f"cannot write {path}: {reason}; earlier files are kept, and the same command resumes once that is fixed")
