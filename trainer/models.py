"""The notebook's four model architectures, as Keras models.

Imported only inside command bodies: importing this module imports TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import keras
import tensorflow as tf
from keras import layers

from trainer.ood import NODE_PREFIX

LATENT_DIM = 2


def build_iris() -> keras.Model:
    """4-10-10-3 MLP with ReLU hidden layers and a softmax output."""
    return keras.Sequential(
        [
            keras.Input((4,), name="features"),
            layers.Dense(10, activation="relu"),
            layers.Dense(10, activation="relu"),
            layers.Dense(3, activation="softmax"),
        ],
        name="iris",
    )


def build_cnn(shift: int = 0) -> keras.Model:
    """Four 5x5 conv layers (16/32/64/128), each max-pooled, then Dense 128, Dropout 0.4, softmax.

    With `shift`, every training image is first moved by up to that many pixels across and down,
    at random (RandomTranslation: it acts in training only and leaves no node in the export)."""
    # Whole pixels ("nearest"), and the edge pixels, the background in either polarity, fill the gap.
    moved = [layers.RandomTranslation(shift / 28, shift / 28, fill_mode="nearest",
                                      interpolation="nearest")] if shift else []
    blocks = []
    for filters in (16, 32, 64, 128):
        blocks += [
            layers.Conv2D(filters, 5, padding="same", activation="relu"),
            layers.MaxPool2D((2, 2), (2, 2), padding="same"),
        ]
    return keras.Sequential(
        [
            keras.Input((28, 28, 1), name="image"),
            *moved,
            *blocks,
            layers.Flatten(),
            layers.Dense(128, activation="relu"),
            layers.Dropout(0.4),
            layers.Dense(10, activation="softmax"),
        ],
        name="cnn",
    )


@contextmanager
def logits(model: keras.Model) -> Iterator[keras.Model]:
    """Inside, the model's last Dense layer leaves out its softmax: it answers logits, for a
    loss that needs them (the energy). Same weights; the softmax is back on leaving."""
    last = model.layers[-1]
    activation, last.activation = last.activation, keras.activations.linear
    try:
        yield model
    finally:
        last.activation = activation


def load_cnn_weights(model: keras.Model, path) -> None:
    """Set a `build_cnn` model's weights from an exported cnn ONNX file (a fine-tune's start).

    tf2onnx keeps every weight as an initializer: each Conv's kernel [out, in, h, w] (Keras's
    is [h, w, in, out]) and bias, each MatMul's kernel and the bias its Add adds, in layer order."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    init = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    nodes = [n for n in graph.node if not n.name.startswith(NODE_PREFIX)]  # not the OOD head's
    weights = []
    for node in nodes:
        if node.op_type == "Conv":
            weights += [init[node.input[1]].transpose(2, 3, 1, 0), init[node.input[2]]]
        elif node.op_type == "MatMul":
            add = next(n for n in nodes if n.op_type == "Add" and node.output[0] in n.input)
            weights += [init[node.input[1]], init[next(i for i in add.input if i in init)]]
    model.set_weights(weights)  # raises ValueError on another architecture


def build_encoder(latent_dim: int = LATENT_DIM) -> keras.Model:
    """CVAE tutorial encoder: image -> [mean, logvar] concatenated."""
    return keras.Sequential(
        [
            keras.Input((28, 28, 1), name="image"),
            layers.Conv2D(64, 3, strides=2, activation="relu"),
            layers.Conv2D(128, 3, strides=2, activation="relu"),
            layers.Flatten(),
            layers.Dense(latent_dim + latent_dim),  # no activation: mean and log-variance
        ],
        name="encoder",
    )


def build_decoder(latent_dim: int = LATENT_DIM) -> keras.Model:
    """CVAE tutorial decoder: z -> pixel logits; 7x7 doubled twice by stride-2 transposed convs."""
    return keras.Sequential(
        [
            keras.Input((latent_dim,), name="z"),
            layers.Dense(7 * 7 * 32, activation="relu"),
            layers.Reshape((7, 7, 32)),
            layers.Conv2DTranspose(128, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu"),
            layers.Conv2DTranspose(1, 3, strides=1, padding="same"),  # logits
        ],
        name="decoder",
    )


def build_latent_classifier() -> keras.Model:
    """Dense 128-128-10 on the encoder's 4 features (mean and logvar)."""
    return keras.Sequential(
        [
            keras.Input((2 * LATENT_DIM,), name="encoding"),
            layers.Dense(128, activation="relu"),
            layers.Dense(128, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ],
        name="latent_classifier",
    )


def _log_normal_pdf(sample, mean, logvar):
    log2pi = math.log(2.0 * math.pi)
    return tf.reduce_sum(-0.5 * ((sample - mean) ** 2.0 * tf.exp(-logvar) + logvar + log2pi), axis=1)


class CVAE(keras.Model):
    """Convolutional VAE trained on a single-sample Monte Carlo estimate of the ELBO."""

    def __init__(self, latent_dim: int = LATENT_DIM, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = latent_dim
        self.encoder = build_encoder(latent_dim)
        self.decoder = build_decoder(latent_dim)
        self.elbo_tracker = keras.metrics.Mean(name="elbo")

    @property
    def metrics(self):
        return [self.elbo_tracker]

    def encode(self, x):
        mean, logvar = tf.split(self.encoder(x), num_or_size_splits=2, axis=1)
        return mean, logvar

    def call(self, x, training=False):
        mean, _ = self.encode(x)
        return self.decoder(mean, training=training)

    def elbo(self, x):
        """One-sample ELBO per batch, averaged (the tutorial's compute_loss, negated)."""
        mean, logvar = self.encode(x)
        eps = tf.random.normal(shape=tf.shape(mean))
        z = eps * tf.exp(logvar * 0.5) + mean
        logits = self.decoder(z)
        cross_ent = tf.nn.sigmoid_cross_entropy_with_logits(logits=logits, labels=x)
        logpx_z = -tf.reduce_sum(cross_ent, axis=[1, 2, 3])
        logpz = _log_normal_pdf(z, 0.0, 0.0)
        logqz_x = _log_normal_pdf(z, mean, logvar)
        return tf.reduce_mean(logpx_z + logpz - logqz_x)

    def train_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            elbo = self.elbo(x)
            # Each replica's mean over its share of the batch; replicas' gradients are summed,
            # so divide (as Keras does for compiled losses) to step on the global batch's mean.
            loss = -elbo / tf.distribute.get_replica_context().num_replicas_in_sync
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=False))
        self.elbo_tracker.update_state(elbo)
        return {"elbo": self.elbo_tracker.result()}

    def test_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        self.elbo_tracker.update_state(self.elbo(x))
        return {"elbo": self.elbo_tracker.result()}
