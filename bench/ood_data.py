"""Images that are not handwritten digits, and printed digits, made here with a fixed seed.

Each set is drawn large (64x64 grey, white on black or black on white), then put through
the app's own preprocessing (`to_model_input`, polarity auto), as `dl-tui classify` would
read a file: the models see what a user's picture would become.

    sets = make_sets(seed=0)    # {"letters": float32 [N, 28, 28], "symbols": ..., ...}

- letters: A-J and a-j (the notMNIST letters) in every installed font;
- symbols: punctuation and signs (+ = % & @ # ? ! ...), not digit-like ones such as | or O;
- photos: crops of scikit-learn's two sample photographs;
- shapes: filled and outlined polygons, stars, crosses, grids, several blobs;
- noise: uniform, Gaussian, salt and pepper, blurred blotches;
- printed: the digits 0-9 in the same fonts (in distribution: they should not be flagged).

Fonts are found with `fc-list` (DejaVu, Noto, URW base35 where installed); sets are only as
varied as the machine's fonts. The OOD head's training images (trainer/outliers.py) use none
of these letters or symbols, no photographs or polygons, and print digits only in the fonts
at even positions: the printed digits here are in the others.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from trainer.outliers import font_files, glyph, prepare  # (no TensorFlow there)

CANVAS = 64
LETTERS = "ABCDEFGHIJabcdefghij"
SYMBOLS = "+=%&@#?!$*<>{}[]~^"
DIGITS = "0123456789"
NON_DIGITS = ("letters", "symbols", "photos", "shapes", "noise")


def _glyphs(chars: str, faces: list, rng: np.random.Generator, copies: int = 1) -> np.ndarray:
    return np.stack([prepare(glyph(c, f, rng)) for f in faces or [None] for c in chars for _ in range(copies)])


def _photos(rng: np.random.Generator, count: int) -> np.ndarray:
    from sklearn.datasets import load_sample_images  # the two photographs ship with scikit-learn

    grey = [np.asarray(Image.fromarray(p).convert("L")) for p in load_sample_images().images]
    out = []
    for i in range(count):
        photo = grey[i % len(grey)]
        side = int(rng.integers(24, 200))
        y, x = (int(rng.integers(0, photo.shape[k] - side)) for k in (0, 1))
        crop = Image.fromarray(photo[y:y + side, x:x + side]).resize((CANVAS, CANVAS))
        out.append(prepare(np.asarray(crop)))
    return np.stack(out)


def _shape(kind: int, rng: np.random.Generator) -> np.ndarray:
    img = Image.new("L", (CANVAS, CANVAS), 0)
    draw = ImageDraw.Draw(img)
    width = int(rng.integers(3, 8))
    c, r = CANVAS / 2 + rng.uniform(-4, 4, 2), rng.uniform(16, 28)
    if kind == 0:  # filled polygon, 3 to 8 corners
        n = int(rng.integers(3, 9))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        draw.polygon([(c[0] + r * np.cos(t), c[1] + r * np.sin(t)) for t in angles], fill=255)
    elif kind == 1:  # outlined rectangle or triangle
        if rng.random() < 0.5:
            draw.rectangle([c[0] - r, c[1] - r * rng.uniform(0.5, 1), c[0] + r, c[1] + r * rng.uniform(0.5, 1)],
                           outline=255, width=width)
        else:
            pts = [(c[0], c[1] - r), (c[0] - r, c[1] + r * 0.8), (c[0] + r, c[1] + r * 0.8)]
            draw.polygon(pts, outline=255, width=width)
    elif kind == 2:  # star
        n = int(rng.integers(5, 8))
        pts = [(c[0] + (r if k % 2 == 0 else r * 0.45) * np.cos(np.pi * k / n),
                c[1] + (r if k % 2 == 0 else r * 0.45) * np.sin(np.pi * k / n)) for k in range(2 * n)]
        draw.polygon(pts, fill=255)
    elif kind == 3:  # a cross or an X, of several strokes
        for t in rng.uniform(0, np.pi, int(rng.integers(2, 4))):
            dx, dy = r * np.cos(t), r * np.sin(t)
            draw.line([(c[0] - dx, c[1] - dy), (c[0] + dx, c[1] + dy)], fill=255, width=width)
    elif kind == 4:  # grid
        n = int(rng.integers(3, 6))
        for k in np.linspace(c[0] - r, c[0] + r, n):
            draw.line([(k, c[1] - r), (k, c[1] + r)], fill=255, width=max(2, width // 2))
            draw.line([(c[0] - r, k), (c[0] + r, k)], fill=255, width=max(2, width // 2))
    else:  # several filled blobs
        for _ in range(int(rng.integers(3, 7))):
            x, y, s = rng.uniform(8, CANVAS - 8), rng.uniform(8, CANVAS - 8), rng.uniform(3, 9)
            draw.ellipse([x - s, y - s, x + s, y + s], fill=255)
    a = np.asarray(img)
    return 255 - a if rng.random() < 0.5 else a


def _noise(kind: int, rng: np.random.Generator) -> np.ndarray:
    if kind == 0:
        a = rng.uniform(0, 255, (CANVAS, CANVAS))
    elif kind == 1:
        a = np.clip(rng.normal(128, 60, (CANVAS, CANVAS)), 0, 255)
    elif kind == 2:
        a = (rng.random((CANVAS, CANVAS)) < rng.uniform(0.05, 0.3)) * 255.0
    else:
        raw = Image.fromarray(rng.uniform(0, 255, (CANVAS, CANVAS)).astype(np.uint8))
        a = np.asarray(raw.filter(ImageFilter.GaussianBlur(float(rng.uniform(2, 5)))), dtype=np.float64)
        a = (a > np.median(a)) * 255.0
    return a


def make_sets(seed: int = 0, count: int = 240) -> dict[str, np.ndarray]:
    """Every set by name, float32 [N, 28, 28] in [0, 1], white on black."""
    rng = np.random.default_rng(seed)
    faces = font_files()
    return {
        "letters": _glyphs(LETTERS, faces, rng),
        "symbols": _glyphs(SYMBOLS, faces[::2], rng),
        "photos": _photos(rng, count),
        "shapes": np.stack([prepare(_shape(i % 6, rng)) for i in range(count)]),
        "noise": np.stack([prepare(_noise(i % 4, rng)) for i in range(count)]),
        "printed": _glyphs(DIGITS, faces[1::2], rng, copies=2),
    }


if __name__ == "__main__":
    for name, images in make_sets().items():
        print(f"{name:8} {len(images):5}")
