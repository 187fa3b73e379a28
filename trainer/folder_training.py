"""`dl-train folder`: train the folder CNN (trainer/folder_model.py) on decoded pictures in memory.

The fit runs from uint8 arrays (the decode cache), so an epoch costs only the model. Its
defaults, measured on small folders (bench/folder_vs_keras.py):

- at most MAX_EPOCHS epochs, stopped early when the validation score (balanced accuracy, ties
  broken by the lower validation loss) has not improved for PATIENCE epochs, never before
  MIN_EPOCHS; the best epoch's weights are the model. `--epochs N` runs N epochs, no early stop,
  and keeps the best epoch's weights too.
- Adam at LEARNING_RATE, halved whenever the validation loss has not improved for LR_PATIENCE
  epochs. Both decisions are replayed from the history, so a resumed run makes the same ones.
- `--balance auto`: each class weighs n / (classes x its count) in the loss when the largest
  class has at least IMBALANCE times the images of the smallest; else plain.
- `--augment auto`: small shifts and zooms (shift), never flips: a flip changes letters and
  digits, and nothing in a folder says whether its pictures allow one. `shift-flip` adds them.
  From AUGMENT_BELOW training pictures a class on average, auto is none: the pictures vary
  enough, and on Fashion-MNIST's 60,000 the moves slowed convergence more than they helped.
- Large sets (LARGE_SET training pictures and more) get a fixed budget instead of early
  stopping: round(IMAGE_BUDGET / pictures) epochs (7 on Fashion-MNIST's 54,000 after the
  validation cut), the learning rate on a cosine from LEARNING_RATE down to near 0 by the last
  epoch, the best validation epoch kept. Early stopping's patience would cost more epochs than the
  whole run (10 minutes on 2 cores for Fashion-MNIST's 60,000, issue 20).

Imports TensorFlow: import it only inside command bodies.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from trainer import checkpoints
from trainer.fitting import EVAL_BATCH, ProgressCallback
from trainer.folder_model import SHIFT, ZOOM, bn_momentum, build_folder_cnn
from trainer.outdir import write_atomic
from trainer.progress import Reporter
from tui import contract

MAX_EPOCHS = 100
MIN_EPOCHS = 12
PATIENCE = 10
LEARNING_RATE = 1e-3
LR_PATIENCE = 4
LR_FACTOR = 0.5
MIN_LEARNING_RATE = 1e-5
IMBALANCE = 1.5
IMPROVEMENT = 1e-4  # a validation loss must drop by more than this to count
BEST_FILE = "best.npz"
AUGMENT_BELOW = 2000  # training pictures a class (mean): from there, --augment auto is none
LARGE_SET = 20_000  # training pictures: from there, a fixed epoch budget on a cosine schedule
IMAGE_BUDGET = 380_000  # pictures seen in a large set's default run
MIN_BUDGET_EPOCHS = 3


@dataclass
class Arrays:
    """Decoded pictures (uint8 [N, H, W, C]) and their class indices, for one split."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class FitResult:
    model: keras.Model
    history: list[dict]
    best_epoch: int  # 1-based; the epoch whose weights the model has
    stopped_early: bool
    config: dict = field(default_factory=dict)


def balance_weights(y: np.ndarray, classes: int, balance: str) -> np.ndarray | None:
    """Per-class loss weights for --balance (auto, none, weights); None for plain."""
    counts = np.bincount(y, minlength=classes).astype(np.float64)
    present = counts[counts > 0]
    if balance == "none" or len(present) == 0:
        return None
    if balance == "auto" and present.max() < IMBALANCE * present.min():
        return None
    weights = np.where(counts > 0, len(y) / (classes * np.maximum(counts, 1)), 0.0)
    return weights.astype(np.float32)


def chosen_augment(augment: str, pictures: int = 0, classes: int = 1) -> str:
    """What --augment AUGMENT does for PICTURES training pictures in CLASSES classes: auto is shift
    (never flips), or none from AUGMENT_BELOW pictures a class."""
    if augment != "auto":
        return augment
    return "none" if pictures >= AUGMENT_BELOW * max(classes, 1) else "shift"


