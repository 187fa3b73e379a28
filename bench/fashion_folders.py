"""Write Fashion-MNIST (the Debian package's IDX files) out as class folders of PNGs.

    python bench/fashion_folders.py OUT [--train N] [--test N] [--layout classes|splits]

`classes` (the default) puts the first N training images in OUT/<class>/ (the tool makes the
split); `splits` writes OUT/train/<class>/ and OUT/test/<class>/ from the two IDX sets. Used by
`dl-train check`'s timing, `dl-train folder`'s targets and the Keras comparison in bench/.
`apt-get install dataset-fashion-mnist` installs the IDX files.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

import numpy as np
from PIL import Image

IDX = Path("/usr/share/datasets/fashion-mnist")
CLASSES = ("t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot")


def read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as file:
        data = file.read()
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(part: str, idx: Path = IDX) -> tuple[np.ndarray, np.ndarray]:
    """(images [N, 28, 28] uint8, labels [N]) of `train` or `t10k`."""
    return read_idx(idx / f"{part}-images-idx3-ubyte.gz"), read_idx(idx / f"{part}-labels-idx1-ubyte.gz")


def write(images: np.ndarray, labels: np.ndarray, out: Path, prefix: str = "") -> None:
    for name in CLASSES:
        (out / name).mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        Image.fromarray(image, "L").save(out / CLASSES[label] / f"{prefix}{i:05d}.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--train", type=int, default=60000, help="training images to write (first N)")
    parser.add_argument("--test", type=int, default=10000, help="test images, with --layout splits")
    parser.add_argument("--layout", choices=("classes", "splits"), default="classes")
    parser.add_argument("--idx", type=Path, default=IDX, help="folder of the four IDX .gz files")
    args = parser.parse_args(argv)
    if not (args.idx / "train-images-idx3-ubyte.gz").is_file():
        print(f"error: no Fashion-MNIST IDX files in {args.idx}: apt-get install dataset-fashion-mnist, "
              "or give --idx", file=sys.stderr)
        return 2
    images, labels = load("train", args.idx)
    if args.layout == "classes":
        write(images[:args.train], labels[:args.train], args.out)
    else:
        write(images[:args.train], labels[:args.train], args.out / "train")
        test_images, test_labels = load("t10k", args.idx)
        write(test_images[:args.test], test_labels[:args.test], args.out / "test")
    return 0


if __name__ == "__main__":
    sys.exit(main())
