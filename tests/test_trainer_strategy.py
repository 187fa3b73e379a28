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


def test_mirrored_run_interrupted_resumes_on_two_replicas(tmp_path):
    """Ctrl-C in epoch 2 of a mirrored run (exit 130, one line): the same command resumes after
    epoch 1, still on two replicas, and ends with every epoch's history once."""
    argv = iris(tmp_path, "--strategy", "mirrored", "--epochs", "4")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    for line in proc.stdout:
        if json.loads(line)["event"] == "epoch_end":  # epoch 1 is saved; epoch 2 runs
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert json.loads(out.splitlines()[-1])["message"].startswith("interrupted; run the same command again")

    code, events, err = run(argv)
    assert code == 0, err
    first = only(events, "epoch_start")[0]["epoch"]
    assert first >= 2 and f"resuming iris after epoch {first - 1}" in err
    assert only(events, "start")[0]["config"]["replicas"] == 2
    meta = ort.InferenceSession(str(tmp_path / "iris.onnx")).get_modelmeta().custom_metadata_map
    assert [h["epoch"] for h in json.loads(meta["history"])] == [1, 2, 3, 4]
    assert not (tmp_path / ".checkpoints").exists()


# In one child, as the logical devices are fixed once TensorFlow has started (and one start is 5 s):
# 1. the arithmetic: from the same weights, an epoch (75 steps) of the same batches in the same order (no
#    shuffle) on one device at 32 and on two replicas at 16 gives the same weights;
# 2. a checkpoint written by a mirrored model and read into a fresh one: every replica's copy of every
#    variable (weights and the optimizer's moments and step) holds the saved value, or the replicas
#    would train apart from then on;
# 3. `auto` without two GPUs is one device;
# 4. dl-train iris as the CLI runs it, on one device at 32 and on two replicas at 16 each.
IN_ONE_CHILD = """
import json, sys
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
    m.fit(tf.data.Dataset.from_tensor_slices((iris.x_train, iris.y_train)).repeat(20).batch(where.global_batch), verbose=0)
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

from trainer.progress import Reporter
from trainer.training import Settings, train_iris
class Events(Reporter):
    def __init__(self):
        super().__init__()
        self.events, self.lines = [], []
    def handle(self, event):
        self.events.append(event)
    def info(self, text):
        self.lines.append(text)
runs = {}
for name, batch in (("default", 32), ("mirrored", 16)):
    reporter = Events()
    train_iris(Settings(epochs=10, batch_size=batch, out=Path(sys.argv[1]).parent / name, seed=42, restart=False, strategy=name), reporter)
    runs[name] = {"events": [e for e in reporter.events if e["event"] != "batch"], "lines": reporter.lines}
print(json.dumps(runs))
"""


@pytest.fixture(scope="module")
def child(tmp_path_factory) -> tuple[list[str], dict, Path]:
    """The child's checks 1-3 (lines) and the two iris runs of 4 (events and info lines, by strategy)."""
    folder = tmp_path_factory.mktemp("child")
    proc = subprocess.run([sys.executable, "-c", IN_ONE_CHILD, str(folder / "ck")],
                          capture_output=True, text=True, timeout=240, env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    *lines, runs = proc.stdout.splitlines()
    return lines, json.loads(runs), folder


def test_replicas_compute_one_device_steps_and_restore_every_copy(child):
    lines, _, _ = child
    assert lines == ["same weights", f"{lines[1].split()[0]} variables on 2 replicas", "auto: default 1 32 mirrored: 2 32"]


def test_two_replicas_train_a_model_as_good_as_one_device(child):
    """Iris, the notebook's 10 epochs and global batch of 32: one device taking 32 a step, then two
    replicas taking 16 each (--batch-size is per replica): the same steps from the same start. The
    data order is another seeded permutation (tf.data reseeds a reshuffling shuffle when the strategy
    copies the pipeline), so the runs are close, not equal; the arithmetic is checked above."""
    _, runs, folder = child
    single, mirrored = runs["default"]["events"], runs["mirrored"]["events"]
    assert runs["mirrored"]["lines"][0] == "mirrored strategy on /device:CPU:0, /device:CPU:1: 2 x 16 = 32 examples a step"
    config = only(mirrored, "start")[0]["config"]
    assert (config["strategy"], config["replicas"], config["batch_size"], config["global_batch_size"]) == ("mirrored", 2, 16, 32)
    assert only(single, "start")[0]["config"]["strategy"] == "default"
    assert only(mirrored, "start")[0]["steps"] == only(single, "start")[0]["steps"] == 75

    accuracy = [only(events, "done")[0]["metrics"]["test_accuracy"] for events in (single, mirrored)]
    assert abs(accuracy[0] - accuracy[1]) <= 0.003  # within 0.3 accuracy points
    losses = [only(events, "epoch_end")[-1]["val_metrics"]["loss"] for events in (single, mirrored)]
    assert losses[0] == pytest.approx(losses[1], abs=0.01)
    meta = ort.InferenceSession(str(folder / "mirrored" / "iris.onnx")).get_modelmeta().custom_metadata_map
    assert json.loads(meta["config"])["replicas"] == 2



def free_ports(n: int) -> list[int]:
    import socket

    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_train_in_step_and_worker_0_writes_the_model(tmp_path):
    """--strategy multi-worker: two processes on 127.0.0.1 joined by TF_CONFIG, one CPU replica each,
    each with its own --out. Keras's fit cannot run there, so trainer.fitting drives the model's own
    train_step; both workers see the same losses and metrics, and only worker 0 exports."""
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    procs = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = {**ENV, "TF_CONFIG": json.dumps(config)}
        env.pop("DL_TRAIN_CPU_DEVICES")
        argv = iris(tmp_path / f"worker{index}", "--strategy", "multi-worker", "--epochs", "2")
        procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err[-3000:]
        results.append([json.loads(line) for line in out.splitlines()])
    chief, other = results

    config = only(chief, "start")[0]["config"]
    assert (config["strategy"], config["replicas"], config["global_batch_size"]) == ("multi-worker", 2, 64)
    assert only(chief, "start")[0]["steps"] == 38  # 2400 examples, 64 a step across the two workers
    assert only(chief, "epoch_end") and [{k: e[k] for k in ("loss", "metrics", "val_metrics")} for e in only(chief, "epoch_end")] == \
        [{k: e[k] for k in ("loss", "metrics", "val_metrics")} for e in only(other, "epoch_end")]
    assert only(chief, "done")[0]["metrics"] == only(other, "done")[0]["metrics"]
    assert [e["model"] for e in only(chief, "export")] == ["iris"] and not only(other, "export")
    assert not (tmp_path / "worker1").exists()  # writes nothing: the --out it made is removed again
    meta = ort.InferenceSession(str(tmp_path / "worker0" / "iris.onnx")).get_modelmeta().custom_metadata_map
    assert json.loads(meta["config"])["strategy"] == "multi-worker"


def test_multi_worker_without_tf_config_is_one_line(tmp_path):
    env = {k: v for k, v in ENV.items() if k != "TF_CONFIG"}
    proc = subprocess.run(iris(tmp_path, "--strategy", "multi-worker"), capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == ("error: --strategy multi-worker needs TF_CONFIG (the cluster's workers and "
                                                    "this one's index) on every worker")