def budget_epochs(pictures: int) -> int | None:
    """The fixed number of epochs of a default run on PICTURES training pictures: None (early
    stopping) below LARGE_SET, else round(IMAGE_BUDGET / PICTURES), at least MIN_BUDGET_EPOCHS."""
    if pictures < LARGE_SET:
        return None
    return max(MIN_BUDGET_EPOCHS, round(IMAGE_BUDGET / pictures))


def learning_rate(history: list[dict], cosine_epochs: int | None = None) -> float:
    """The learning rate for the epoch after HISTORY: on a cosine over COSINE_EPOCHS epochs when
    given (epoch e of E: LEARNING_RATE x (1 + cos(pi e / E)) / 2, e from 0), else halved after
    each LR_PATIENCE epochs without a better validation loss."""
    if cosine_epochs:
        done = min(len(history), cosine_epochs - 1)
        return float(LEARNING_RATE * (1 + np.cos(np.pi * done / cosine_epochs)) / 2)
    rate, best, wait = LEARNING_RATE, np.inf, 0
    for entry in history:
        loss = entry.get("val_loss")
        if loss is not None and loss < best - IMPROVEMENT:
            best, wait = loss, 0
            continue
        wait += 1
        if wait >= LR_PATIENCE:
            rate, wait = max(rate * LR_FACTOR, MIN_LEARNING_RATE), 0
    return rate


def best_epoch(history: list[dict]) -> int:
    """The 1-based epoch with the best validation score (balanced accuracy, then the lower loss); 0 if none."""
    best, key = 0, None
    for i, entry in enumerate(history, 1):
        score = entry.get("val_balanced_accuracy")
        loss = entry.get("val_loss")
        if score is None or loss is None:
            continue
        candidate = (round(score, 6), -loss)
        if key is None or candidate > key:
            best, key = i, candidate
    return best


def should_stop(history: list[dict], epochs: int | None) -> bool:
    """Whether training is over after HISTORY: EPOCHS done, or (without EPOCHS) no better epoch for PATIENCE epochs past MIN_EPOCHS."""
    if epochs is not None:
        return len(history) >= epochs
    if len(history) >= MAX_EPOCHS:
        return True
    return len(history) >= MIN_EPOCHS and len(history) - best_epoch(history) >= PATIENCE


def predict(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """Probabilities for uint8 pictures X, a batch at a time."""
    if len(x) == 0:
        return np.zeros((0, model.output_shape[-1]), np.float32)
    return np.concatenate([np.asarray(model(to_float(x[i : i + EVAL_BATCH]), training=False))
                           for i in range(0, len(x), EVAL_BATCH)])


def to_float(x: np.ndarray) -> np.ndarray:
    """uint8 pictures as the model reads them: float32 in [0, 1] (as dl-tui feeds picture_array / 255)."""
    return x.astype(np.float32) / np.float32(255.0)


def scores(y: np.ndarray, probs: np.ndarray, classes: int) -> dict[str, float]:
    """Loss, accuracy and balanced accuracy (mean recall over the classes present) of PROBS against Y."""
    picked = probs[np.arange(len(y)), y]
    predicted = probs.argmax(axis=1)
    recalls = [float(np.mean(predicted[y == c] == c)) for c in range(classes) if np.any(y == c)]
    return {"loss": float(np.mean(-np.log(np.clip(picked, 1e-7, 1.0)))), "accuracy": float(np.mean(predicted == y)),
            "balanced_accuracy": float(np.mean(recalls))}


class _Monitor(keras.callbacks.Callback):
    """Validation scores into the epoch's logs, the learning rate from the history, the best
    weights kept in the checkpoint folder, and the stop: all before ProgressCallback saves."""

    def __init__(self, val: Arrays, classes: int, history: list, folder: Path, epochs: int | None,
                 cosine_epochs: int | None = None):
        super().__init__()
        self.val, self.classes, self.history, self.folder, self.epochs = val, classes, history, folder, epochs
        self.cosine_epochs = cosine_epochs

    def on_epoch_begin(self, epoch, logs=None):
        self.model.optimizer.learning_rate.assign(learning_rate(self.history, self.cosine_epochs))

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        logs.update({f"val_{k}": v for k, v in scores(self.val.y, predict(self.model, self.val.x), self.classes).items()})
        logs["learning_rate"] = float(self.model.optimizer.learning_rate.numpy())
        after = [*self.history, {k: float(v) for k, v in logs.items()}]
        if best_epoch(after) == len(after):
            save_weights(self.model, self.folder / BEST_FILE, len(after))
        if should_stop(after, self.epochs):
            self.model.stop_training = True


def save_weights(model: keras.Model, path: Path, epoch: int) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, epoch=np.array(epoch), **{f"w{i:04d}": np.asarray(w) for i, w in enumerate(model.get_weights())})
    write_atomic(path, buffer.getvalue())


