"""Keras fit with resumable checkpoints and progress events (under MultiWorkerMirroredStrategy, our
own loop over the model's train_step, as Keras's fit cannot run there); fast tf.data pipelines.

Imports TensorFlow: import it only inside command bodies.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from trainer import checkpoints
from trainer.progress import Reporter
from trainer.strategy import StrategyError

EVAL_BATCH = 1000  # evaluation batch size: any size gives the same numbers, larger is faster


def index_batches(arrays: tuple[np.ndarray, ...], batch_size: int, seed: int | None, shuffle: bool = True) -> tf.data.Dataset:
    """Batches of in-memory arrays: shuffle indices, then gather whole batches.

    Shuffling indices instead of examples and gathering a batch at a time keeps the
    per-example work out of the pipeline; data are already normalised, once, in NumPy.
    """
    tensors = tuple(tf.constant(a) for a in arrays)
    n = len(arrays[0])
    index = tf.data.Dataset.range(n)
    if shuffle:
        index = index.shuffle(n, seed=seed, reshuffle_each_iteration=True)

    def gather(i):
        parts = tuple(tf.gather(t, i) for t in tensors)
        return parts if len(parts) > 1 else parts[0]

    return index.batch(batch_size).map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


class ProgressCallback(keras.callbacks.Callback):
    """Turns Keras's callbacks into progress events, and checkpoints each epoch with its history."""

    def __init__(self, reporter: Reporter, name: str, epochs: int, steps: int, history: list, folder: Path, negate_loss_of: str | None):
        super().__init__()
        self.reporter, self.name, self.epochs, self.steps = reporter, name, epochs, steps
        self.history, self.folder = history, folder
        self.negate_loss_of = negate_loss_of  # the VAE reports its ELBO; its loss is the negative ELBO
        self._started = 0.0
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1
        self._started = time.monotonic()
        self.reporter.emit("epoch_start", model=self.name, epoch=self._epoch, epochs=self.epochs)

    def on_train_batch_end(self, batch, logs=None):
        loss, metrics = self._split(logs or {})
        self.reporter.emit("batch", model=self.name, epoch=self._epoch, step=batch + 1, steps=self.steps, loss=loss, metrics=metrics)

    def on_epoch_end(self, epoch, logs=None):
        logs = {k: float(v) for k, v in (logs or {}).items()}
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        loss, metrics = self._split(train)
        seconds = round(time.monotonic() - self._started, 2)
        entry = {"epoch": self._epoch, "loss": loss, **metrics, **{f"val_{k}": v for k, v in val.items()}, "seconds": seconds}
        self.history.append(entry)
        checkpoints.save(self.model, self.folder, self.history)  # before epoch_end: a reported epoch is a saved one
        self.reporter.emit(
            "epoch_end", model=self.name, epoch=self._epoch, epochs=self.epochs,
            loss=loss, metrics=metrics, val_metrics=val, seconds=seconds,
        )

    def _split(self, logs: dict) -> tuple[float | None, dict]:
        logs = {k: float(v) for k, v in logs.items()}
        if self.negate_loss_of:
            return -logs.get(self.negate_loss_of, float("nan")), logs
        loss = logs.pop("loss", None)
        return loss, logs


def fit(
    model: keras.Model,
    *,
    name: str,
    train: tf.data.Dataset,
    validation: tf.data.Dataset,
    steps: int,
    epochs: int,
    out: Path,
    restart: bool,
    reporter: Reporter,
    negate_loss_of: str | None = None,
) -> list[dict]:
    """Train with checkpoints in `out/.checkpoints/NAME`: a killed run resumes at its last saved epoch."""
    folder = checkpoints.checkpoint_dir(out, name)
    if restart:
        shutil.rmtree(folder, ignore_errors=True)
    # Under the model's own strategy: the optimizer's variables a restore builds are mirrored like the
    # model's, and assigning a checkpoint sets every replica's copy.
    with model.distribute_strategy.scope():
        history = checkpoints.restore(model, folder, name, reporter)
        if _multi_worker(model):
            history = _agree(model, history, folder, name, reporter)
        if history:
            reporter.info(f"resuming {name} after epoch {len(history)} (use --restart to start over)")
        callback = ProgressCallback(reporter, name, epochs, steps, history, folder, negate_loss_of)
        if _multi_worker(model):
            _fit_by_steps(model, train, validation, epochs, len(history), callback)
        else:
            model.fit(train, validation_data=validation, epochs=epochs, initial_epoch=len(history), verbose=0,
                      callbacks=[callback], shuffle=False)
    return history[:epochs]


