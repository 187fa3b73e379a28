"""Where training runs: one device, or several through `tf.distribute.MirroredStrategy`.

No TensorFlow at import time (the CLI imports `StrategyMode`); the functions import it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from enum import Enum

# Testing aid, read before TensorFlow starts: split the CPU into N logical devices, so mirrored
# training (meant for several GPUs) can run and be tested on a machine without any.
CPU_DEVICES_ENV = "DL_TRAIN_CPU_DEVICES"


class StrategyMode(str, Enum):
    auto = "auto"  # mirrored over every GPU when there are two or more, else default
    default = "default"  # one device: TensorFlow's default placement
    mirrored = "mirrored"  # one replica per GPU (or per logical CPU when there is no GPU)


@dataclass(frozen=True)
class Distribution:
    """The strategy a model is built and trained under, and its batch arithmetic."""

    strategy: object  # a tf.distribute.Strategy
    name: str  # "default" or "mirrored"
    devices: tuple[str, ...]
    batch_size: int  # per replica, as --batch-size asks

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
        return f"{self.name} strategy on {', '.join(self.devices)}: {self.replicas} x {self.batch_size} = {self.global_batch} examples a step"


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
    devices = gpus or [d.name for d in tf.config.list_logical_devices("CPU")]
    return Distribution(_mirrored(tuple(devices)), "mirrored", tuple(devices), batch_size)


@cache
def _mirrored(devices: tuple[str, ...]):
    """One MirroredStrategy per process: a second one reuses the first's collective keys, and its
    all-reduces then meet the first model's ("Shape mismatch in the collective instance")."""
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(list(devices))
