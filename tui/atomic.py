"""Files written whole or not at all: a temporary file beside the target, synced, then renamed.

One helper for both sides: `dl-tui classify --output` (tui/classify/ray_worker.py) and the
trainer's output folder (trainer/outdir.py, which turns an OSError into its one-line error).
A reader sees the old file or the new one, never half of one; a failed or killed write
leaves the old file. The temporary name is `.<target>.<8 random characters><suffix>`, so that
a folder's owner can recognise (and remove) what a SIGKILL left behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path


@contextmanager
def atomic_path(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside PATH, in the same folder; when the block ends it is synced and
    renamed over PATH. If the block raises, the temporary file is removed and PATH is left
    as it was. SUFFIX is for writers that insist on one (Keras's `.weights.h5`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    temporary = Path(name)
    try:
        # mkstemp makes the file private; what we write is for everyone who can read the folder.
        os.chmod(temporary, 0o666 & ~_umask())
        yield temporary
        _fsync(temporary)
        os.replace(temporary, path)
        with suppress(OSError):  # some file systems cannot sync a folder; the file is in place either way
            _fsync(path.parent)  # so that the rename itself survives a power cut
    finally:
        temporary.unlink(missing_ok=True)


def atomic_write(path: Path, data: bytes | str, encoding: str = "utf-8") -> None:
    """Write DATA (bytes, or text in ENCODING) to PATH whole or not at all."""
    with atomic_path(path) as temporary:
        if isinstance(data, str):
            temporary.write_text(data, encoding=encoding)
        else:
            temporary.write_bytes(data)


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
