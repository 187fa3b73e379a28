"""How each preprocessing step changes the predictions on the shipped `images/`.

Prints a markdown table for the README: for every image classifier in the models
folder, the prediction on each sample image as the notebook fed it (whole image
squeezed to 28x28, colours kept), with polarity detection, and with MNIST-style
normalisation as well (what `dl-tui classify` does by default).

    python bench/preprocessing_table.py [--models exported] [--images images]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from tui.classify.sources import iter_files
from tui.paths import models_dir, shipped_images_dir
from tui.runtime import Runtime, load_image, to_model_input

STEPS = {  # column title: to_model_input options
    "as is": {"polarity": "keep", "normalize": False},
    "+ polarity": {"polarity": "auto", "normalize": False},
    "+ MNIST centring": {"polarity": "auto", "normalize": True},
}
WANTED = ("cnn", "cnn-invert", "vae-classifier")


def truth(path: Path) -> str | None:
    """The digit a sample image shows: its name starts with it (`7-photographed...`)."""
    match = re.match(r"(\d)-", path.name)
    return match.group(1) if match else None


def table(runtime: Runtime, images: list[Path]) -> str:
    names = [n for n in WANTED if n in runtime.available()] or [
        n for n in runtime.available() if runtime.info(n).is_image_classifier]
    loaded = [load_image(p) for p in images]
    head = ["image"] + [f"{name}: {step}" for name in names for step in STEPS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    correct = {(name, step): 0 for name in names for step in STEPS}
    cells: dict[tuple[str, str], list[str]] = {}
    for name in names:
        info = runtime.info(name)
        for step, options in STEPS.items():
            batch = np.stack([to_model_input(img, size=info.preprocessing.size, **options)
                              for img in loaded])
            probs = runtime.predict(name, batch)
            column = []
            for path, p in zip(images, probs, strict=False):
                label, expected = info.labels[int(p.argmax())], truth(path)
                mark = "" if expected is None else " ✓" if label == expected else " ✗"
                correct[name, step] += label == expected
                column.append(f"{label}{mark} {p.max():.0%}")
            cells[name, step] = column
    for i, path in enumerate(images):
        row = [f"`{path.name}`"] + [cells[name, step][i] for name in names for step in STEPS]
        lines.append("| " + " | ".join(row) + " |")
    digits = sum(truth(p) is not None for p in images)
    total = [f"**{correct[name, step]}/{digits}**" for name in names for step in STEPS]
    lines.append("| **right** | " + " | ".join(total) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=None, help="models folder")
    parser.add_argument("--images", type=Path, default=shipped_images_dir())
    args = parser.parse_args()
    runtime = Runtime(models_dir(args.models), device="cpu")
    images = [path for path, _ in iter_files([args.images])]
    print(table(runtime, images))
    print(f"\nCells: prediction, ✓ or ✗ against the digit in the file name, confidence. "
          f"Models from {runtime.models_dir}.")


if __name__ == "__main__":
    main()
