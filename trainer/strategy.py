"""Where training runs: one device, several on this machine (`tf.distribute.MirroredStrategy`), or
several machines (`tf.distribute.MultiWorkerMirroredStrategy`, each worker started with TF_CONFIG).

No TensorFlow at import time (the CLI imports `StrategyMode`); the functions import it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from dataclasses import dataclass
from enum import Enum
from functools import cache

from trainer.data import plural

# Testing aid, read before TensorFlow starts: split the CPU into N logical devices, so mirrored
# training (meant for several GPUs) can run and be tested on a machine without any.
CPU_DEVICES_ENV = "DL_TRAIN_CPU_DEVICES"


class StrategyMode(str, Enum):
    auto = "auto"  # mirrored over every GPU when there are two or more, else default
    default = "default"  # one device: TensorFlow's default placement
    mirrored = "mirrored"  # one replica per GPU (or per logical CPU when there is no GPU)
    multi_worker = "multi-worker"  # every worker of TF_CONFIG's cluster runs the same command


class StrategyError(Exception):
    """The strategy asked for cannot run here; the message is one line for the user."""


@dataclass(frozen=True)
class Distribution:
    """The strategy a model is built and trained under, and its batch arithmetic."""

    strategy: object  # a tf.distribute.Strategy
    name: str  # "default", "mirrored" or "multi-worker"
    devices: tuple[str, ...]
    batch_size: int  # per replica, as --batch-size asks
    chief: bool = True  # the worker that writes the ONNX files (the only one but with multi-worker)

    @property
    def replicas(self) -> int:
        return self.strategy.num_replicas_in_sync

    @property
    def global_batch(self) -> int:
        """Examples per training step: each replica takes --batch-size of them."""
        return self.batch_size * self.replicas

    def scope(self):
        return self.strategy.scope()

    def config(self) -> dict:
        """What goes into the exported model's training configuration."""
        return {"strategy": self.name, "replicas": self.replicas, "global_batch_size": self.global_batch}

    def describe(self) -> str:
        where = (f"{', '.join(self.devices)}" if self.name != "multi-worker"
                 else f"{plural(len(_cluster()[0]), 'worker')}, this one {_cluster()[1]}")
        return f"{self.name} strategy on {where}: {self.replicas} x {self.batch_size} = {self.global_batch} examples a step"


def split_cpu() -> None:
    """Apply DL_TRAIN_CPU_DEVICES (N logical CPU devices); must run before TensorFlow's first op."""
    value = os.environ.get(CPU_DEVICES_ENV)
    if not value:
        return
    import tensorflow as tf

    (cpu,) = tf.config.list_physical_devices("CPU")
    if tf.config.get_logical_device_configuration(cpu) is None:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * int(value))


def distribution(mode: str, batch_size: int) -> Distribution:
    """The strategy MODE names (auto resolved here), with BATCH_SIZE examples per replica."""
    import tensorflow as tf

    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    if mode == StrategyMode.auto:
        mode = StrategyMode.mirrored if len(gpus) > 1 else StrategyMode.default
    if mode == StrategyMode.default:
        device = gpus[0] if gpus else tf.config.list_logical_devices("CPU")[0].name
        return Distribution(tf.distribute.get_strategy(), "default", (device,), batch_size)
    if mode == StrategyMode.multi_worker:
        index = _cluster()[1]
        return Distribution(_multi_worker(), "multi-worker", (f"worker {index}",), batch_size, chief=index == 0)
    devices = gpus or [d.name for d in tf.config.list_logical_devices("CPU")]
    return Distribution(_mirrored(tuple(devices)), "mirrored", tuple(devices), batch_size)


def check(mode: str) -> None:
    """A StrategyError now, before TensorFlow is imported, where MODE cannot run."""
    if mode == StrategyMode.multi_worker:
        _cluster()


def prepare(mode: str) -> None:
    """Start what must start before TensorFlow runs anything: the logical CPU devices, and for
    multi-worker the strategy itself (it joins the cluster when it is made)."""
    split_cpu()
    if mode == StrategyMode.multi_worker:
        workers, index = _cluster()
        print(f"worker {index} of {len(workers)}: waiting until every worker in TF_CONFIG has started ({', '.join(workers)})",
              file=sys.stderr, flush=True)
        _join()


def _join() -> None:
    """Make the strategy, which waits in C++ until every worker is up. Python cannot act on Ctrl-C
    there, so until then Ctrl-C ends the process as it would any program (nothing is written yet).
    SIGTERM cannot: TensorFlow takes it then, as a preemption notice; ours is back once joined."""
    previous = signal.signal(signal.SIGINT, signal.SIG_DFL)
    handler = signal.getsignal(signal.SIGTERM)
    try:
        _multi_worker()
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, handler)


def _cluster() -> tuple[list[str], int]:
    """TF_CONFIG's workers and this one's index; a StrategyError where it does not say them."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise StrategyError("--strategy multi-worker needs TF_CONFIG (the cluster's workers and this one's index) on every worker")
    try:
        config = json.loads(raw)
        workers, task = config["cluster"]["worker"], config["task"]
        if task["type"] != "worker" or not 0 <= int(task["index"]) < len(workers):
            raise ValueError(f"task {task} is not among the cluster's {plural(len(workers), 'worker')}")
        return list(workers), int(task["index"])
    except (ValueError, KeyError, TypeError) as exc:
        raise StrategyError(f"TF_CONFIG cannot be used ({exc}); it needs cluster.worker and task.type 'worker' with its index") from None


@cache
def _multi_worker():
    _cluster()  # a missing or bad TF_CONFIG is a usage error, not a strategy for one worker
    import tensorflow as tf

    return tf.distribute.MultiWorkerMirroredStrategy()


@cache
def _mirrored(devices: tuple[str, ...]):
    """One MirroredStrategy per process: a second one reuses the first's collective keys, and its
    all-reduces then meet the first model's ("Shape mismatch in the collective instance")."""
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(list(devices))


def worker_lost(exc: BaseException) -> bool:
    """EXC is a collective aborted because another worker stopped (or cannot be reached)."""
    import sys

    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(exc, (tf.errors.UnavailableError, tf.errors.DeadlineExceededError))
