"""Data sets: MNIST from an .npz, IDX files or Keras's cache; iris from scikit-learn.

Nothing here imports TensorFlow at module level, so loading errors surface fast.
"""

from __future__ import annotations

import gzip
import struct
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
    arrays = _read_idx_folder(path) if path.is_dir() else _read_npz(path)
    return _validated(arrays, str(path))


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in IDX_FILES if k not in npz.files]
            if missing:
                raise DataError(f"{path}: not a Keras-style mnist.npz (missing {', '.join(missing)})")
            return {k: npz[k] for k in IDX_FILES}
    except DataError:
        raise
    except Exception as exc:  # zipfile, pickle and value errors all mean the same to a user
        raise DataError(f"{path}: cannot read as .npz ({one_line(exc)})") from None


def _read_idx_folder(folder: Path) -> dict[str, np.ndarray]:
    arrays = {}
    for key, stem in IDX_FILES.items():
        candidates = [folder / stem, folder / f"{stem}.gz", folder / stem.replace("-idx", ".idx")]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise DataError(f"{folder}: missing {stem} (or {stem}.gz); expected the four MNIST IDX files")
        arrays[key] = read_idx(found)
    return arrays


def read_idx(path: Path) -> np.ndarray:
    """One IDX file (gzipped or not) as a uint8 array."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read ({one_line(exc)})") from None
    if len(raw) < 4 or raw[0:2] != b"\x00\x00" or raw[2] != 0x08:
        raise DataError(f"{path}: not an IDX file of unsigned bytes (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise DataError(f"{path}: truncated or corrupt IDX file ({len(raw) - header} data bytes, header says {expected})")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _load_keras_mnist() -> Split:
    # Keras downloads once into ~/.keras/datasets and reads the cache after that.
    try:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as exc:
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
            raise DataError(f"{source}: y_{part} has {len(y)} labels for {len(x)} images")
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
