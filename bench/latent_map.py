"""Encode the MNIST test set with the exported vae-encoder (onnxruntime) into exported/vae-latent-map.npz.

    python bench/latent_map.py [--mnist /path/to/mnist.npz] [--models exported]

The Latent space screen draws this file as its map (the classic VAE scatter); `dl-train vae` writes
one for the encoder it trains. It records the encoder's SHA-256, so a retrained encoder never
shows a map made by another.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tui.runtime import Runtime  # noqa: E402
from tui.runtime import latent  # noqa: E402


def make_map(models: Path, mnist: Path) -> Path:
    """Encode x_test, write the map beside the encoder and return its path."""
    with np.load(mnist) as data:
        images, labels = data["x_test"].astype(np.float32) / 255.0, data["y_test"]
    runtime = Runtime(models, device="cpu")
    means = latent.encode(runtime, images)
    encoder = runtime.info(latent.ENCODER).path
    out = encoder.with_name(latent.MAP_FILE)
    latent.write_map(out, means, labels, latent.sha256(encoder))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, default=Path("/work/shared/data/mnist.npz"))
    parser.add_argument("--models", type=Path, default=ROOT / "exported")
    args = parser.parse_args()
    out = make_map(args.models, args.mnist)
    print(f"{out} ({out.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
