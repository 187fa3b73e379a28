"""MNIST loading from .npz, IDX and gzipped IDX files, and one clear error for bad data."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
import subprocess
import sys
import zlib
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
    return subprocess.run([sys.executable, "-m", "trainer.cli", *args], capture_output=True, text=True, timeout=120, check=False)


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
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.stdout.strip() == "False"
    help_text = run_cli("--help").stdout
    for command in ("iris", "cnn", "vae", "vae-classifier", "all"):
        assert command in help_text


# --- hostile files: archives that expand, headers that lie ---------------------------------------

BLOCK = 1 << 24  # 16 MB of zeros, which deflate makes about 16 KB


def deflated(prefix: bytes, zero_blocks: int = 0) -> tuple[bytes, int, int]:
    """Raw deflate of PREFIX then ZERO_BLOCKS blocks of zeros, its CRC-32 and size, made in a second:
    after a full flush every block of zeros compresses to the same bytes, so one copy is repeated."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)]
    crc = zlib.crc32(prefix)
    if zero_blocks:
        zeros = bytes(BLOCK)
        first, second, third = (c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH) for _ in range(3))
        assert second == third, "zlib no longer repeats itself; make the blocks some other way"
        parts += [first, *[second] * (zero_blocks - 1)]
        for _ in range(zero_blocks):
            crc = zlib.crc32(zeros, crc)
    parts.append(c.flush())
    return b"".join(parts), crc, len(prefix) + zero_blocks * BLOCK


def gzip_file(prefix: bytes, zero_blocks: int) -> bytes:
    data, crc, size = deflated(prefix, zero_blocks)
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + data + struct.pack("<II", crc, size & 0xFFFFFFFF)


def zip_file(members: dict[str, tuple[bytes, int, int]]) -> bytes:
    """A zip archive of deflated MEMBERS (name: (data, crc, size)), as `deflated` gives them."""
    out, central = b"", b""
    for name, (data, crc, size) in members.items():
        encoded, offset = name.encode(), len(out)
        out += struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(data), size, len(encoded), 0) + encoded + data
        central += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21, crc, len(data), size,
                               len(encoded), 0, 0, 0, 0, 0, offset) + encoded
    return out + central + struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(out), 0)


def npy_header(shape: tuple, descr: str = "|u1") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def sample_npz(sample: dict, **replace: bytes) -> bytes:
    """SAMPLE as a zip of .npy files, with the members named in REPLACE (raw .npy bytes, or deflated tuples) swapped in."""
    members = {}
    for key in IDX_FILES:
        member = replace.get(key, npy(sample[key]))
        members[f"{key}.npy"] = member if isinstance(member, tuple) else deflated(member)
    return zip_file(members)


# dl-train with its address space capped by argv[1], so that a test that fails cannot take the machine's
# memory; at exit it writes its peak RSS (VmHWM: this program's own, which getrusage is not, as its
# maximum carries over from the forked test process across exec) to argv[2].
LIMITED = """
import atexit, resource, runpy, sys
memory, report = int(sys.argv.pop(1)), sys.argv.pop(1)
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

def peak():
    status = open("/proc/self/status").read()
    open(report, "w").write(status.split("VmHWM:")[1].split()[0])

atexit.register(peak)
runpy.run_module("trainer.cli", run_name="__main__", alter_sys=True)
"""


