"""Seconds per epoch: `dl-train cnn`'s input pipeline against the notebook's, same model, same data.

The notebook: from_tensor_slices(uint8) -> map(normalise) -> shuffle(1000) -> batch(128).
Ours (trainer.fitting.index_batches): normalise once in NumPy, shuffle indices, gather
whole batches, prefetch. It prints the input pipeline alone (one pass, no model), then
seconds per training epoch of the same CNN on each, interleaved, best of --repeats; the
ratio is ours / notebook's.

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
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per pipeline (best is kept)")
    args = parser.parse_args()
    measure(args.data, args.limit, args.repeats)


def measure(data: str, limit: int, repeats: int) -> dict[str, float]:
    """Seconds per pass of each pipeline alone and per training epoch on each (best of `repeats`),
    printed and returned."""
    import keras
    import tensorflow as tf

    from trainer.data import load_mnist
    from trainer.fitting import index_batches
    from trainer.models import build_cnn

    split = load_mnist(data)
    x, y = split.x_train[:limit], split.y_train[:limit]

    def notebook():
        def normalize_img(image, label):
            return tf.cast(image, tf.float32) / 255.0, label

        ds = tf.data.Dataset.from_tensor_slices((x[..., None], y)).map(normalize_img)
        return ds.shuffle(1000).batch(128)

    def ours():
        return index_batches(((x.astype("float32") / 255.0)[..., None], y), 128, seed=0)

    def iterate_seconds(make) -> float:
        """The input pipeline alone: one pass over the data with no model."""
        started = time.perf_counter()
        for _ in make():
            pass
        return time.perf_counter() - started

    def compiled_model():
        keras.utils.set_random_seed(0)
        model = build_cnn()
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(notebook().take(10), epochs=1, verbose=0)  # warm-up: tracing, thread pools
        return model

    pipelines = {"notebook": notebook, "dl-train": ours}
    alone = {name: min(iterate_seconds(make) for _ in range(repeats)) for name, make in pipelines.items()}
    models = {name: compiled_model() for name in pipelines}
    epochs: dict[str, list[float]] = {name: [] for name in pipelines}
    # Interleave the timed epochs so both pipelines see the same machine; keep each one's best.
    for _ in range(repeats):
        for name, make in pipelines.items():
            started = time.perf_counter()
            models[name].fit(make(), epochs=1, verbose=0)
            epochs[name].append(time.perf_counter() - started)
    base, mine = min(epochs["notebook"]), min(epochs["dl-train"])
    print(f"images per epoch: {len(x)}  (cores: {os.cpu_count()}, tensorflow {tf.__version__}, best of {repeats})")
    print(f"input pipeline alone: notebook {alone['notebook']:.2f} s, dl-train {alone['dl-train']:.2f} s, "
          f"ratio {alone['dl-train'] / alone['notebook']:.3f}")
    print(f"training epoch:       notebook {base:.2f} s, dl-train {mine:.2f} s")
    print(f"ratio (ours / notebook), seconds per training epoch: {mine / base:.3f}")
    return {"images": len(x), "pipeline_notebook": alone["notebook"], "pipeline_ours": alone["dl-train"],
            "epoch_notebook": base, "epoch_ours": mine}


if __name__ == "__main__":
    main()
