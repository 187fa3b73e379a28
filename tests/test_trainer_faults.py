"""dl-train under faults, each reproduced for real: SIGKILL mid-write, a full disk, a busy or unusable
--out, SIGTERM, bad seeds and bad pixels. A user sees one line (an `error` event), never a traceback,
and the previous model and the last whole checkpoint survive."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from trainer.cli import app
from trainer.data import IDX_FILES, DataError, load_mnist

pytest.importorskip("tensorflow")
ort = pytest.importorskip("onnxruntime")

SAMPLE = Path(__file__).parent / "data" / "mnist-sample.npz"
PREVIOUS = b"previous model"
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def iris(out: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "trainer.cli", "iris", "--out", str(out), "--progress", "jsonl", *args]


def run(argv: list[str]) -> tuple[int, list[dict], str]:
    """Run dl-train to the end; returns exit code, events and stderr."""
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=ENV, check=False)
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()], proc.stderr


def start(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def read_until(proc: subprocess.Popen, event: str, epoch: int | None = None) -> None:
    """Consume PROC's events up to the first EVENT (of EPOCH, when given)."""
    for line in proc.stdout:
        found = json.loads(line)
        if found["event"] == event and epoch in (None, found.get("epoch")):
            return
    raise AssertionError(f"dl-train ended before {event} (exit {proc.wait()}): {proc.stderr.read()[-2000:]}")