def evaluate(model: keras.Model, data: tf.data.Dataset) -> dict[str, float]:
    """MODEL's metrics on DATA, as `model.evaluate(..., return_dict=True)` gives them."""
    if not _multi_worker(model):
        return model.evaluate(data, verbose=0, return_dict=True)
    with model.distribute_strategy.scope():
        return _run_steps(model, _on_replicas(model, model.test_step), data)


# Keras 3's fit and evaluate fail under MultiWorkerMirroredStrategy (keras-team/keras#20585; with
# Keras 3.15 and TensorFlow 2.21: PerReplica batches reduced eagerly before the first step, then a
# scalar reduced along axis 0 in every step). The model's own train_step and test_step work there;
# this loop drives them as fit would. Every worker runs it in step, so every collective (and every
# read of a metric, which is one) happens on all workers in the same order.


def _multi_worker(model: keras.Model) -> bool:
    return isinstance(model.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy)


def _fit_by_steps(model, train, validation, epochs: int, initial_epoch: int, callback: ProgressCallback) -> None:
    train_step, test_step = _on_replicas(model, model.train_step), _on_replicas(model, model.test_step)
    callback.set_model(model)
    for epoch in range(initial_epoch, epochs):
        callback.on_epoch_begin(epoch)
        logs = _run_steps(model, train_step, train, callback.on_train_batch_end)
        val = _run_steps(model, test_step, validation)
        callback.on_epoch_end(epoch, {**logs, **{f"val_{k}": v for k, v in val.items()}})


def _on_replicas(model, step_function):
    """STEP_FUNCTION on a distributed batch on every replica, traced once; returns the replicas' mean
    metrics, reduced in the graph (reading metric variables eagerly is a collective each)."""
    strategy = model.distribute_strategy

    @tf.function
    def step(batch):
        logs = strategy.run(step_function, args=(batch,))
        return {name: strategy.reduce("MEAN", value, axis=None) for name, value in logs.items()}

    return step


def _run_steps(model, step, data: tf.data.Dataset, after_step=None) -> dict[str, float]:
    """One pass of STEP over DATA; the metrics at the end (and after each step, to AFTER_STEP)."""
    model.reset_metrics()
    for i, batch in enumerate(model.distribute_strategy.experimental_distribute_dataset(data)):
        logs = step(batch)
        if after_step:
            after_step(i, logs)
    return {k: float(v) for k, v in model.get_metrics_result().items()}  # over all of DATA, every worker


def _agree(model, history: list, folder: Path, name: str, reporter: Reporter) -> list:
    """Resume every worker after the same epoch: one killed between the others' checkpoints is an
    epoch behind them, and they step back to it (each keeps the checkpoint before its newest)."""
    first = _epochs_on_workers(model, len(history))
    if min(first) == max(first):
        return history
    if min(first) > 0:
        history = checkpoints.restore(model, folder, name, reporter, upto=min(first))
    then = _epochs_on_workers(model, len(history))
    # Every worker sees the same numbers, so all of them go on, or all stop here.
    if min(first) == 0 or min(then) != max(then):
        raise StrategyError(f"the workers' checkpoints of {name} are after different epochs ({first}); run again with --restart")
    return history


def _epochs_on_workers(model, epochs: int) -> list[int]:
    """EPOCHS from each replica of every worker."""
    return [int(n) for n in model.distribute_strategy.gather(tf.constant([epochs]), axis=0).numpy()]
