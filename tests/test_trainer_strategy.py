"""dl-train --strategy mirrored on a machine without GPUs: the CPU split into two logical devices
(DL_TRAIN_CPU_DEVICES=2, applied before TensorFlow starts), so MirroredStrategy runs two replicas
with the same collectives it uses across GPUs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("sklearn")

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "DL_TRAIN_CPU_DEVICES": "2"}


def iris(out: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "trainer.cli", "iris", "--out", str(out), "--progress", "jsonl", *args]


def run(argv: list[str]) -> tuple[int, list[dict], str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=180, env=ENV)
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()], proc.stderr


def only(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["event"] == kind]


def test_two_replicas_train_a_model_as_good_as_one_device(tmp_path):
    """Iris, the notebook's 10 epochs and global batch of 32: one device taking 32 a step, then two
    replicas taking 16 each (--batch-size is per replica): the same steps from the same start. The
    data order is another seeded permutation (tf.data reseeds a reshuffling shuffle when the strategy
    copies the pipeline), so the runs are close, not equal; the exact arithmetic is checked below."""
    code, single, err = run(iris(tmp_path / "single", "--strategy", "default"))
    assert code == 0, err
    code, mirrored, err = run(iris(tmp_path / "mirrored", "--strategy", "mirrored", "--batch-size", "16"))
    assert code == 0, err
    assert "mirrored strategy on /device:CPU:0, /device:CPU:1: 2 x 16 = 32 examples a step" in err

    config = only(mirrored, "start")[0]["config"]
    assert (config["strategy"], config["replicas"], config["batch_size"], config["global_batch_size"]) == ("mirrored", 2, 16, 32)
    assert only(single, "start")[0]["config"]["strategy"] == "default"
    assert only(mirrored, "start")[0]["steps"] == only(single, "start")[0]["steps"] == 75

    accuracy = [only(events, "done")[0]["metrics"]["test_accuracy"] for events in (single, mirrored)]
    assert abs(accuracy[0] - accuracy[1]) <= 0.003  # within 0.3 accuracy points
    losses = [only(events, "epoch_end")[-1]["val_metrics"]["loss"] for events in (single, mirrored)]
    assert losses[0] == pytest.approx(losses[1], abs=0.01)
    meta = ort.InferenceSession(str(tmp_path / "mirrored" / "iris.onnx")).get_modelmeta().custom_metadata_map
    assert json.loads(meta["config"])["replicas"] == 2


def test_mirrored_run_interrupted_then_killed_resumes_each_time(tmp_path):
    """Ctrl-C in epoch 2 (exit 130), SIGKILL in the epoch after the resumed run's first: each time the
    same command resumes after the last finished epoch, still on two replicas, and ends with every
    epoch's history once."""
    argv = iris(tmp_path, "--strategy", "mirrored", "--epochs", "5")

    def stop_after_an_epoch(sig: int) -> tuple[int, str]:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
        for line in proc.stdout:
            if json.loads(line)["event"] == "epoch_end":  # the checkpoint is written; the next epoch runs
                proc.send_signal(sig)
                break
        out, err = proc.communicate(timeout=60)
        return proc.returncode, out + err

    code, output = stop_after_an_epoch(signal.SIGINT)
    assert code == 130, output
    assert "interrupted; run the same command again" in output
    code, output = stop_after_an_epoch(signal.SIGKILL)
    assert code == -signal.SIGKILL, output
    assert "resuming iris after epoch" in output

    code, events, err = run(argv)
    assert code == 0, err
    first = only(events, "epoch_start")[0]["epoch"]
    assert first >= 3 and f"resuming iris after epoch {first - 1}" in err
    assert only(events, "start")[0]["config"]["replicas"] == 2
    meta = ort.InferenceSession(str(tmp_path / "iris.onnx")).get_modelmeta().custom_metadata_map
    assert [h["epoch"] for h in json.loads(meta["history"])] == list(range(1, 6))
    assert not (tmp_path / ".checkpoints").exists()


# In one child, as the logical devices are fixed once TensorFlow has started:
# 1. the arithmetic: from the same weights, an epoch of the same batches in the same order (no
#    shuffle) on one device at 32 and on two replicas at 16 gives the same weights;
# 2. a checkpoint written by a mirrored model and read into a fresh one: every replica's copy of every
#    variable (weights and the optimizer's moments and step) holds the saved value, or the replicas
#    would train apart from then on;
# 3. `auto` without two GPUs is one device.
IN_ONE_CHILD = """
import sys
from pathlib import Path
import numpy as np
from trainer import checkpoints, strategy
from trainer.progress import NullReporter
strategy.split_cpu()
import keras
import tensorflow as tf
from trainer.data import load_iris_split
from trainer.models import build_cnn, build_iris
dist = strategy.distribution("mirrored", 16)

def model(build, where):
    with where.scope():
        keras.utils.set_random_seed(0)
        m = build()
        m.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    return m

iris = load_iris_split()
weights = []
for where in (strategy.distribution("default", 32), dist):
    m = model(build_iris, where)
    m.fit(tf.data.Dataset.from_tensor_slices((iris.x_train, iris.y_train)).repeat(4).batch(where.global_batch), verbose=0)
    weights.append(m.get_weights())
assert not np.allclose(weights[0][0], model(build_iris, dist).get_weights()[0])  # it trained
for one, two in zip(*weights):
    np.testing.assert_allclose(one, two, atol=1e-5)
print("same weights")

trained = model(build_cnn, dist)
x, y = np.random.default_rng(0).random((32, 28, 28, 1), np.float32), np.arange(32) % 10
trained.fit(x, y, batch_size=16, epochs=1, verbose=0)
checkpoints.save(trained, Path(sys.argv[1]), [{"epoch": 1}])
fresh = model(build_cnn, dist)
assert not np.array_equal(fresh.weights[0].numpy(), trained.weights[0].numpy())  # the start, not the trained
with dist.scope():  # as trainer.fitting.fit restores
    history = checkpoints.restore(fresh, Path(sys.argv[1]), "cnn", NullReporter())
assert history == [{"epoch": 1}], history
pairs = list(zip(checkpoints._variables(trained), checkpoints._variables(fresh)))
for saved, restored in pairs:
    copies = dist.strategy.experimental_local_results(restored.value)
    assert len(copies) == 2, restored.path
    for copy in copies:
        np.testing.assert_array_equal(np.asarray(copy), saved.numpy(), err_msg=restored.path)
print(len(pairs), "variables on 2 replicas")
auto = strategy.distribution("auto", 32)
print("auto:", auto.name, auto.replicas, auto.global_batch, "mirrored:", dist.replicas, dist.global_batch)
"""


def test_replicas_compute_one_device_steps_and_restore_every_copy(tmp_path):
    proc = subprocess.run([sys.executable, "-c", IN_ONE_CHILD, str(tmp_path / "ck")],
                          capture_output=True, text=True, timeout=120, env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines() == ["same weights", f"{proc.stdout.split()[2]} variables on 2 replicas", "auto: default 1 32 mirrored: 2 32"]

