"""Train each of the notebook's models and describe what to export.

Imports TensorFlow: import it only inside command bodies.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from trainer import models, specs
from trainer.checkpoints import finish
from trainer.data import IRIS_FEATURES, DataError, Split, load_iris_split, one_line
from trainer.export import ExportSpec, export
from trainer.fitting import EVAL_BATCH, evaluate, fit, index_batches
from trainer.outdir import atomic_target
from trainer.progress import Reporter
from trainer.strategy import Distribution, distribution
from tui import contract

DIGITS = list(specs.DIGITS)
IMAGE_PREPROCESSING = specs.IMAGE_PREPROCESSING
BINARISED_PREPROCESSING = {**IMAGE_PREPROCESSING, "binarize": 0.5}
# Outlier exposure (Hendrycks et al. 2019, docs/ood.md): synthetic non-digits trained towards the
# uniform distribution, a quarter as many as the training digits, each weighing OUTLIER_WEIGHT
# (their lambda); printed digits, a quarter as many again, with their own labels.
OUTLIER_SHARE = 0.25
OUTLIER_WEIGHT = 0.5
# Energy-bounded outlier exposure (Liu et al. 2020; OutlierLoss.energy): squared hinges push a
# digit's energy (-logsumexp of the logits) below the first margin and an outlier's above the
# second, weighted by ENERGY_WEIGHT, on top of the uniform target. The margins are from the
# second round's cnn: MNIST at a median energy of -18.8, training outliers at -2.3 (-log 10),
# docs/ood.md.
ENERGY_MARGINS = (-15.0, -5.0)
ENERGY_WEIGHT = 0.1
VAE_WEIGHTS = "vae.weights.h5"
LATENT_MAP = contract.LATENT_MAP_FILE


class MissingModelError(Exception):
    """A model this one builds on has not been trained yet."""


@dataclass(frozen=True)
class Settings:
    """What a training run was asked for."""

    epochs: int
    batch_size: int
    out: Path
    seed: int
    restart: bool
    learning_rate: float = 1e-3
    strategy: str = "default"  # a trainer.strategy.StrategyMode value

    def config(self, dist: Distribution, **extra) -> dict:
        values = asdict(self)
        values.pop("out"), values.pop("restart")
        return {**values, "optimizer": "adam", **dist.config(), **extra}

    def distribution(self, reporter: Reporter) -> Distribution:
        """The strategy to build and train under; says which when it is not the default."""
        dist = distribution(self.strategy, self.batch_size)
        if dist.name != "default":
            reporter.info(dist.describe())
        return dist


def builder(name: str) -> Callable:
    """The function its spec (trainer/specs.py) names to build model NAME."""
    return specs.load(specs.spec(name).builder)


def _image_signature():
    return [tf.TensorSpec([None, 28, 28, 1], tf.float32, name="image")]


def _metadata(name, task, description, labels, preprocessing, metrics, history, config, dataset) -> dict:
    return {
        contract.MODEL: name,
        contract.TASK: task,
        contract.DESCRIPTION: description,
        contract.LABELS: json.dumps(labels),
        contract.PREPROCESSING: json.dumps(preprocessing),
        contract.METRICS: json.dumps(metrics),
        contract.HISTORY: json.dumps(history),
        contract.CONFIG: json.dumps(config),
        contract.DATASET: json.dumps(dataset),
    }


def _complete(name: str, specs: list[ExportSpec], metrics: dict, started: float, settings: Settings, reporter: Reporter,
              chief: bool = True, after_export: Callable[[], None] | None = None) -> dict:
    """Export each file (on the chief: the one worker, or worker 0 of several), then `after_export`,
    drop the run's checkpoints, report done; returns the test metrics."""
    for spec in specs if chief else []:
        path, parity = export(spec, settings.out)
        reporter.emit("export", model=spec.name, path=str(path), parity=parity)
    if chief and after_export is not None:
        after_export()
    finish(settings.out, name)
    reporter.emit("done", model=name, metrics=metrics, seconds=round(time.monotonic() - started, 1))
    return metrics


def _normalised(x: np.ndarray) -> np.ndarray:
    return (x.astype(np.float32) / 255.0)[..., None]


def _one_hot(y: np.ndarray) -> np.ndarray:
    return np.eye(10, dtype=np.float32)[y]


