"""MNIST loading from .npz, IDX and gzipped IDX files, and one clear error for bad data."""

from __future__ import annotations

import gzip
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trainer.data import IDX_FILES, DataError, load_iris_split, load_mnist, read_idx

SAMPLE = Path(__file__).parent / "data" / "mnist-sample.npz"


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


@pytest.fixture
def sample():
    with np.load(SAMPLE) as npz:
        return {k: npz[k] for k in IDX_FILES}


def write_idx_folder(folder: Path, arrays: dict, gzipped: bool) -> Path:
    folder.mkdir()
    for key, stem in IDX_FILES.items():
        data = idx_bytes(arrays[key])
        if gzipped:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)
    return folder


def test_npz(sample):
    split = load_mnist(SAMPLE)
    assert split.x_train.shape == (400, 28, 28) and split.x_train.dtype == np.uint8
    assert np.array_equal(split.y_test, sample["y_test"])


@pytest.mark.parametrize("gzipped", [False, True], ids=["idx", "idx.gz"])
def test_idx_folder(tmp_path, sample, gzipped):
    folder = write_idx_folder(tmp_path / "mnist", sample, gzipped)
    split = load_mnist(folder)
    for key in IDX_FILES:
        assert np.array_equal(getattr(split, key), sample[key])


def test_truncated_idx_is_refused(tmp_path, sample):
    path = tmp_path / "images"
    path.write_bytes(idx_bytes(sample["x_test"])[:-100])
    with pytest.raises(DataError, match="truncated"):
        read_idx(path)


def test_wrong_magic_is_refused(tmp_path):
    path = tmp_path / "images"
    path.write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(DataError, match="magic"):
        read_idx(path)


def test_iris_uses_the_notebooks_split():
    pytest.importorskip("sklearn", reason="scikit-learn (the train extra) is not installed")
    split = load_iris_split()
    assert split.x_train.shape == (120, 4) and split.x_test.shape == (30, 4)
    assert split.y_test[:5].tolist() == [1, 0, 2, 1, 1]  # train_test_split(test_size=0.2, random_state=42)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trainer.cli", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "make_data, message",
    [
        (lambda d: d / "missing.npz", "no such file"),
        (lambda d: (d / "corrupt.npz").write_bytes(b"\x00garbage") and d / "corrupt.npz", "cannot read"),
        (lambda d: np.savez(d / "other.npz", a=np.zeros(3)) or d / "other.npz", "missing x_train"),
        (lambda d: (d / "empty").mkdir() or d / "empty", "missing train-images-idx3-ubyte"),
    ],
    ids=["missing", "corrupt", "wrong-keys", "empty-folder"],
)
def test_bad_data_is_one_line_exit_2_and_nothing_written(tmp_path, make_data, message):
    data = make_data(tmp_path)
    out = tmp_path / "out"
    proc = run_cli("cnn", "--data", str(data), "--out", str(out), "--progress", "none")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], proc.stderr
    assert not out.exists()


def test_offline_without_cache_names_data_option(monkeypatch):
    keras = pytest.importorskip("keras")

    def offline():
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(DataError, match="--data"):
        load_mnist(None)


def test_help_is_instant_and_imports_no_tensorflow():
    code = "import sys; from trainer.cli import app; print('tensorflow' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "False"
    help_text = run_cli("--help").stdout
    for command in ("iris", "cnn", "vae", "vae-classifier", "all"):
        assert command in help_text
