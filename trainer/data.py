"""Data sets: MNIST from an .npz, IDX files or Keras's cache; iris from scikit-learn.

Nothing here imports TensorFlow at module level, so loading errors surface fast.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zipfile
import zlib
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
IRIS_FEATURES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]


class DataError(Exception):
    """A data set that cannot be loaded; the message is one line for the user."""


@dataclass(frozen=True)
class Split:
    """Train and test arrays of one data set, and where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str

    def describe(self, name: str) -> dict:
        return {"name": name, "source": self.source, "train": len(self.x_train), "test": len(self.x_test)}


def load_mnist(path: str | Path | None = None) -> Split:
    """MNIST as uint8 [N,28,28] images and int labels, from PATH or Keras's download cache."""
    if path is None:
        return _load_keras_mnist()
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder; --data takes a Keras-style mnist.npz or a folder of MNIST IDX files")
    if not (path.is_dir() or path.is_file()):
        raise DataError(f"{path}: not a file or folder; --data takes a Keras-style mnist.npz or a folder of MNIST IDX files")
    arrays = _read_idx_folder(path) if path.is_dir() else _read_npz(path)
    return _validated(arrays, str(path))


# Sizes are checked as declared (IDX headers, .npy headers) before anything is read, and reading
# stops at the declared size: a small archive cannot expand into gigabytes. MNIST is 55 MB.
MAX_DATA_BYTES = 1 << 30
MAX_DATA_TEXT = "dl-train reads at most 1 GiB of data"
MAX_NPZ_MEMBERS = 64  # a Keras-style mnist.npz holds 4; each entry of a zip's directory costs memory
CHUNK = 1 << 20
NPZ_FORMAT = "save the four arrays with numpy.savez"


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with open(path, "rb") as file:
            start = file.read(8)
            _check_zip_directory(path, file)
            try:
                archive = zipfile.ZipFile(file)
            except zipfile.BadZipFile:
                raise DataError(_not_a_zip(path, start)) from None
            with archive, ExitStack() as stack:
                members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
                missing = [k for k in IDX_FILES if k not in members]
                if missing:
                    raise DataError(f"{path}: not a Keras-style mnist.npz (missing {', '.join(missing)})")
                opened = {key: _open_npy(path, key, members[key], stack.enter_context(archive.open(members[key])))
                          for key in IDX_FILES}
                _check_total(path, opened.values(), "the four arrays declare")
                return {key: _read_array(stream, path, shape, dtype, order) for key, (stream, shape, dtype, order) in opened.items()}
    except DataError:
        raise
    except (OSError, EOFError, ValueError, RuntimeError, NotImplementedError, zlib.error, zipfile.BadZipFile) as exc:
        # zipfile's CRC, compression and encryption errors all mean the same to a user
        raise DataError(f"{path}: cannot read as .npz ({one_line(exc)})") from None


def _not_a_zip(path: Path, start: bytes) -> str:
    if start[:1] == b"\x80":
        return f"{path}: a Python pickle, not an .npz; {NPZ_FORMAT}"
    if start.startswith(b"\x93NUMPY"):
        return f"{path}: a single .npy array, not an .npz; {NPZ_FORMAT}"
    return f"{path}: cannot read as .npz (not a zip archive); {NPZ_FORMAT}"


def _check_zip_directory(path: Path, file) -> None:
    """Refuse a zip whose directory lists more entries than an npz has, before zipfile reads them all."""
    end_record = getattr(zipfile, "_EndRecData", None)  # private, but in every CPython since 2.6
    record = end_record(file) if end_record else None
    if record and record[zipfile._ECD_ENTRIES_TOTAL] > MAX_NPZ_MEMBERS:
        raise DataError(f"{path}: a zip of {record[zipfile._ECD_ENTRIES_TOTAL]} files; a Keras-style mnist.npz holds 4 arrays")
    file.seek(0)


class _Counted:
    """A stream that counts what is read from it: the length of a .npy header."""

    def __init__(self, stream):
        self.stream, self.count = stream, 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.count += len(data)
        return data