def limited_run(tmp_path: Path, *args: str, memory: int = 1 << 30) -> tuple[int, str, int]:
    """dl-train ARGS with its address space capped at MEMORY; exit code, stderr and peak RSS in bytes."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    report = tmp_path / "peak-kb"
    proc = subprocess.run([sys.executable, "-c", LIMITED, str(memory), str(report), *args],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    peak = int(report.read_text()) * 1024 if report.exists() else -1
    return proc.returncode, proc.stderr, peak


@pytest.mark.parametrize("hostile", ["gzip-idx-longer-than-its-header", "npz-declaring-1.6-GB"])
def test_archives_that_would_expand_to_gigabytes_are_refused_in_little_memory(tmp_path, sample, hostile):
    """A gzip IDX whose 2 MB expand to 2 GB past what its header declares, and an npz whose x_train
    honestly declares 1.6 GB (2 MB on disk): each is one line and exit 2, and dl-train never holds it."""
    if hostile.startswith("gzip"):
        data = write_idx_folder(tmp_path / "mnist", sample, gzipped=True)
        header = idx_bytes(sample["x_train"][:10])
        (data / "train-images-idx3-ubyte.gz").write_bytes(gzip_file(header, zero_blocks=128))
        message = "train-images-idx3-ubyte.gz: holds more data than its header declares (10×28×28 bytes)"
    else:
        data = tmp_path / "bomb.npz"
        images = 98 * BLOCK // 784
        data.write_bytes(sample_npz(sample, x_train=deflated(npy_header((images, 28, 28)), zero_blocks=98)))
        message = f"bomb.npz: x_train declares {images}×28×28 values of uint8 (1.5 GiB); dl-train reads at most 1 GiB of data"
    assert data.stat().st_size < 4 << 20
    out = tmp_path / "out"
    code, err, peak = limited_run(tmp_path, "cnn", "--data", str(data), "--out", str(out), "--progress", "none")
    assert code == 2 and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and lines[0].endswith(message), err
    assert 0 < peak < 200 << 20, f"peak RSS {peak >> 20} MB"
    assert not out.exists()


def idx_header(ndim: int, dims: tuple, code: int = 0x08) -> bytes:
    return struct.pack(">BBBB", 0, 0, code, ndim) + struct.pack(f">{len(dims)}I", *dims)


@pytest.mark.parametrize(
    "stem, content, message",
    [
        ("train-images-idx3-ubyte", idx_header(3, (1 << 31, 1 << 31, 4)),
         "declares 2147483648×2147483648×4 values (16.0 EiB); dl-train reads at most 1 GiB of data"),
        ("train-images-idx3-ubyte", idx_header(3, (4294967295, 28, 28)),
         "declares 4294967295×28×28 values (3.1 TiB); dl-train reads at most 1 GiB of data"),
        ("train-images-idx3-ubyte", idx_header(2, (400, 784)) + bytes(400 * 784),
         "an IDX file of 2 dimensions (400×784); MNIST images are 3-d, N×28×28"),
        ("train-labels-idx1-ubyte", idx_header(0, ()) + b"\x01",
         "an IDX file of 0 dimensions (a single value); MNIST labels are 1-d, one per image"),
        ("train-labels-idx1-ubyte", idx_header(2, (400, 1)) + bytes(400),
         "an IDX file of 2 dimensions (400×1); MNIST labels are 1-d, one per image"),
        ("train-images-idx3-ubyte", idx_header(3, (400, 28, 28), code=0x0D) + bytes(4 * 400 * 784),
         "IDX data type 0x0d (32-bit floats); MNIST's IDX files hold unsigned bytes (0x08)"),
        ("train-images-idx3-ubyte", idx_header(3, (400, 32, 32)) + bytes(400 * 32 * 32),
         "images of 32×32 pixels; MNIST's are 28×28"),
    ],
    ids=["overflowing-dims", "4-billion-images", "images-2d", "labels-0d", "labels-2d", "float-dtype", "32x32"],
)
def test_hostile_idx_headers_are_one_line_exit_2(tmp_path, sample, stem, content, message):
    data = write_idx_folder(tmp_path / "mnist", sample, gzipped=False)
    (data / stem).write_bytes(content)
    out = tmp_path / "out"
    proc = run_cli("cnn", "--data", str(data), "--out", str(out), "--progress", "none")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip() == f"error: {data / stem}: {message}"
    assert not out.exists()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda s: sample_npz(s, x_train=npy(np.array([None, "x"], dtype=object))),
         "x_train holds Python objects, not numbers; dl-train loads only plain numeric arrays"),
        (lambda s: pickle.dumps(s), "a Python pickle, not an .npz; save the four arrays with numpy.savez"),
        (lambda s: npy(s["x_train"]), "a single .npy array, not an .npz; save the four arrays with numpy.savez"),
        (lambda s: sample_npz(s, y_train=npy(np.array(["1"] * 400))),
         "y_train holds <U1 values, not numbers; dl-train loads only plain numeric arrays"),
        (lambda s: sample_npz(s, x_test=npy_header((1000, 28, 28)) + bytes(100)),
         "x_test.npy is truncated or corrupt: its header declares 784000 bytes of data, the archive holds 100"),
        (lambda s: zip_file({f"a{i}.npy": deflated(b"") for i in range(100)}),
         "a zip of 100 files; a Keras-style mnist.npz holds 4 arrays"),
        (lambda s: sample_npz(s, y_test=(*deflated(npy(s["y_test"]))[:1], 0, len(npy(s["y_test"])))),
         "cannot read as .npz (Bad CRC-32 for file 'y_test.npy')"),
    ],
    ids=["object-array", "pickle", "npy", "strings", "truncated-member", "100-members", "bad-crc"],
)
def test_wrong_npz_says_what_is_wrong_and_never_suggests_allow_pickle(tmp_path, sample, make, message):
    path = tmp_path / "data.npz"
    path.write_bytes(make(sample))
    with pytest.raises(DataError) as caught:
        load_mnist(path)
    assert str(caught.value) == f"{path}: {message}"
    assert "pickle=" not in str(caught.value) and "allow_pickle" not in str(caught.value)


def test_npz_written_by_numpy_with_compression_loads(tmp_path, sample):
    np.savez_compressed(tmp_path / "small.npz", **sample)
    split = load_mnist(tmp_path / "small.npz")
    assert np.array_equal(split.x_train, sample["x_train"]) and np.array_equal(split.y_test, sample["y_test"])


def test_counts_in_messages_are_singular_for_one(tmp_path, sample):
    np.savez(tmp_path / "one.npz", **{**sample, "y_test": sample["y_test"][:1]})
    with pytest.raises(DataError, match=r"y_test has 1 label for 200 images$"):
        load_mnist(tmp_path / "one.npz")
    np.savez(tmp_path / "one.npz", **{**sample, "x_test": sample["x_test"][:1]})
    with pytest.raises(DataError, match=r"y_test has 200 labels for 1 image$"):
        load_mnist(tmp_path / "one.npz")
