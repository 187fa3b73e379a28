"""Small labelled folders of pictures for the tests of `dl-train check`, `dl-train folder`,
`dl-tui evaluate` and the app: made with Pillow and numpy in a temporary folder, no downloads.

Each class is a shape (grey sets) or a colour (colour sets) drawn at a random place and size on
a random background, with noise, so that a tiny model can learn it and no two pictures are
near duplicates of each other. Everything is seeded: the same call makes the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle", "cross", "hbar", "vbar", "ring", "diamond", "dots", "corner")
COLOURS = {"red": (220, 40, 40), "green": (40, 180, 60), "blue": (40, 70, 220), "yellow": (230, 210, 40),
           "purple": (150, 50, 190), "orange": (240, 140, 30)}


def picture(label: int, size: tuple[int, int], rng: np.random.Generator, colour: bool = False) -> Image.Image:
    """One picture of class LABEL, (height, width) SIZE: shape LABEL in grey, or colour LABEL."""
    height, width = size
    scale = 4  # drawn large, then shrunk: smooth edges even at 8x8
    w, h = width * scale, height * scale
    background = int(rng.integers(0, 80)) if rng.random() < 0.5 else int(rng.integers(170, 256))
    if colour:
        fill = np.array(list(COLOURS.values())[label % len(COLOURS)]) + rng.integers(-25, 26, 3)
        ink = tuple(int(v) for v in np.clip(fill, 0, 255))
        canvas = Image.new("RGB", (w, h), (background,) * 3)
        shape = int(rng.integers(0, 4))
    else:
        ink = 255 - background + int(rng.integers(-20, 21))
        ink = max(0, min(255, ink))
        canvas = Image.new("L", (w, h), background)
        shape = label % len(SHAPES)
    side = rng.uniform(0.45, 0.8) * min(w, h)
    x0 = rng.uniform(0, w - side)
    y0 = rng.uniform(0, h - side)
    _draw(ImageDraw.Draw(canvas), SHAPES[shape], (x0, y0, x0 + side, y0 + side), ink, rng)
    small = canvas.resize((width, height), Image.Resampling.BOX)
    pixels = np.asarray(small, dtype=np.int16)
    noisy = np.clip(pixels + rng.integers(-12, 13, pixels.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(noisy)


def _draw(draw: ImageDraw.ImageDraw, shape: str, box: tuple[float, ...], ink, rng) -> None:
    x0, y0, x1, y1 = box
    cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2
    bar = max(1.0, r / 3)
    if shape == "circle":
        draw.ellipse(box, fill=ink)
    elif shape == "square":
        draw.rectangle(box, fill=ink)
    elif shape == "triangle":
        draw.polygon([(cx, y0), (x1, y1), (x0, y1)], fill=ink)
    elif shape == "cross":
        draw.rectangle((cx - bar, y0, cx + bar, y1), fill=ink)
        draw.rectangle((x0, cy - bar, x1, cy + bar), fill=ink)
    elif shape == "hbar":
        draw.rectangle((x0, cy - bar, x1, cy + bar), fill=ink)
    elif shape == "vbar":
        draw.rectangle((cx - bar, y0, cx + bar, y1), fill=ink)
    elif shape == "ring":
        draw.ellipse(box, outline=ink, width=max(1, int(bar)))
    elif shape == "diamond":
        draw.polygon([(cx, y0), (x1, cy), (cx, y1), (x0, cy)], fill=ink)
    elif shape == "dots":
        for _ in range(4):
            px, py = rng.uniform(x0, x1), rng.uniform(y0, y1)
            draw.ellipse((px - bar, py - bar, px + bar, py + bar), fill=ink)
    else:  # corner
        draw.rectangle((x0, y0, x1, y0 + 2 * bar), fill=ink)
        draw.rectangle((x0, y0, x0 + 2 * bar, y1), fill=ink)


def make_set(root: Path, counts: dict[str, int], size: tuple[int, int] = (16, 16), colour: bool = False,
             seed: int = 0, suffix: str = ".png", start: int = 0) -> Path:
    """ROOT/<class>/<class>_<i>.png for each class in COUNTS (class i of the dict is shape or
    colour i). Returns ROOT."""
    rng = np.random.default_rng(seed)
    for label, (name, count) in enumerate(counts.items()):
        folder = Path(root) / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(start, start + count):
            picture(label, size, rng, colour).save(folder / f"{name}_{i:04d}{suffix}")
    return Path(root)


def make_splits(root: Path, counts: dict[str, dict[str, int]], size: tuple[int, int] = (16, 16),
                colour: bool = False, seed: int = 0) -> Path:
    """ROOT/<split>/<class>/... with COUNTS = {split folder name: {class: n}}; the same class
    has the same shape or colour in every split. Returns ROOT."""
    for offset, (split, classes) in enumerate(counts.items()):
        rng = np.random.default_rng(seed + 1000 * offset)
        for label, (name, count) in enumerate(classes.items()):
            folder = Path(root) / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                picture(label, size, rng, colour).save(folder / f"{split}_{name}_{i:04d}.png")
    return Path(root)


def grey_set(root: Path, per_class: int = 20, classes: int = 3, size: tuple[int, int] = (16, 16), seed: int = 0) -> Path:
    """CLASSES shape classes of PER_CLASS grey pictures."""
    return make_set(root, {SHAPES[i]: per_class for i in range(classes)}, size, seed=seed)


def colour_set(root: Path, per_class: int = 20, classes: int = 3, size: tuple[int, int] = (16, 16), seed: int = 0) -> Path:
    """Classes that differ only by colour (the shapes are mixed): a grey model cannot tell them apart."""
    return make_set(root, {name: per_class for name in list(COLOURS)[:classes]}, size, colour=True, seed=seed)


def nonsquare_set(root: Path, per_class: int = 20, classes: int = 3, size: tuple[int, int] = (12, 24), seed: int = 0) -> Path:
    """Grey shapes on pictures twice as wide as they are high."""
    return make_set(root, {SHAPES[i]: per_class for i in range(classes)}, size, seed=seed)


def tiny_set(root: Path, per_class: int = 20, classes: int = 3, seed: int = 0) -> Path:
    """8x8 grey shapes."""
    return make_set(root, {SHAPES[i]: per_class for i in range(classes)}, (8, 8), seed=seed)


def imbalanced_set(root: Path, small: int = 5, ratio: int = 10, classes: int = 4,
                   size: tuple[int, int] = (16, 16), seed: int = 0) -> Path:
    """Half the classes have RATIO times the pictures of the other half (SMALL each)."""
    counts = {SHAPES[i]: small * (ratio if i < classes // 2 else 1) for i in range(classes)}
    return make_set(root, counts, size, seed=seed)


def splits_set(root: Path, train: int = 12, val: int = 3, test: int = 3, classes: int = 3,
               size: tuple[int, int] = (16, 16), val_name: str = "val", seed: int = 0) -> Path:
    """The splits layout: ROOT/train|VAL_NAME|test/<shape>/..."""
    names = [SHAPES[i] for i in range(classes)]
    counts = {"train": dict.fromkeys(names, train), val_name: dict.fromkeys(names, val),
              "test": dict.fromkeys(names, test)}
    return make_splits(root, counts, size, seed=seed)


def messy_set(root: Path, seed: int = 0) -> dict[str, Path]:
    """Every kind of trouble, beside enough good pictures to train (circle 8, square 8):

    - README (text) at the root, outside any class; `.DS_Store` at the root and in a class;
    - circle/: a truncated JPEG, a BMP named `.jpg`, a 16-bit grey PNG, a nested folder
      with two pictures (nested/deeper/);
    - square/: an empty `.png`, a text file named `notes.txt`;
    - empty/: no files at all; single/: one picture (too few to split).

    Returns the special files by name (readme, ds_store, truncated, bmp_as_jpg, deep_png,
    empty_png, notes, nested, empty_class, single_class)."""
    root = Path(root)
    make_set(root, {"circle": 6, "square": 8}, (16, 16), seed=seed)
    rng = np.random.default_rng(seed + 1)
    files = {
        "readme": root / "README",
        "ds_store": root / ".DS_Store",
        "class_ds_store": root / "circle" / ".DS_Store",
        "truncated": root / "circle" / "truncated.jpg",
        "bmp_as_jpg": root / "circle" / "bitmap.jpg",
        "deep_png": root / "circle" / "deep.png",
        "nested": root / "circle" / "nested" / "deeper",
        "empty_png": root / "square" / "empty.png",
        "notes": root / "square" / "notes.txt",
        "empty_class": root / "empty",
        "single_class": root / "single",
    }
    files["readme"].write_text("My pictures: circles and squares.\n")
    for key in ("ds_store", "class_ds_store"):
        files[key].write_bytes(b"\x00\x00\x00\x01Bud1" + bytes(range(64)))
    whole = _jpeg_bytes(picture(0, (32, 32), rng))
    files["truncated"].write_bytes(whole[: len(whole) // 2])
    picture(0, (16, 16), rng).save(files["bmp_as_jpg"], format="BMP")
    deep = (np.asarray(picture(0, (16, 16), rng), dtype=np.uint16) * 257)
    Image.fromarray(deep.astype(np.uint16)).save(files["deep_png"])
    files["nested"].mkdir(parents=True)
    for i in range(2):
        picture(0, (16, 16), rng).save(files["nested"] / f"nested_{i}.png")
    files["empty_png"].write_bytes(b"")
    files["notes"].write_text("squares, drawn by hand\n")
    files["empty_class"].mkdir()
    files["single_class"].mkdir()
    picture(2, (16, 16), rng).save(files["single_class"] / "only.png")
    return files


def _jpeg_bytes(img: Image.Image) -> bytes:
    import io

    buffer = io.BytesIO()
    img.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def plant_duplicates(root: Path, seed: int = 0) -> dict[str, tuple[Path, Path]]:
    """Into a classes-layout set of at least two classes (first two by name: A, B), plant:
    an exact copy within A (exact), a slightly changed copy within A (near: brightness +3
    and re-saved), and one picture of A copied into B (two_classes). Returns each pair."""
    root = Path(root)
    first, second = sorted(path for path in root.iterdir() if path.is_dir())[:2]
    a = sorted(first.glob("*.png"))
    exact = first / "copy_of_0.png"
    exact.write_bytes(a[0].read_bytes())
    near = first / "brighter_1.png"
    pixels = np.asarray(Image.open(a[1]), dtype=np.int16)
    Image.fromarray(np.clip(pixels + 3, 0, 255).astype(np.uint8)).save(near)
    crossed = second / "stray_2.png"
    crossed.write_bytes(a[2].read_bytes())
    return {"exact": (a[0], exact), "near": (a[1], near), "two_classes": (a[2], crossed)}
