"""Check the shipped models with onnxruntime alone on the full MNIST test set (no TensorFlow).

Prints a markdown table of each file's test result beside the notebook's and the floor the
project promises, read against the export contract (input/output names, preprocessing).

    python bench/verify_shipped.py [--data ../shared/data/mnist.npz] [--models exported]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnxruntime as ort

# The same one-sample Monte Carlo ELBO the int8 decoder is held to (onnxruntime only, no TensorFlow).
from trainer.quantize import elbo

NOTEBOOK = {"iris": "100%", "cnn": "99.17%", "cnn-invert": "98.93%", "vae": "-156.1", "vae-classifier": "64.9%"}


def session(models: Path, name: str) -> ort.InferenceSession:
    return ort.InferenceSession(str(models / f"{name}.onnx"), providers=["CPUExecutionProvider"])


def accuracy(sess: ort.InferenceSession, feed_name: str, x: np.ndarray, y: np.ndarray) -> float:
    probs = np.concatenate([sess.run(["probabilities"], {feed_name: x[i : i + 1000]})[0] for i in range(0, len(x), 1000)])
    return float(np.mean(probs.argmax(axis=1) == y))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/mnist.npz")
    parser.add_argument("--models", default="exported", type=Path)
    args = parser.parse_args()

    with np.load(args.data) as npz:
        x = (npz["x_test"].astype(np.float32) / 255.0)[..., None]
        y = npz["y_test"]
    binary = (x > 0.5).astype(np.float32)

    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split

    features, labels = load_iris(return_X_y=True)
    _, f_test, _, l_test = train_test_split(features, labels, test_size=0.2, random_state=42)

    rows = [
        ("iris", "test accuracy (30 flowers)",
         f"{accuracy(session(args.models, 'iris'), 'features', f_test.astype(np.float32), l_test):.2%}", ">= 96.6%"),
        ("cnn", "MNIST test accuracy", f"{accuracy(session(args.models, 'cnn'), 'image', x, y):.2%}", ">= 99.0%"),
    ]
    inv = session(args.models, "cnn-invert")
    original, inverted = accuracy(inv, "image", x, y), accuracy(inv, "image", 1.0 - x, y)
    rows += [
        ("cnn-invert", "original + inverted test images", f"{(original + inverted) / 2:.2%}", ""),
        ("cnn-invert", "original test images", f"{original:.2%}", ">= 98.8%"),
        ("cnn-invert", "inverted test images", f"{inverted:.2%}", ">= 98.5%"),
        ("vae", "test ELBO (one-sample Monte Carlo)",
         f"{elbo(session(args.models, 'vae-encoder'), session(args.models, 'vae-decoder'), binary):.1f}", ">= -160"),
        ("vae-classifier", "MNIST test accuracy", f"{accuracy(session(args.models, 'vae-classifier'), 'image', binary, y):.2%}", ">= 60%"),
    ]
    # The int8 twins on the same images (the VAE: float encoder, int8 decoder, same noise).
    twins = {name: args.models / f"{name}.int8.onnx" for name in ("cnn", "cnn-invert", "vae-decoder", "vae-classifier")}
    if twins["cnn"].is_file():
        rows.append(("cnn", "MNIST test accuracy, int8", f"{accuracy(session(args.models, 'cnn.int8'), 'image', x, y):.2%}",
                     ">= float - 0.1"))
    if twins["cnn-invert"].is_file():
        q = session(args.models, "cnn-invert.int8")
        rows.append(("cnn-invert", "original + inverted test images, int8",
                     f"{(accuracy(q, 'image', x, y) + accuracy(q, 'image', 1.0 - x, y)) / 2:.2%}", ">= float - 0.1"))
    if twins["vae-decoder"].is_file():
        rows.append(("vae", "test ELBO, int8 decoder",
                     f"{elbo(session(args.models, 'vae-encoder'), session(args.models, 'vae-decoder.int8'), binary):.1f}",
                     ">= float - 0.5"))
    if twins["vae-classifier"].is_file():
        rows.append(("vae-classifier", "MNIST test accuracy, int8",
                     f"{accuracy(session(args.models, 'vae-classifier.int8'), 'image', binary, y):.2%}", ">= float - 0.1"))
    print("| model | measure | shipped (onnxruntime) | notebook | floor |")
    print("|---|---|---|---|---|")
    seen = set()
    for name, measure, value, floor in sorted(rows, key=lambda r: [n for n, *_ in rows].index(r[0])):
        notebook = NOTEBOOK[name] if name not in seen else ""
        seen.add(name)
        print(f"| {name} | {measure} | {value} | {notebook} | {floor} |")


if __name__ == "__main__":
    main()