def _open_npy(path: Path, key: str, info: zipfile.ZipInfo, stream) -> tuple:
    """The member's .npy header, checked against the limit and the size the zip declares; the stream
    is left at its data."""
    counted = _Counted(stream)
    try:
        version = np.lib.format.read_magic(counted)
        read_header = np.lib.format.read_array_header_1_0 if version[0] == 1 else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(counted, max_header_size=10000)
    except ValueError as exc:
        raise DataError(f"{path}: {key}.npy is not a NumPy array ({one_line(exc)})") from None
    if dtype.hasobject:
        raise DataError(f"{path}: {key} holds Python objects, not numbers; dl-train loads only plain numeric arrays")
    if dtype.kind not in "biuf":
        raise DataError(f"{path}: {key} holds {dtype.str} values, not numbers; dl-train loads only plain numeric arrays")
    size = math.prod(shape) * dtype.itemsize
    if size > MAX_DATA_BYTES:
        raise DataError(f"{path}: {key} declares {_dims(shape)} values of {dtype.name} ({_bytes(size)}); {MAX_DATA_TEXT}")
    held = info.file_size - counted.count
    if held != size:
        raise DataError(f"{path}: {key}.npy is truncated or corrupt: its header declares {size} bytes of data, the archive holds {held}")
    return stream, shape, dtype, "F" if fortran else "C"


def _check_total(where: Path, opened, what: str) -> None:
    total = sum(math.prod(shape) * dtype.itemsize for _, shape, dtype, _ in opened)
    if total > MAX_DATA_BYTES:
        raise DataError(f"{where}: {what} {_bytes(total)}; {MAX_DATA_TEXT}")


def _read_array(stream, path: Path, shape: tuple, dtype: np.dtype, order: str = "C") -> np.ndarray:
    """The SHAPE array of DTYPE that STREAM holds, read in chunks into one buffer: never more than it declares."""
    array = np.empty(math.prod(shape), dtype=dtype)
    buffer = memoryview(array.view(np.uint8))
    done = 0
    while done < len(buffer):
        chunk = stream.read(min(CHUNK, len(buffer) - done))
        if not chunk:
            raise DataError(f"{path}: truncated or corrupt ({done} data bytes, its header declares {len(buffer)})")
        buffer[done:done + len(chunk)] = chunk
        done += len(chunk)
    return array.reshape(shape, order=order)


def _read_idx_folder(folder: Path) -> dict[str, np.ndarray]:
    paths = {}
    for key, stem in IDX_FILES.items():
        candidates = [folder / stem, folder / f"{stem}.gz", folder / stem.replace("-idx", ".idx")]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise DataError(f"{folder}: missing {stem} (or {stem}.gz); expected the four MNIST IDX files")
        paths[key] = found
    # Every header first, so the limit applies to the four files together before any data is read.
    with ExitStack() as stack:
        opened = {key: _open_idx(path, 3 if key.startswith("x") else 1, stack) for key, path in paths.items()}
        _check_total(folder, [(None, shape, np.dtype(np.uint8), None) for _, shape in opened.values()], "the four IDX files declare")
        return {key: _idx_data(paths[key], stream, shape) for key, (stream, shape) in opened.items()}


def read_idx(path: Path, ndim: int | None = None) -> np.ndarray:
    """One IDX file (gzipped or not) as a uint8 array; NDIM, when given, is the number of dimensions it must have."""
    with ExitStack() as stack:
        stream, shape = _open_idx(path, ndim, stack)
        return _idx_data(path, stream, shape)


IDX_TYPES = {0x08: "unsigned bytes", 0x09: "signed bytes", 0x0B: "16-bit integers", 0x0C: "32-bit integers",
             0x0D: "32-bit floats", 0x0E: "64-bit floats"}
IDX_KINDS = {3: "MNIST images are 3-d, N×28×28", 1: "MNIST labels are 1-d, one per image"}


def _open_idx(path: Path, ndim: int | None, stack: ExitStack) -> tuple:
    """PATH open at its data (decompressing, when gzipped) and the shape its header declares, checked."""
    try:
        stream = stack.enter_context(open(path, "rb"))  # noqa: SIM115 (the stack closes it)
        if stream.read(2) == b"\x1f\x8b":
            stream.seek(0)
            stream = stack.enter_context(gzip.GzipFile(fileobj=stream, mode="rb"))
        else:
            stream.seek(0)
        magic = stream.read(4)
        if len(magic) < 4 or magic[0:2] != b"\x00\x00" or magic[2] not in IDX_TYPES:
            raise DataError(f"{path}: not an IDX file of unsigned bytes (bad magic number)")
        if magic[2] != 0x08:
            raise DataError(f"{path}: IDX data type 0x{magic[2]:02x} ({IDX_TYPES[magic[2]]}); MNIST's IDX files hold unsigned bytes (0x08)")
        dims = stream.read(4 * magic[3])
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read ({one_line(exc)})") from None
    if len(dims) < 4 * magic[3]:
        raise DataError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{magic[3]}I", dims)
    if ndim is not None and len(shape) != ndim:
        found = f"{_dims(shape)}" if shape else "a single value"
        raise DataError(f"{path}: an IDX file of {plural(len(shape), 'dimension')} ({found}); {IDX_KINDS.get(ndim, f'expected {ndim}-d')}")
    if math.prod(shape) > MAX_DATA_BYTES:
        raise DataError(f"{path}: declares {_dims(shape)} values ({_bytes(math.prod(shape))}); {MAX_DATA_TEXT}")
    if ndim == 3 and shape[1:] != (28, 28):
        raise DataError(f"{path}: images of {_dims(shape[1:])} pixels; MNIST's are 28×28")
    return stream, shape


