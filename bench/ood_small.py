"""The energy loss on small training sets from scratch (issue 19, section 6; docs/ood.md).

    nice -n 10 python bench/ood_small.py [--data ../shared/data/mnist.npz] [--epochs 10]
                                         [--seeds 42] [--cases balanced,imbalanced] [--losses ...]

Trains `dl-train cnn`'s network (trainer.models.build_cnn) with its outlier exposure
(trainer.training._exposure) on a few hundred MNIST training images, as `dl-train cnn` does
(Adam 1e-3, batch 128, seed 42), with each loss: none (no outlier exposure), uniform, energy
(the loss as it was before the gate) and gated (trainer.training.energy_loss now), and prints
the MNIST test accuracy of each. Cases: 500 balanced images (50 a class); 550 imbalanced
10:1 (100 each of 0-4, 10 each of 5-9).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CASES = {"balanced": [50] * 10, "imbalanced": [100] * 5 + [10] * 5}
LOSSES = ("none", "uniform", "energy", "gated")


def subset(x: np.ndarray, y: np.ndarray, counts: list[int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """COUNTS[d] training images of each digit d, drawn at random."""
    rng = np.random.default_rng(seed)
    picked = np.concatenate([rng.choice(np.flatnonzero(y == d), n, replace=False) for d, n in enumerate(counts)])
    return x[picked], y[picked]


def old_energy_loss(y_true, logits):
    """The energy loss before the gate (commit 40525b5): every digit's margin from the first step."""
    import tensorflow as tf

    from trainer.training import ENERGY_MARGINS, ENERGY_WEIGHT

    outlier = tf.reduce_max(y_true, axis=-1) < 0.5
    energy = -tf.reduce_logsumexp(logits, axis=-1)
    inside, outside = ENERGY_MARGINS
    past = tf.where(outlier, tf.nn.relu(outside - energy), tf.nn.relu(energy - inside))
    return tf.nn.softmax_cross_entropy_with_logits(y_true, logits) + ENERGY_WEIGHT * tf.square(past)


def train(x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, loss: str, epochs: int, seed: int) -> float:
    """Test accuracy of the cnn trained from scratch on (X, Y) uint8 images with LOSS."""
    import keras

    from trainer import models, training

    keras.utils.set_random_seed(seed)
    x_train, y_train = training._normalised(x), training._one_hot(y)
    w_train = np.ones(len(x_train), np.float32)
    if loss != "none":
        x_more, y_more, w_more = training._exposure(len(x_train), seed, [])
        x_train, y_train, w_train = (np.concatenate(p) for p in ((x_train, x_more), (y_train, y_more), (w_train, w_more)))
    model = models.build_cnn()
    energy = loss in ("energy", "gated")
    with models.logits(model) if energy else _nothing():
        fn = {"energy": old_energy_loss, "gated": training.energy_loss}.get(loss, "categorical_crossentropy")
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=fn, metrics=["accuracy"])
        model.fit(x_train, y_train, sample_weight=w_train, batch_size=128, epochs=epochs, shuffle=True, verbose=0)
    probs = model.predict(training._normalised(x_test), batch_size=1000, verbose=0)
    return float(np.mean(probs.argmax(axis=1) == y_test))


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/mnist.npz")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", default="42")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--losses", default=",".join(LOSSES))
    args = parser.parse_args()
    from trainer.data import load_mnist

    data = load_mnist(args.data)
    for case in args.cases.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            x, y = subset(data.x_train, data.y_train, CASES[case], seed)
            for loss in args.losses.split(","):
                accuracy = train(x, y, data.x_test, data.y_test, loss, args.epochs, seed)
                print(json.dumps({"case": case, "seed": seed, "loss": loss, "epochs": args.epochs,
                                  "test_accuracy": round(accuracy, 4)}), flush=True)


if __name__ == "__main__":
    main()