def load_weights(model: keras.Model, path: Path) -> int:
    """Set MODEL's weights from a save_weights file; returns its epoch (0 if unreadable: the weights are left)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            weights = [npz[k] for k in sorted(k for k in npz.files if k.startswith("w"))]
            epoch = int(npz["epoch"])
        model.set_weights(weights)
    except Exception:  # noqa: BLE001 (missing, truncated, another model: the last epoch's weights stay)
        return 0
    return epoch


def moves(kind: str, seed: int):
    """The training-time moves of --augment KIND ("none", "shift" or "shift-flip") as one function
    on a float batch [N, H, W, C]; None for "none". Each picture gets one random affine: shifted by
    up to SHIFT of its side across and down and zoomed in or out by up to ZOOM (about its centre),
    the nearest edge pixel filling what comes in (as Keras's RandomTranslation then RandomZoom,
    fill_mode="nearest", did in two passes), and for shift-flip mirrored left-right half the time.
    One ImageProjectiveTransformV3 a batch: about 60% of the two layers' CPU (0.057 against 0.095 CPU s
    over 800 colour 32x32 pictures)."""
    if kind == "none":
        return None
    flip = kind == "shift-flip"
    generator = tf.random.Generator.from_seed(seed)

    def apply(pictures: tf.Tensor) -> tf.Tensor:
        n = tf.shape(pictures)[0]
        height, width = tf.cast(tf.shape(pictures)[1], tf.float32), tf.cast(tf.shape(pictures)[2], tf.float32)
        draws = generator.uniform((n, 4), -1.0, 1.0)
        dy, dx = draws[:, 0] * SHIFT * height, draws[:, 1] * SHIFT * width
        zy, zx = 1.0 + draws[:, 2] * ZOOM, 1.0 + draws[:, 3] * ZOOM
        cy, cx = (height - 1.0) / 2.0, (width - 1.0) / 2.0
        a0 = zx  # output (x, y) reads input (a0 x + a2, b1 y + b2): the zoom about the centre, then the shift
        if flip:
            a0 = tf.where(generator.uniform((n,)) < 0.5, -zx, zx)
        zeros = tf.zeros_like(zx)
        transforms = tf.stack([a0, zeros, cx * (1.0 - a0) - dx, zeros, zy, cy * (1.0 - zy) - dy, zeros, zeros], axis=1)
        return tf.raw_ops.ImageProjectiveTransformV3(images=pictures, transforms=transforms, output_shape=tf.shape(pictures)[1:3],
                                                     fill_value=0.0, interpolation="BILINEAR", fill_mode="NEAREST")

    return apply


def train_pipeline(train: Arrays, batch_size: int, seed: int, augment: str, weights: np.ndarray | None) -> tf.data.Dataset:
    """Shuffled batches of (float pictures, labels[, weights]): indices shuffled, whole batches
    gathered from the uint8 tensors, converted and moved (augmented, `moves`) a batch at a time."""
    x, y = tf.constant(train.x), tf.constant(train.y.astype(np.int32))
    w = tf.constant(weights[train.y]) if weights is not None else None
    move = moves(augment, seed)
    index = tf.data.Dataset.range(len(train)).shuffle(len(train), seed=seed, reshuffle_each_iteration=True)

    def gather(i):
        pictures = tf.cast(tf.gather(x, i), tf.float32) / 255.0
        if move is not None:
            pictures = move(pictures)
        labels = tf.gather(y, i)
        return (pictures, labels) if w is None else (pictures, labels, tf.gather(w, i))

    return index.batch(batch_size).map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def fit_folder(name: str, train: Arrays, val: Arrays, classes: int, *, out: Path, reporter: Reporter, epochs: int | None,
               batch_size: int, seed: int, balance: str, augment: str, config: dict) -> FitResult:
    """Build and train the folder CNN on TRAIN, choosing epochs on VAL; checkpoints in out/.checkpoints/NAME
    (claim_checkpoints has already cleared them for --restart, or if they were another dataset's)."""
    folder = checkpoints.checkpoint_dir(out, name)
    keras.utils.set_random_seed(seed)
    size, channels = train.x.shape[1:3], train.x.shape[3]
    weights = balance_weights(train.y, classes, balance)
    moves = chosen_augment(augment, len(train), classes)
    steps = -(-len(train) // batch_size)
    budget = budget_epochs(len(train)) if epochs is None else None
    run_epochs = epochs if budget is None else budget
    schedule = (f"cosine over {budget} epochs" if budget else f"x{LR_FACTOR} after {LR_PATIENCE} epochs without a better val_loss")
    config = {**config, "epochs": epochs, "max_epochs": MAX_EPOCHS if run_epochs is None else run_epochs,
              "min_epochs": MIN_EPOCHS, "patience": PATIENCE, "budget_epochs": budget, "batch_size": batch_size, "seed": seed,
              "optimizer": "adam", "learning_rate": LEARNING_RATE, "lr_schedule": schedule,
              "balance": balance, "class_weights": None if weights is None else [round(float(v), 4) for v in weights],
              "augment": augment, "augment_used": moves, "selection": "best val_balanced_accuracy, then val_loss"}
    max_epochs = config["max_epochs"]
    config["bn_momentum"] = momentum = round(bn_momentum(steps), 4)
    reporter.emit("start", model=name, epochs=max_epochs, batch_size=batch_size, steps=steps, train_size=len(train), config=config)
    model = build_folder_cnn((int(size[0]), int(size[1])), int(channels), classes, name=name, momentum=momentum)
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = checkpoints.restore(model, folder, name, reporter)
    if history:
        reporter.info(f"resuming {name} after epoch {len(history)} (use --restart to start over)")
    if budget and not history:
        reporter.info(f"{name}: {len(train)} training pictures: {budget} epochs on a cosine learning rate, the best "
                      f"validation epoch kept (no early stopping from {LARGE_SET}; --epochs N to choose)")
    if not should_stop(history, run_epochs):
        data = train_pipeline(train, batch_size, seed, moves, weights)
        progress = ProgressCallback(reporter, name, max_epochs, steps, history, folder, None)
        monitor = _Monitor(val, classes, history, folder, run_epochs, budget)
        model.fit(data, epochs=max_epochs, initial_epoch=len(history), verbose=0, callbacks=[monitor, progress], shuffle=False)
    best = best_epoch(history)
    stopped_early = run_epochs is None and len(history) < MAX_EPOCHS
    if best and best != len(history):
        loaded = load_weights(model, folder / BEST_FILE)
        if loaded == best:
            reporter.info(f"{name}: kept epoch {best}'s weights, the best on validation"
                          + (f" (stopped after epoch {len(history)}: none better for {PATIENCE} epochs)" if stopped_early else ""))
        else:
            best = len(history)
    return FitResult(model, history, best or len(history), stopped_early, config)


def dataset_key(root: Path, manifest_sha256: str, size: tuple[int, int], channels: int) -> dict:
    """What a checkpoint of a folder run was made from: resumed only under the same key."""
    return {"root": str(root), "split_sha256": manifest_sha256, "size": list(size), "channels": channels}


KEY_FILE = "dataset.json"


def claim_checkpoints(out: Path, name: str, key: dict, reporter: Reporter, restart: bool = False) -> None:
    """Keep NAME's checkpoints only if they were made from KEY's dataset (and not RESTART): another
    folder (or another split, size or colour) under the same name starts over, with a line that says so."""
    import shutil

    folder = checkpoints.checkpoint_dir(out, name)
    found = folder / KEY_FILE
    if restart:
        shutil.rmtree(folder, ignore_errors=True)
    if folder.is_dir() and any(folder.iterdir()):
        try:
            before = json.loads(found.read_text())
        except (OSError, ValueError):
            before = None
        if before != key:
            what = f"{before.get('root')}" if isinstance(before, dict) else "an unknown dataset"
            same = isinstance(before, dict) and before.get("root") == key["root"]
            reason = "another split, size or colour of that folder" if same else what
            reporter.info(f"the checkpoints of {name} are from {reason}, not {key['root']}: starting over")
            shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(found, json.dumps(key).encode())


def evaluation(y: np.ndarray, predicted: np.ndarray, labels: list[str], split: str) -> dict:
    """The `evaluation` metadata (and `dl-tui evaluate --format json`'s shape): accuracy, macro-F1,
    per-class precision/recall/F1/support, and the confusion matrix with rows = the true class."""
    classes = len(labels)
    matrix = np.zeros((classes, classes), np.int64)
    np.add.at(matrix, (y, predicted), 1)
    per_class, f1s = [], []
    for c, label in enumerate(labels):
        tp, support, said = matrix[c, c], matrix[c].sum(), matrix[:, c].sum()
        precision = float(tp / said) if said else 0.0
        recall = float(tp / support) if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append({"label": label, "precision": precision, "recall": recall, "f1": f1, "support": int(support)})
        if support:
            f1s.append(f1)
    return {"split": split, "count": len(y), "accuracy": float(np.mean(predicted == y)) if len(y) else 0.0,
            "macro_f1": float(np.mean(f1s)) if f1s else 0.0, "per_class": per_class,
            "confusion": {"labels": list(labels), "matrix": matrix.tolist()}}


OOD_FALSE_FLAGS = 0.05


def ood_calibration(val_probs: np.ndarray) -> dict | None:
    """The max-softmax OOD threshold: the score (1 - the largest probability) that flags
    OOD_FALSE_FLAGS of the validation pictures; None without validation pictures."""
    if len(val_probs) == 0:
        return None
    score = 1.0 - val_probs.astype(np.float64).max(axis=1)
    threshold = float(np.quantile(score, 1.0 - OOD_FALSE_FLAGS))
    return {"method": "max-softmax", "threshold": threshold, "false_flag_rate": OOD_FALSE_FLAGS,
            "calibration": {"data": "validation", "count": len(score)}}


def seconds_since(started: float) -> float:
    return round(time.monotonic() - started, 1)


# The run: scan, split, decode once, fit, test, export ------------------------------------------

PARITY_PICTURES = 64
CALIBRATION_PICTURES = 512


def _decode_split(split, part: str, size, channels: int, reporter: Reporter) -> tuple[Arrays, list[tuple[str, str]]]:
    """One split's pictures decoded (DATA's decode: load_image + picture_array); the files that failed, by path from the root."""
    from trainer.folders.cache import decode

    paths, labels = split.paths(part)
    pictures, failed = decode(paths, size, channels)
    bad = {str(path) for path, _ in failed}
    keep = np.array([str(path) not in bad for path in paths], dtype=bool)
    return Arrays(pictures, labels[keep] if len(labels) else labels.astype(np.int64)), [
        (Path(os.path.relpath(path, split.root)).as_posix(), reason) for path, reason in failed]


def train_folder(run, reporter: Reporter, found=None) -> dict:
    """Train RUN (a trainer.folder_command.FolderRun) and export it; FOUND is its folder's scan
    (trainer.folder_command.scan_folder) if made already. Returns its test metrics."""
    from trainer.data import DataError
    from trainer.folder_command import scan_folder
    from trainer.folders.images import choose_channels, choose_size
    from trainer.folders.split import manifest_path, split as make_split

    started = time.monotonic()
    root = Path(os.path.abspath(run.root))
    if found is None:
        found = scan_folder(root)
    skipped = sum(1 for problem in found.problems if problem.skipped)
    size = run.size or choose_size(found)
    channels = {"grey": 1, "rgb": 3}.get(run.colour) or choose_channels(found)
    split = make_split(found, run.val, run.test, run.seed)
    for line in split.warnings:
        reporter.info(f"warning: {line}")
    count = sum(len(pairs) for pairs in split.files.values())
    shape = f"{size[0]}x{size[1]} {'colour' if channels == 3 else 'grey'}"
    reporter.info(f"{run.name}: {len(found.classes)} classes, {count} pictures ({found.layout} layout); decoding them once at {shape}")
    decoded = time.monotonic()
    parts, failures = {}, []
    for part in ("train", "val", "test"):
        parts[part], failed = _decode_split(split, part, size, channels, reporter)
        failures += failed
    if failures:
        bad = {path for path, _ in failures}
        split.files = {part: [pair for pair in pairs if pair[0] not in bad] for part, pairs in split.files.items()}
        for path, reason in failures[:5]:
            reporter.info(f"skipped {path}: {reason}")
        if len(failures) > 5:
            reporter.info(f"... and {len(failures) - 5} more files that cannot be read")
    skipped += len(failures)
    train, val, test = parts["train"], parts["val"], parts["test"]
    reporter.info(f"decoded {len(train) + len(val) + len(test)} pictures in {time.monotonic() - decoded:.1f} s "
                  f"({len(train)} train, {len(val)} val, {len(test)} test; {skipped} skipped)")
    if len(train) == 0 or len(np.unique(train.y)) < 2:
        raise DataError(f"{root}: fewer than two classes have pictures to train on")
    if len(val) == 0:
        raise DataError(f"{root}: no pictures left for validation; give --val above 0 or a val folder")
    manifest = split.manifest()
    manifest_bytes = (json.dumps(manifest, indent=1) + "\n").encode()
    split_sha256 = hashlib.sha256(manifest_bytes).hexdigest()
    claim_checkpoints(run.out, run.name, dataset_key(root, split_sha256, size, channels), reporter, run.restart)
    labels = list(found.classes)
    preprocessing = {"kind": "image", "size": list(size), "channels": channels, "range": [0, 1], "fit": "stretch",
                     "resize": "bilinear"}
    config = {"size": list(size), "colour": run.colour, "channels": channels, "val": run.val, "test": run.test,
              "builder": "trainer.folder_model:build_folder_cnn"}
    result = fit_folder(run.name, train, val, len(labels), out=run.out, reporter=reporter, epochs=run.epochs,
                        batch_size=run.batch_size, seed=run.seed, balance=run.balance, augment=run.augment,
                        config=config)
    model = result.model
    held_out, part = (test, "test") if len(test) else (val, "val")
    if not len(test):
        reporter.info(f"warning: no test pictures (--test 0); the figures are on the {len(val)} validation pictures")
    probs = predict(model, held_out.x)
    report = evaluation(held_out.y, probs.argmax(axis=1), labels, part)
    metrics = {"test_accuracy": report["accuracy"], "test_macro_f1": report["macro_f1"]}
    counts = split.counts()
    dataset = {"name": "folder", "source": str(root), "layout": found.layout, "classes": labels, "counts": counts,
               "train": len(train), "val": len(val), "test": len(test), "skipped": skipped,
               "split_manifest": manifest_path(run.out, run.name).name, "split_sha256": split_sha256}
    meta = {
        contract.MODEL: run.name,
        contract.TASK: contract.CLASSIFICATION,
        contract.DESCRIPTION: f"Image classifier trained on {root.name} ({len(labels)} classes, {shape})",
        contract.LABELS: labels,
        contract.PREPROCESSING: preprocessing,
        contract.METRICS: metrics,
        contract.EVALUATION: report,
        contract.HISTORY: result.history,
        contract.CONFIG: {**result.config, "best_epoch": result.best_epoch, "stopped_early": result.stopped_early},
        contract.DATASET: dataset,
    }
    ood = ood_calibration(predict(model, val.x))
    if ood is not None:
        meta[contract.OOD] = ood
    export_folder(run, model, size, channels, meta, manifest_bytes, train, held_out, reporter)
    checkpoints.finish(run.out, run.name)
    reporter.emit("done", model=run.name, metrics=metrics, seconds=seconds_since(started))
    return metrics


def keep_previous(out: Path, name: str) -> None:
    """Move NAME's files already in OUT (model, int8 twin, split manifest) into OUT/previous/,
    replacing what an earlier run left there, as the app's Keep does (tui/staging.py)."""
    from trainer.folders.split import manifest_path

    previous = out / "previous"
    for path in (out / f"{name}{contract.ONNX_SUFFIX}", out / contract.int8_name(name), manifest_path(out, name)):
        if path.is_file():
            previous.mkdir(exist_ok=True)
            os.replace(path, previous / path.name)


def export_folder(run, model, size, channels: int, meta: dict, manifest_bytes: bytes, train: Arrays, held_out: Arrays,
                  reporter: Reporter) -> None:
    """NAME.onnx through the export checks (parity with TensorFlow), its manifest beside it, and
    its int8 twin when it meets the bar: made in the checkpoint folder, then moved in together
    (the files they replace to previous/), so a failed export leaves the old model in place."""
    import shutil

    from trainer.export import ExportSpec, export
    from trainer.folders.split import manifest_path

    signature = [tf.TensorSpec([None, size[0], size[1], channels], tf.float32, name="image")]

    @tf.function(input_signature=signature)
    def probabilities(image):
        return {"probabilities": model(image, training=False)}

    staged = checkpoints.checkpoint_dir(run.out, run.name) / "export"
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    parity = to_float(held_out.x[:PARITY_PICTURES] if len(held_out) else train.x[:PARITY_PICTURES])
    path, figure = export(ExportSpec(run.name, probabilities, {"image": parity}, meta), staged)
    write_atomic(manifest_path(staged, run.name), manifest_bytes)
    twin = _twin(path, train, held_out, len(meta[contract.LABELS]), reporter) if run.int8 else None
    keep_previous(run.out, run.name)
    for made in (path, manifest_path(staged, run.name), *([twin.path] if twin else [])):
        os.replace(made, run.out / made.name)
    reporter.emit("export", model=run.name, path=str(run.out / path.name), parity=figure)
    if twin is not None:
        reporter.emit("export", model=run.name, path=str(run.out / twin.path.name), parity=twin.parity)


def _twin(path: Path, train: Arrays, held_out: Arrays, classes: int, reporter: Reporter):
    """The int8 twin of PATH (trainer/quantize.py's folder recipe), or None where it misses the bar or cannot be made."""
    from trainer.quantize import QuantizeError, folder_recipe, int8_path, quantize_file

    rng = np.random.default_rng(0)
    picked = np.sort(rng.choice(len(train), min(CALIBRATION_PICTURES, len(train)), replace=False))
    try:
        return quantize_file(path, None, recipe=folder_recipe(to_float(train.x[picked]), to_float(held_out.x), held_out.y, classes))
    except QuantizeError as error:
        reporter.info(f"no int8 twin: {error}")
    except Exception as error:  # noqa: BLE001 (onnxruntime's own on an odd graph: the float model is what the run is for)
        reporter.info(f"no int8 twin: {type(error).__name__}: {error}")
    int8_path(path).unlink(missing_ok=True)
    return None
