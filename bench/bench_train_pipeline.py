"""Seconds per epoch: `dl-train cnn`'s input pipeline against the notebook's, same model, same data.

The notebook: from_tensor_slices(uint8) -> map(normalise) -> shuffle(1000) -> batch(128).
Ours (trainer.fitting.index_batches): normalise once in NumPy, shuffle indices, gather
whole batches, prefetch. Both train the same CNN for one epoch after a warm-up; the
printed ratio is ours / notebook's (target: at most 1.0).

    python bench/bench_train_pipeline.py [--data ../shared/data/mnist.npz] [--limit N] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/mnist.npz")
    parser.add_argument("--limit", type=int, default=60000, help="training images per epoch")
    parser.add_argument("--repeats", type=int, default=2, help="timed epochs per pipeline (best is kept)")
    args = parser.parse_args()

    import keras
    import tensorflow as tf

    from trainer.data import load_mnist
    from trainer.fitting import index_batches
    from trainer.models import build_cnn

    split = load_mnist(args.data)
    x, y = split.x_train[: args.limit], split.y_train[: args.limit]

    def notebook():
        def normalize_img(image, label):
            return tf.cast(image, tf.float32) / 255.0, label

        ds = tf.data.Dataset.from_tensor_slices((x[..., None], y)).map(normalize_img)
        return ds.shuffle(1000).batch(128)

    def ours():
        return index_batches(((x.astype("float32") / 255.0)[..., None], y), 128, seed=0)

    def seconds_per_epoch(make) -> float:
        keras.utils.set_random_seed(0)
        model = build_cnn()
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        ds = make()
        model.fit(ds.take(20), epochs=1, verbose=0)  # warm-up: tracing, thread pools
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            model.fit(ds, epochs=1, verbose=0)
            times.append(time.perf_counter() - started)
        return min(times)

    base = seconds_per_epoch(notebook)
    mine = seconds_per_epoch(ours)
    print(f"images per epoch: {len(x)}  (cores: {os.cpu_count()}, tensorflow {tf.__version__})")
    print(f"notebook pipeline : {base:7.2f} s/epoch")
    print(f"dl-train pipeline : {mine:7.2f} s/epoch")
    print(f"ratio (ours / notebook): {mine / base:.3f}  (target <= 1.0)")


if __name__ == "__main__":
    main()