def finish(proc: subprocess.Popen) -> tuple[int, list[dict], str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, [json.loads(line) for line in out.splitlines()], err


# dl-train, stopping itself (SIGSTOP) just before it renames a finished temporary file onto argv[1]: a
# test's SIGKILL or full disk then lands at that very point, every time, where timing would be luck.
STOP_BEFORE_RENAME = """
import os, runpy, signal, sys
target, rename = sys.argv.pop(1), os.replace
def replace(src, dst):
    if os.fspath(dst).endswith(target):
        os.kill(os.getpid(), signal.SIGSTOP)
    rename(src, dst)
os.replace = replace
runpy.run_module("trainer.cli", run_name="__main__", alter_sys=True)
"""


def stopped_before_rename(argv: list[str], target: str) -> subprocess.Popen:
    """Start dl-train (ARGV after the module) and wait until it stops, TARGET written but not yet renamed."""
    proc = subprocess.Popen([sys.executable, "-c", STOP_BEFORE_RENAME, target, *argv[3:]],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    _, status = os.waitpid(proc.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), f"dl-train ended before writing {target}: {proc.stderr.read()[-2000:]}"
    return proc


def kill_while_writing(argv: list[str], target: str) -> str:
    """SIGKILL dl-train while it writes TARGET; returns its stderr."""
    proc = stopped_before_rename(argv, target)
    proc.kill()
    return proc.communicate(timeout=60)[1]


def one_error_line(code: int, events: list[dict], err: str, expected: str) -> str:
    """The run failed with an `error` event and one stderr line saying EXPECTED; returns the message."""
    assert code != 0, err
    assert events[-1]["event"] == "error" and expected in events[-1]["message"], events[-1:]
    assert "Traceback" not in err, err
    assert [line for line in err.splitlines() if line.startswith("error: ")] == [f"error: {events[-1]['message']}"], err
    return events[-1]["message"]


def history(onnx_path: Path) -> list[int]:
    meta = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
    return [h["epoch"] for h in json.loads(meta["history"])]


def no_temps(out: Path) -> bool:
    return not [p for p in out.rglob(".*") if p.name != ".checkpoints"]


# --- SIGKILL mid-write ---------------------------------------------------------------------------


def test_kill_while_writing_a_checkpoint_or_the_model_loses_nothing(tmp_path):
    """SIGKILL while epoch 3's checkpoint is written, with epoch 2's then lost as well (0 bytes, as the
    old writer left it): the next run says so in one line and resumes after epoch 1. SIGKILL that run
    while it writes iris.onnx: the old model stays, and the run after removes the temporary file."""
    (tmp_path / "iris.onnx").write_bytes(PREVIOUS)
    checkpoints = tmp_path / ".checkpoints" / "iris"
    argv = iris(tmp_path, "--epochs", "4")
    kill_while_writing(argv, "epoch-3.npz")
    assert list(checkpoints.glob(".epoch-3.npz.*.tmp")), "the temporary file the kill left"
    (checkpoints / "epoch-2.npz").write_bytes(b"")

    err = kill_while_writing(argv, "iris.onnx")
    assert list(tmp_path.glob(".iris.onnx.*.tmp"))
    assert f"checkpoint {checkpoints / 'epoch-2.npz'} cannot be read" in err
    assert "resuming iris after epoch 1" in err
    assert (tmp_path / "iris.onnx").read_bytes() == PREVIOUS

    code, _, err = run(argv)
    assert code == 0, err
    assert "resuming iris after epoch 4" in err
    assert history(tmp_path / "iris.onnx") == [1, 2, 3, 4]  # no gap: weights and history are one file
    assert no_temps(tmp_path) and not checkpoints.exists()


# --- a full disk, an unusable --out --------------------------------------------------------------


def mount_tmpfs(folder: Path, options: str) -> Path:
    folder.mkdir()
    try:
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        pytest.skip("no mount command to make a small tmpfs")
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): {proc.stderr.strip()}")
    return folder


@pytest.fixture
def small_disk(tmp_path):
    disk = mount_tmpfs(tmp_path / "disk", "size=2m")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.fixture
def read_only_disk(tmp_path):
    disk = mount_tmpfs(tmp_path / "ro", "ro,size=1m")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill_then_resume(disk: Path, proc: subprocess.Popen) -> Path:
    """Fill DISK to the last byte while PROC is stopped, then let it go on: its next write fails."""
    ballast = disk / "ballast"
    try:
        with open(ballast, "wb", buffering=0) as handle:
            while handle.write(b"\0" * 65536):
                pass
    except OSError:
        pass  # ENOSPC: full
    proc.send_signal(signal.SIGCONT)
    return ballast


def test_full_disk_in_training_and_at_export_is_one_line_and_resumes_once_freed(small_disk):
    out = small_disk / "exported"
    out.mkdir()
    (out / "iris.onnx").write_bytes(PREVIOUS)
    argv = iris(out, "--epochs", "2")

    proc = stopped_before_rename(argv, "epoch-1.npz")  # the disk fills now: epoch 2's checkpoint fails
    ballast = fill_then_resume(small_disk, proc)
    message = one_error_line(*finish(proc), "No space left on device")
    assert proc.returncode == 1 and "epoch-2.npz" in message
    assert (out / "iris.onnx").read_bytes() == PREVIOUS and no_temps(out)

    ballast.unlink()  # space is back; this time the disk fills once training is done
    proc = stopped_before_rename(argv, "epoch-2.npz")
    ballast = fill_then_resume(small_disk, proc)
    code, events, err = finish(proc)
    message = one_error_line(code, events, err, "No space left on device")
    assert code == 1 and "iris.onnx" in message and "resuming iris after epoch 1" in err
    assert (out / "iris.onnx").read_bytes() == PREVIOUS and no_temps(out)

    ballast.unlink()
    code, events, err = run(argv)
    assert code == 0, err
    assert "resuming iris after epoch 2" in err
    assert history(out / "iris.onnx") == [1, 2]


@pytest.mark.parametrize("where", ["under-a-file", "read-only"])
def test_unusable_out_is_one_line(tmp_path, where, request):
    if where == "under-a-file":
        (tmp_path / "file").write_text("not a folder")
        out, expected = tmp_path / "file" / "exported", "Not a directory"
    else:
        out, expected = request.getfixturevalue("read_only_disk"), "Read-only file system"
    code, events, err = run(iris(out, "--epochs", "1"))
    one_error_line(code, events, err, f"cannot use --out {out}: {expected}")
    assert code == 1 and len(events) == 1


def test_a_bad_tf_config_is_one_line_in_the_singular_and_leaves_no_out(tmp_path):
    """TF_CONFIG naming worker 3 of a cluster of 1 is refused before TensorFlow loads ("1 worker"), and
    the --out the run made is gone again."""
    config = json.dumps({"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 3}})
    out = tmp_path / "out"
    proc = subprocess.run([*iris(out, "--strategy", "multi-worker")], capture_output=True, text=True, timeout=120,
                          env={**ENV, "TF_CONFIG": config}, check=False)
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    message = one_error_line(proc.returncode, events, proc.stderr, "is not among the cluster's 1 worker)")
    assert proc.returncode == 2 and "1 workers" not in message
    assert not out.exists()


# --- two runs, SIGTERM ---------------------------------------------------------------------------


def test_second_run_into_the_same_out_is_refused_and_sigterm_is_an_error_event(tmp_path):
    (tmp_path / "iris.onnx").write_bytes(PREVIOUS)
    first = start(iris(tmp_path, "--epochs", "1000", "--seed", str(2**32 - 1)))
    read_until(first, "epoch_end", epoch=1)

    code, events, err = run(iris(tmp_path, "--epochs", "1"))
    one_error_line(code, events, err, f"another dl-train run (PID {first.pid}) is writing to {tmp_path}")

    first.send_signal(signal.SIGTERM)
    code, events, err = finish(first)
    assert code == 143
    assert one_error_line(code, events, err, "terminated").startswith("terminated; run the same command again")
    assert (tmp_path / "iris.onnx").read_bytes() == PREVIOUS
    assert no_temps(tmp_path)  # neither a temporary file nor the lock is left
    assert list((tmp_path / ".checkpoints" / "iris").glob("epoch-*.npz"))  # to resume from


# --- checkpoints that cannot be read -------------------------------------------------------------


class Lines:
    """A reporter that keeps its info lines."""

    def __init__(self):
        self.lines = []

    def info(self, text):
        self.lines.append(text)


def test_unreadable_checkpoints_fall_back_to_the_one_before_then_start_fresh(tmp_path):
    keras = pytest.importorskip("keras")
    from trainer import checkpoints

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    kernel = model.layers[0].kernel
    for epoch in (1, 2, 3):
        kernel.assign(np.full((2, 1), epoch, np.float32))
        checkpoints.save(model, tmp_path, [{"epoch": e} for e in range(1, epoch + 1)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-2.npz", "epoch-3.npz"]  # one file per epoch, two kept

    (tmp_path / "epoch-3.npz").write_bytes(b"")
    kernel.assign(np.zeros((2, 1), np.float32))
    reporter = Lines()
    assert checkpoints.restore(model, tmp_path, "tiny", reporter) == [{"epoch": 1}, {"epoch": 2}]
    assert float(kernel.numpy()[0, 0]) == 2.0
    assert len(reporter.lines) == 1 and reporter.lines[0].endswith("; trying epoch-2.npz")

    (tmp_path / "epoch-2.npz").write_bytes(b"PK\x03\x04 not a zip")
    assert checkpoints.restore(model, tmp_path, "tiny", reporter) == []
    assert reporter.lines[-1].endswith("; starting tiny from epoch 1")


def tiny_model():
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def test_only_exact_epoch_names_are_checkpoints(tmp_path):
    """epoch-3.old.npz (a user's copy), epoch-9.npz.bak and a folder named epoch-7.npz are not checkpoints:
    resume ignores them and the clean-up leaves them alone."""
    from trainer import checkpoints

    model = tiny_model()
    kernel = model.layers[0].kernel
    for epoch in (1, 2):
        kernel.assign(np.full((2, 1), epoch, np.float32))
        checkpoints.save(model, tmp_path, [{"epoch": e} for e in range(1, epoch + 1)])
    (tmp_path / "epoch-3.old.npz").write_bytes((tmp_path / "epoch-2.npz").read_bytes())
    (tmp_path / "epoch-9.npz.bak").write_bytes(b"")
    (tmp_path / "epoch-7.npz").mkdir()
    reporter = Lines()
    assert checkpoints.restore(model, tmp_path, "tiny", reporter) == [{"epoch": 1}, {"epoch": 2}]
    assert reporter.lines == [] and float(kernel.numpy()[0, 0]) == 2.0

    for epoch in (3, 4):
        checkpoints.save(model, tmp_path, [{"epoch": e} for e in range(1, epoch + 1)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-3.npz", "epoch-3.old.npz", "epoch-4.npz", "epoch-7.npz", "epoch-9.npz.bak"]

    # One epoch is "1 epoch".
    one = tmp_path / "one"
    checkpoints.save(model, one, [{"epoch": 1}])
    (one / "epoch-1.npz").rename(one / "epoch-2.npz")
    assert checkpoints.restore(model, one, "tiny", reporter) == []
    assert reporter.lines == [f"checkpoint {one / 'epoch-2.npz'} cannot be read (history has 1 epoch, expected 2); "
                              "starting tiny from epoch 1"]


@pytest.mark.parametrize("where, bad", [("weights", np.nan), ("weights", -np.inf), ("optimizer", np.inf)])
def test_a_checkpoint_with_nan_or_infinite_values_is_refused_naming_it_and_restart(tmp_path, where, bad):
    from trainer import checkpoints

    model = tiny_model()
    kernel = model.layers[0].kernel
    checkpoints.save(model, tmp_path, [{"epoch": 1}])
    variable = kernel if where == "weights" else model.optimizer.variables[-1]
    variable.assign(np.full(variable.shape, bad, np.float32))
    checkpoints.save(model, tmp_path, [{"epoch": 1}, {"epoch": 2}])
    kernel.assign(np.full((2, 1), 7, np.float32))
    with pytest.raises(checkpoints.CheckpointError) as caught:
        checkpoints.restore(model, tmp_path, "tiny", Lines())
    assert str(caught.value) == (f"checkpoint {tmp_path / 'epoch-2.npz'} holds NaN or infinite values (training diverged, "
                                 "or the file was changed); run the same command with --restart to start over")
    assert float(kernel.numpy()[0, 0]) == 7.0  # nothing of it was loaded


def test_resuming_from_a_nan_checkpoint_is_one_line_and_restart_starts_over(tmp_path):
    argv = iris(tmp_path, "--epochs", "2")
    kill_while_writing(argv, "epoch-2.npz")
    checkpoint = tmp_path / ".checkpoints" / "iris" / "epoch-1.npz"
    with np.load(checkpoint) as npz:
        arrays = {key: npz[key] for key in npz.files}
    arrays["v0000"] = np.full_like(arrays["v0000"], np.nan)
    np.savez(checkpoint, **arrays)

    code, events, err = run(argv)
    message = one_error_line(code, events, err, f"checkpoint {checkpoint} holds NaN or infinite values")
    assert code == 2 and message.endswith("run the same command with --restart to start over")
    assert not (tmp_path / "iris.onnx").exists() and checkpoint.exists()

    code, _, err = run([*argv, "--restart"])
    assert code == 0, err
    assert history(tmp_path / "iris.onnx") == [1, 2]


def test_an_hdf5_write_failure_is_one_line_and_leaves_nothing(tmp_path):
    """Keras's .h5 writer (vae.weights.h5) reports a full disk as HDF5 text naming the errno."""
    from trainer.outdir import OutputError, atomic_target

    hdf5 = "Unable to synchronously create file (file write failed: time = ...\n, errno = 28, error message = 'No space left on device')"
    with (pytest.raises(OutputError, match=r"^cannot write \S+vae.weights.h5: No space left on device; earlier files are kept"),
          atomic_target(tmp_path / "vae.weights.h5", suffix=".weights.h5")):
        raise OSError(hdf5)
    assert list(tmp_path.iterdir()) == []


# --- seeds and pixels ----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", ["-1", str(2**32)])
def test_seed_out_of_range_is_a_usage_error(seed):
    result = CliRunner().invoke(app, ["iris", "--seed", seed, "--progress", "none"])
    assert result.exit_code == 2
    assert "--seed" in result.output and "Traceback" not in result.output


@pytest.fixture
def sample() -> dict[str, np.ndarray]:
    with np.load(SAMPLE) as npz:
        return {k: npz[k] for k in IDX_FILES}


def test_float_pixels_in_0_1_are_scaled_not_zeroed(tmp_path, sample):
    floats = {**sample, "x_train": sample["x_train"] / np.float32(255), "x_test": sample["x_test"].astype(np.float64) / 255}
    np.savez(tmp_path / "floats.npz", **floats)
    split = load_mnist(tmp_path / "floats.npz")
    assert split.x_train.dtype == np.uint8
    np.testing.assert_array_equal(split.x_train, sample["x_train"])
    np.testing.assert_array_equal(split.x_test, sample["x_test"])


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda x: np.where(x > 200, np.nan, x / 255).astype(np.float32), "NaN or infinite pixels"),
        (lambda x: x.astype(np.float32), "float pixels from 0 to 255; expected floats in [0, 1]"),
        (lambda x: x.astype(np.int16) * 2, "pixels from 0 to 510"),
    ],
    ids=["nan", "float-0-255", "int-over-255"],
)
def test_bad_pixels_are_refused(tmp_path, sample, change, message):
    np.savez(tmp_path / "bad.npz", **{**sample, "x_test": change(sample["x_test"])})
    with pytest.raises(DataError, match=f"x_test has {message}".replace("[", r"\[").replace("]", r"\]")):
        load_mnist(tmp_path / "bad.npz")


def test_fractional_labels_are_refused(tmp_path, sample):
    np.savez(tmp_path / "bad.npz", **{**sample, "y_train": sample["y_train"] + 0.5})
    with pytest.raises(DataError, match="not whole numbers 0-9"):
        load_mnist(tmp_path / "bad.npz")


def test_nan_pixels_on_the_command_line_are_one_line_exit_2(tmp_path, sample):
    np.savez(tmp_path / "nan.npz", **{**sample, "x_train": np.full((400, 28, 28), np.nan, np.float32)})
    code, events, err = run([sys.executable, "-m", "trainer.cli", "cnn", "--data", str(tmp_path / "nan.npz"),
                             "--out", str(tmp_path / "out"), "--progress", "jsonl"])
    one_error_line(code, events, err, "x_train has NaN or infinite pixels")
    assert code == 2 and not (tmp_path / "out").exists()