def _idx_data(path: Path, stream, shape: tuple) -> np.ndarray:
    """The data after an IDX header: exactly what the header declares, no byte more."""
    expected = math.prod(shape)
    try:
        if not isinstance(stream, gzip.GzipFile):
            size = os.fstat(stream.fileno()).st_size - 4 - 4 * len(shape)
            if size != expected:
                raise DataError(f"{path}: truncated or corrupt IDX file ({size} data bytes, header says {expected})")
        array = _read_array(stream, path, shape, np.dtype(np.uint8))
        if stream.read(1):
            raise DataError(f"{path}: holds more data than its header declares ({_dims(shape)} bytes)")
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read ({one_line(exc)})") from None
    return array


def _dims(shape: tuple) -> str:
    return "×".join(str(n) for n in shape)


def _bytes(n: int) -> str:
    """N bytes for people: 1.5 GiB."""
    size, unit = float(n), "bytes"
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if size < 1024 or unit == "EiB":
            break
        size /= 1024
    return plural(n, "byte") if unit == "bytes" else f"{size:.1f} {unit}"


def plural(n: int, word: str) -> str:
    """N and WORD, with an s unless N is 1: "1 epoch", "3 epochs"."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _load_keras_mnist() -> Split:
    # Keras downloads once into ~/.keras/datasets and reads the cache after that.
    try:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as exc:  # noqa: BLE001 (no network, a broken cache, a missing Keras: all one answer)
        raise DataError(
            f"cannot download MNIST and no cached copy was found ({one_line(exc)}); "
            "pass --data PATH to a Keras-style mnist.npz or a folder of MNIST IDX files"
        ) from None
    arrays = {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}
    return _validated(arrays, "keras.datasets.mnist")


def _validated(arrays: dict[str, np.ndarray], source: str) -> Split:
    for part in ("train", "test"):
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise DataError(f"{source}: x_{part} has shape {x.shape}, expected [N,28,28]")
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(f"{source}: y_{part} has {plural(len(y), 'label')} for {plural(len(x), 'image')}")
        if len(x) == 0:
            raise DataError(f"{source}: x_{part} is empty")
        if not np.all(np.isin(y, np.arange(10))):  # NaN and 2.5 are not digits either
            raise DataError(f"{source}: y_{part} has labels that are not whole numbers 0-9")
    return Split(
        x_train=_pixels(arrays["x_train"], f"{source}: x_train"),
        y_train=np.asarray(arrays["y_train"], dtype=np.int64),
        x_test=_pixels(arrays["x_test"], f"{source}: x_test"),
        y_test=np.asarray(arrays["y_test"], dtype=np.int64),
        source=source,
    )


def _pixels(x: np.ndarray, where: str) -> np.ndarray:
    """Images as uint8 0-255: integers kept, floats in [0, 1] scaled; a plain cast would wrap or zero them."""
    if np.issubdtype(x.dtype, np.floating):
        if not np.isfinite(x).all():
            raise DataError(f"{where} has NaN or infinite pixels")
        if x.min() < 0 or x.max() > 1:
            raise DataError(f"{where} has float pixels from {x.min():g} to {x.max():g}; expected floats in [0, 1] or integers 0-255")
        return np.rint(x * 255).astype(np.uint8)
    if not np.issubdtype(x.dtype, np.integer):
        raise DataError(f"{where} has {x.dtype} pixels; expected integers 0-255 or floats in [0, 1]")
    if x.min() < 0 or x.max() > 255:
        raise DataError(f"{where} has pixels from {x.min()} to {x.max()}; expected integers 0-255 or floats in [0, 1]")
    return x.astype(np.uint8, copy=False)


def load_iris_split() -> Split:
    """Iris with the notebook's split: 80/20, random_state=42."""
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split

    x, y = load_iris(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=42)
    return Split(
        x_train=x_train.astype(np.float32),
        y_train=y_train.astype(np.int64),
        x_test=x_test.astype(np.float32),
        y_test=y_test.astype(np.int64),
        source="sklearn.datasets.load_iris",
    )


def one_line(exc: BaseException) -> str:
    """An exception as one short line for the user."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]