def _exposure(digits: int, seed: int, more_fonts: list[Path]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images, soft labels, sample weights) to add to DIGITS training images: printed digits
    (one-hot) and outliers (uniform), from trainer/outliers.py."""
    from trainer import outliers

    bad, printed, labels = outliers.exposure(max(4, int(digits * OUTLIER_SHARE)), seed, more_fonts)
    x = np.concatenate([printed, bad])[..., None]
    y = np.concatenate([_one_hot(labels), np.full((len(bad), 10), 0.1, np.float32)])
    w = np.concatenate([np.ones(len(printed), np.float32), np.full(len(bad), OUTLIER_WEIGHT, np.float32)])
    return x, y, w


def energy_loss(y_true, logits):
    """Per example: cross-entropy against its label (an outlier's is uniform) plus ENERGY_WEIGHT
    times the squared distance its energy lies past its margin. A digit's margin counts only
    while the network classifies it right, and past a distance of 1 it grows linearly (Huber):
    from scratch the margin (0.1 x 12.7^2 at the first step) otherwise swamps a classifier that
    has learned nothing yet, and 500 training digits gave 18% test accuracy (docs/ood.md)."""
    outlier = tf.reduce_max(y_true, axis=-1) < 0.5  # a uniform label: no class above 0.1
    energy = -tf.reduce_logsumexp(logits, axis=-1)
    inside, outside = ENERGY_MARGINS
    below = tf.nn.relu(outside - energy)  # an outlier's
    above = tf.nn.relu(energy - inside)  # a digit's
    right = tf.cast(tf.argmax(logits, axis=-1) == tf.argmax(y_true, axis=-1), logits.dtype)
    digit = right * tf.where(above < 1.0, tf.square(above), 2.0 * above - 1.0)
    return tf.nn.softmax_cross_entropy_with_logits(y_true, logits) + ENERGY_WEIGHT * tf.where(outlier, tf.square(below), digit)


def _binarised(x: np.ndarray) -> np.ndarray:
    return (x > 127.5).astype(np.float32)[..., None]  # x/255 > 0.5, as in the tutorial


def _start(reporter, name, settings, steps, train_size, config):
    keras.utils.set_random_seed(settings.seed)
    reporter.emit(
        "start", model=name, epochs=settings.epochs, batch_size=settings.batch_size,
        steps=steps, train_size=train_size, config=config,
    )


def _steps(n: int, batch_size: int) -> int:
    return -(-n // batch_size)


def train_iris(settings: Settings, reporter: Reporter) -> dict:
    """Iris MLP: training data repeated 20 times, shuffled, Adam 1e-3."""
    from sklearn.datasets import load_iris

    started = time.monotonic()
    data = load_iris_split()
    repeats = 20
    dist = settings.distribution(reporter)
    steps = _steps(len(data.x_train) * repeats, dist.global_batch)
    config = settings.config(dist, repeats=repeats, test_size=0.2, split_random_state=42)
    _start(reporter, "iris", settings, steps, len(data.x_train) * repeats, config)
    train = (
        tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train))
        .repeat(repeats).shuffle(1000, seed=settings.seed).batch(dist.global_batch).prefetch(tf.data.AUTOTUNE)
    )
    test = tf.data.Dataset.from_tensor_slices((data.x_test, data.y_test)).batch(EVAL_BATCH)
    with dist.scope():  # the model, its optimizer and training live on every replica
        model = builder("iris")()
        model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history = fit(model, name="iris", train=train, validation=test, steps=steps, epochs=settings.epochs,
                      out=settings.out, restart=settings.restart, reporter=reporter)
        metrics = {"test_accuracy": evaluate(model, test)["accuracy"]}

    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name="features")])
    def probabilities(features):
        return {"probabilities": model(features, training=False)}

    meta = _metadata(
        "iris", "classification", "Iris species from four flower measurements (4-10-10-3 MLP)",
        [str(n) for n in load_iris().target_names],
        {"kind": "features", "features": IRIS_FEATURES, "units": "cm"},
        metrics, history, config, data.describe("iris"),
    )
    return _complete("iris", [ExportSpec("iris", probabilities, {"features": data.x_test}, meta)], metrics, started, settings,
                     reporter, dist.chief)


def train_cnn(settings: Settings, reporter: Reporter, data: Split, invert: bool, exposure: bool = True,
              init: Path | None = None, outlier_loss: str = "energy", fonts: Path | None = None, shift: int = 0) -> dict:
    """MNIST CNN; with `invert`, trained and tested on the original plus colour-inverted images.

    With `exposure` (the default), outlier exposure: synthetic non-digits towards the uniform
    distribution and printed digits join the training set (the training loss and accuracy
    count them; the test figures are MNIST's alone); `outlier_loss` "energy" adds the energy
    margins (energy_loss), and `fonts`, a folder, more fonts for the non-digits' letters and
    signs. With `init`, an exported cnn ONNX file's weights are the start (a fine-tune). With
    `shift`, each training image is moved by up to that many pixels each time it is seen."""
    from trainer.outliers import OutlierLoss, fonts_in
    name = "cnn-invert" if invert else "cnn"
    started = time.monotonic()
    x_train, y_train = _normalised(data.x_train), _one_hot(data.y_train)
    w_train = np.ones(len(x_train), np.float32)
    x_test, y_test = _normalised(data.x_test), _one_hot(data.y_test)
    extra = {}
    loss = OutlierLoss(outlier_loss)
    energy = exposure and loss is OutlierLoss.energy
    if exposure:
        more_fonts = fonts_in(fonts) if fonts is not None else []
        if fonts is not None and not more_fonts:
            raise DataError(f"no .ttf or .otf font under {fonts}: give --fonts a folder of fonts")
        x_more, y_more, w_more = _exposure(len(x_train), settings.seed, more_fonts)
        extra["outlier_exposure"] = {"outliers": int(np.sum(w_more < 1)), "printed_digits": int(np.sum(w_more == 1)),
                                     "outlier_weight": OUTLIER_WEIGHT, "target": "uniform",
                                     "loss": loss.value, "more_fonts": len(more_fonts)}
        if energy:
            extra["outlier_exposure"].update(energy_margins=list(ENERGY_MARGINS), energy_weight=ENERGY_WEIGHT,
                                             energy_digits="right only, huber")  # energy_loss's gate (issue 19)
        x_train, y_train, w_train = (np.concatenate(p) for p in ((x_train, x_more), (y_train, y_more), (w_train, w_more)))
    if init is not None:
        extra["init"] = Path(init).name
    if shift:
        extra["shift"] = shift
    if invert:
        x_train, y_train = np.concatenate([x_train, 1.0 - x_train]), np.concatenate([y_train, y_train])
        w_train = np.concatenate([w_train, w_train])
        x_val, y_val = np.concatenate([x_test, 1.0 - x_test]), np.concatenate([y_test, y_test])
    else:
        x_val, y_val = x_test, y_test
    dist = settings.distribution(reporter)
    steps = _steps(len(x_train), dist.global_batch)
    config = settings.config(dist, invert=invert, dropout=0.4, **extra)
    _start(reporter, name, settings, steps, len(x_train), config)
    train = index_batches((x_train, y_train, w_train), dist.global_batch, settings.seed)
    validation = index_batches((x_val, y_val), EVAL_BATCH, None, shuffle=False)

    def accuracy(x, y):
        ds = index_batches((x, y), EVAL_BATCH, None, shuffle=False)
        return evaluate(model, ds)["accuracy"]

    with dist.scope():
        model = builder("cnn")(shift)
        if init is not None:
            try:
                models.load_cnn_weights(model, init)
            except Exception as exc:  # noqa: BLE001 (not a file, not ONNX, or another architecture)
                raise MissingModelError(f"cannot start from {init} ({one_line(exc)}); give an exported cnn .onnx") from None
        # Categorical, not sparse: an outlier's label is the uniform distribution.
        optimizer = keras.optimizers.Adam(settings.learning_rate)
        # The energy needs the logits: trained without the softmax, which is back for export.
        with models.logits(model) if energy else nullcontext():
            model.compile(optimizer=optimizer, loss=energy_loss if energy else "categorical_crossentropy", metrics=["accuracy"])
            history = fit(model, name=name, train=train, validation=validation, steps=steps, epochs=settings.epochs,
                          out=settings.out, restart=settings.restart, reporter=reporter)
        if energy:  # the evaluation below must not reuse functions traced on the logits
            model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
        original = accuracy(x_test, y_test)
        inverted = accuracy(1.0 - x_test, y_test) if invert else None
    if invert:
        metrics = {"test_accuracy": (original + inverted) / 2, "test_accuracy_original": original, "test_accuracy_inverted": inverted}
        parity_images = np.concatenate([x_test[:128], 1.0 - x_test[:128]])
        description = "MNIST digit CNN trained on original and colour-inverted images"
    else:
        metrics = {"test_accuracy": original}
        parity_images = x_test[:256]
        description = "MNIST digit CNN (white digit on black)"

    @tf.function(input_signature=_image_signature())
    def probabilities(image):
        return {"probabilities": model(image, training=False)}

    meta = _metadata(name, "classification", description, DIGITS, IMAGE_PREPROCESSING, metrics, history, config, data.describe("mnist"))
    spec = ExportSpec(name, probabilities, {"image": parity_images}, meta, quantize_data=data)
    return _complete(name, [spec], metrics, started, settings, reporter, dist.chief)


def _build_vae() -> models.CVAE:
    vae = builder("vae")()
    vae(np.zeros((1, 28, 28, 1), np.float32))  # create the weights
    return vae


def train_vae(settings: Settings, reporter: Reporter, data: Split) -> dict:
    """The CVAE tutorial with a 2-D latent space; test ELBO after every epoch."""
    started = time.monotonic()
    x_train, x_test = _binarised(data.x_train), _binarised(data.x_test)
    dist = settings.distribution(reporter)
    steps = _steps(len(x_train), dist.global_batch)
    config = settings.config(dist, latent_dim=models.LATENT_DIM, binarize=0.5, elbo="single-sample Monte Carlo")
    _start(reporter, "vae", settings, steps, len(x_train), config)
    train = index_batches((x_train,), dist.global_batch, settings.seed)
    test = index_batches((x_test,), dist.global_batch, None, shuffle=False)
    with dist.scope():
        vae = _build_vae()
        vae.compile(optimizer=keras.optimizers.Adam(settings.learning_rate))
        history = fit(vae, name="vae", train=train, validation=test, steps=steps, epochs=settings.epochs,
                      out=settings.out, restart=settings.restart, reporter=reporter, negate_loss_of="elbo")
    metrics = {"test_elbo": history[-1]["val_elbo"]}  # the last epoch's test-set ELBO
    _save_vae_weights(vae, settings.out)

    @tf.function(input_signature=_image_signature())
    def encode(image):
        mean, logvar = vae.encode(image)
        return {"mean": mean, "logvar": logvar}

    @tf.function(input_signature=[tf.TensorSpec([None, models.LATENT_DIM], tf.float32, name="z")])
    def decode(z):
        return {"logits": vae.decoder(z, training=False)}

    sample = x_test[:256]
    z = encode(image=sample)["mean"].numpy()
    dataset = data.describe("mnist")
    encoder_meta = _metadata("vae-encoder", "encoder", "CVAE encoder: binarised digit -> 2-D latent mean and log-variance",
                             [], BINARISED_PREPROCESSING, metrics, history, config, dataset)
    decoder_meta = _metadata("vae-decoder", "decoder", "CVAE decoder: 2-D latent point -> 28x28 pixel logits",
                             [], {"kind": "latent", "dim": models.LATENT_DIM, "output": "logits", "activation": "sigmoid"},
                             metrics, history, config, dataset)
    specs = [
        ExportSpec("vae-encoder", encode, {"image": sample}, encoder_meta),
        ExportSpec("vae-decoder", decode, {"z": z}, decoder_meta, quantize_data=data),
    ]
    return _complete("vae", specs, metrics, started, settings, reporter, dist.chief,
                     after_export=lambda: _save_latent_map(vae, x_test, data.y_test, settings.out))


def _save_latent_map(vae: models.CVAE, x_test: np.ndarray, y_test: np.ndarray, out: Path) -> None:
    """The test set's 2-D latent means beside the exported encoder, for the app's latent map
    (tui/contract.py's format, which tui.runtime.latent.load_map reads)."""
    means = np.concatenate([vae.encode(x_test[i : i + EVAL_BATCH])[0].numpy() for i in range(0, len(x_test), EVAL_BATCH)])
    encoder_sha256 = hashlib.sha256((out / "vae-encoder.onnx").read_bytes()).hexdigest()
    with atomic_target(out / LATENT_MAP) as tmp, open(tmp, "wb") as file:  # a file: numpy adds no suffix
        contract.write_latent_map(file, means, y_test, encoder_sha256)


def _save_vae_weights(vae: models.CVAE, out: Path) -> None:
    # Keras insists on the .weights.h5 suffix, so the temporary file keeps it.
    with atomic_target(out / VAE_WEIGHTS, suffix=".weights.h5") as tmp:
        vae.save_weights(str(tmp), overwrite=True)


def load_vae(out: Path) -> models.CVAE:
    """The VAE that `dl-train vae` saved in OUT."""
    path = out / VAE_WEIGHTS
    if not path.exists():
        raise MissingModelError(f"no trained VAE in {out} ({VAE_WEIGHTS} is missing); run `dl-train vae` first")
    vae = _build_vae()
    try:
        vae.load_weights(str(path))
    except Exception as exc:  # noqa: BLE001 (truncated or from another model: either way, train the VAE again)
        raise MissingModelError(f"cannot read {path} ({one_line(exc)}); run `dl-train vae` again") from None
    return vae


def train_vae_classifier(settings: Settings, reporter: Reporter, data: Split) -> dict:
    """Dense 128-128-10 on the VAE encoder's mean and logvar; exported with the encoder in front."""
    started = time.monotonic()
    vae = load_vae(settings.out)
    x_train, x_test = _binarised(data.x_train), _binarised(data.x_test)

    def encodings(x):
        # The encoder's mean and logvar side by side, a batch at a time to bound memory.
        return np.concatenate([np.concatenate(vae.encode(x[i : i + EVAL_BATCH]), axis=1) for i in range(0, len(x), EVAL_BATCH)])

    f_train, f_test = encodings(x_train), encodings(x_test)
    dist = settings.distribution(reporter)
    steps = _steps(len(f_train), dist.global_batch)
    config = settings.config(dist, features="vae-encoder mean and logvar (4)")
    _start(reporter, "vae-classifier", settings, steps, len(f_train), config)
    train = index_batches((f_train, data.y_train), dist.global_batch, settings.seed)
    test = index_batches((f_test, data.y_test), EVAL_BATCH, None, shuffle=False)
    with dist.scope():  # the VAE above only encodes, on one device
        classifier = builder("vae-classifier")()
        classifier.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), loss="sparse_categorical_crossentropy",
                           metrics=["accuracy"])
        history = fit(classifier, name="vae-classifier", train=train, validation=test, steps=steps, epochs=settings.epochs,
                      out=settings.out, restart=settings.restart, reporter=reporter)
        metrics = {"test_accuracy": evaluate(classifier, test)["accuracy"]}

    @tf.function(input_signature=_image_signature())
    def probabilities(image):
        mean, logvar = vae.encode(image)
        return {"probabilities": classifier(tf.concat([mean, logvar], axis=1), training=False)}

    meta = _metadata("vae-classifier", "classification", "Digit classifier on the VAE's 2-D latent encoding (encoder + MLP)",
                     DIGITS, BINARISED_PREPROCESSING, metrics, history, config, data.describe("mnist"))
    spec = ExportSpec("vae-classifier", probabilities, {"image": x_test[:256]}, meta, quantize_data=data)
    return _complete("vae-classifier", [spec], metrics, started, settings, reporter, dist.chief)


def train_classifier(spec: specs.ModelSpec, settings: Settings, reporter: Reporter, data: Split) -> dict:
    """Any digit classifier from its spec alone (docs/adding-a-model.md): `spec.builder` makes
    a Keras model from [N, 28, 28, 1] images in [0, 1] to probabilities over `spec.labels`; it
    is trained with Adam and sparse cross-entropy, tested, and exported with the checks (and,
    as its spec says, an int8 twin and an OOD head)."""
    started = time.monotonic()
    x_train, x_test = _normalised(data.x_train), _normalised(data.x_test)
    dist = settings.distribution(reporter)
    steps = _steps(len(x_train), dist.global_batch)
    config = settings.config(dist, builder=spec.builder)
    _start(reporter, spec.name, settings, steps, len(x_train), config)
    train = index_batches((x_train, data.y_train), dist.global_batch, settings.seed)
    test = index_batches((x_test, data.y_test), EVAL_BATCH, None, shuffle=False)
    with dist.scope():
        model = specs.load(spec.builder)()
        model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history = fit(model, name=spec.name, train=train, validation=test, steps=steps, epochs=settings.epochs,
                      out=settings.out, restart=settings.restart, reporter=reporter)
        metrics = {"test_accuracy": evaluate(model, test)["accuracy"]}

    @tf.function(input_signature=_image_signature())
    def probabilities(image):
        return {"probabilities": model(image, training=False)}

    meta = _metadata(spec.name, contract.CLASSIFICATION, spec.description, list(spec.labels), spec.preprocessing,
                     metrics, history, config, data.describe("mnist"))
    exported = ExportSpec(spec.name, probabilities, {"image": x_test[:256]}, meta, quantize_data=data)
    return _complete(spec.name, [exported], metrics, started, settings, reporter, dist.chief)
