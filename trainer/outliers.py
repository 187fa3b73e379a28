"""Synthetic training images for outlier exposure and the OOD head (docs/ood.md), fixed seed.

Outliers (not digits): letters K-Z and k-z without the digit-like ones, in every installed
font; scribble-free textures (blotches, stripes, checkerboards, rectangle collages); noise.
In-distribution extras: the digits 0-9 printed in half of the fonts (even positions of the
sorted font list), so printed digits count as digits.

`make` is the head's set; `exposure` the CNN's own training extras (trainer/training.py): the
same kinds plus Greek and Cyrillic letters, signs and tangles of strokes, with the printed
digits' labels.

`bench/ood_eval.py` measures on what this never makes: letters A-J, symbols, photographs,
polygons and stars, and printed digits in the other half of the fonts.

Everything goes through the app's own preprocessing (tui.runtime.preprocess.to_model_input),
so the head sees what `dl-tui` feeds the model. No TensorFlow here.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from enum import Enum
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

CANVAS = 64


class OutlierLoss(str, Enum):
    """What outlier exposure trains the CNN's answer on a non-digit towards (docs/ood.md)."""

    uniform = "uniform"  # the uniform distribution (Hendrycks et al. 2019); the OOD head on the logits
    energy = "energy"  # also an energy above a margin (Liu et al. 2020); the score is the energy


# Not A-J (the evaluation's notMNIST letters), nor those a digit could be (O, I, S, Z, l, ...).
LETTERS = "KLMNPQRTUVWXYkmnprtuvwxy"
# Greek, Cyrillic, Hebrew and Chinese without the digit-like (O, I, Z, ε, З, Б, Ч, ו, 一, 二, 十, ...);  # noqa: RUF003  the lookalikes, named
# signs, arrows and logic symbols (not ∃: a 3), none of the evaluation's (bench/ood_data.py) nor like them.
FOREIGN = ("ΓΔΛΞΠΣΦΨΩαλμξπφψωГДЖИЛПФЦШЩЫЮЯджилпфцшщыюяאבגדהחטכלמנעפצקרשת"
           "的是我在有他这中来国个到说们为和你地出道时年得就那要以生会自着去过家学对可她里后心多天而能好")
SIGNS = "§¶©®€£¥µ†‡÷±≠≈∞∑∆◊♠♣♥♦←→↑↓↔⇒∀∈∩∪⊂⊕⊗∧∨⊥≡"  # noqa: RUF001  logic signs, drawn as themselves
DIGITS = "0123456789"


def font_files() -> list[Path]:
    """Installed TrueType/OpenType fonts that draw Latin letters, sorted (fc-list); [] without fontconfig."""
    try:
        listing = subprocess.run(["fc-list", "--format", "%{file}\n"], capture_output=True,
                                 text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    skip = ("Symbol", "Dingbat", "Z003", "D050000L")
    return sorted({Path(line) for line in listing.splitlines()
                   if line.endswith((".ttf", ".otf")) and not any(s in line for s in skip)})


def prepare(a: np.ndarray) -> np.ndarray:
    """A grey uint8-range array, as `dl-tui` would read it from a file: [28, 28] in [0, 1]."""
    from tui.runtime.preprocess import to_model_input

    return to_model_input(Image.fromarray(np.asarray(a, dtype=np.uint8), "L"), "auto")


def glyph(text: str, font: Path | None, rng: np.random.Generator) -> np.ndarray:
    """One character, 36-52 px, a random stroke and tilt, half of them dark on light."""
    img = Image.new("L", (CANVAS, CANVAS), 0)
    face = ImageFont.truetype(str(font), int(rng.integers(36, 52))) if font else ImageFont.load_default()
    stroke = int(rng.integers(0, 3))
    ImageDraw.Draw(img).text((CANVAS / 2, CANVAS / 2), text, fill=255, font=face, anchor="mm",
                             stroke_width=stroke, stroke_fill=255)
    a = np.asarray(img.rotate(float(rng.uniform(-12, 12)), resample=Image.Resampling.BILINEAR))
    return 255 - a if rng.random() < 0.5 else a


def _texture(kind: int, rng: np.random.Generator) -> np.ndarray:
    if kind == 0:  # blotches at a random level
        raw = Image.fromarray(rng.uniform(0, 255, (CANVAS, CANVAS)).astype(np.uint8))
        a = np.asarray(raw.filter(ImageFilter.GaussianBlur(float(rng.uniform(1.5, 6)))), dtype=np.float64)
        return (a > np.quantile(a, rng.uniform(0.3, 0.8))) * 255.0
    if kind == 1:  # stripes
        t, period = rng.uniform(0, np.pi), rng.uniform(5, 16)
        y, x = np.mgrid[:CANVAS, :CANVAS]
        return ((np.sin((x * np.cos(t) + y * np.sin(t)) * 2 * np.pi / period) > 0) * 255.0)
    if kind == 2:  # checkerboard
        s = int(rng.integers(4, 16))
        y, x = np.mgrid[:CANVAS, :CANVAS]
        return (((x // s + y // s) % 2) * 255.0)
    if kind == 3:  # a collage of rectangles
        img = Image.new("L", (CANVAS, CANVAS), 0)
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(2, 6))):
            x0, y0 = rng.uniform(0, CANVAS - 12, 2)
            w, h = rng.uniform(8, 40, 2)
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=int(rng.integers(80, 256)))
        return np.asarray(img, dtype=np.float64)
    if kind == 4:  # uniform noise over a random part of the range
        lo = rng.uniform(0, 128)
        return rng.uniform(lo, 255, (CANVAS, CANVAS))
    return np.clip(rng.normal(rng.uniform(60, 200), rng.uniform(20, 80), (CANVAS, CANVAS)), 0, 255)


def make(seed: int = 0, textures: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """(outliers, printed digits), float32 [N, 28, 28] in [0, 1], white on black."""
    rng = np.random.default_rng(seed)
    faces = font_files() or [None]
    letters = [prepare(glyph(c, f, rng)) for f in faces for c in LETTERS]
    other = [prepare(_texture(i % 6, rng)) for i in range(textures)]
    printed = [prepare(glyph(c, f, rng)) for f in faces[::2] for c in DIGITS for _ in range(3)]
    return np.stack(letters + other).astype(np.float32), np.stack(printed).astype(np.float32)


def _drawn(font: Path | None, chars: str) -> list[str]:
    """The CHARS that FONT draws itself, not as its missing-glyph box (a private-use code point's)."""
    if font is None:
        return [c for c in chars if c.isascii()]
    face = ImageFont.truetype(str(font), 32)
    box = bytes(face.getmask("\ue000"))
    return [c for c in chars if face.getmask(c).getbbox() is not None and bytes(face.getmask(c)) != box]


def _tangle(rng: np.random.Generator) -> np.ndarray:
    """Four to seven random strokes, crossing: ink like a digit's, in no digit's shape."""
    img = Image.new("L", (CANVAS, CANVAS), 0)
    draw = ImageDraw.Draw(img)
    width = int(rng.integers(3, 8))
    for _ in range(int(rng.integers(4, 8))):
        points = [tuple(p) for p in rng.uniform(8, CANVAS - 8, (int(rng.integers(3, 5)), 2))]
        draw.line(points, fill=255, width=width, joint="curve")
    a = np.asarray(img)
    return 255 - a if rng.random() < 0.5 else a


def fonts_in(folder: Path) -> list[Path]:
    """The TrueType/OpenType files anywhere under FOLDER, sorted."""
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in (".ttf", ".otf") and p.is_file())


def exposure(count: int, seed: int = 0, more_fonts: Sequence[Path] = ()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(outliers [count], printed digits [<= count / 4], their labels): float32 [N, 28, 28] in
    [0, 1], white on black, for training the CNN itself. Outliers are a fifth each: Latin
    letters, other scripts' letters, signs, tangles, textures and noise. `more_fonts` draw
    letters and signs too, never the printed digits: those stay in the installed fonts' half
    that the evaluation's printed digits (bench/ood_data.py) leave."""
    rng = np.random.default_rng(seed)
    faces = font_files() or [None]
    pools = [[(f, c) for f in [*faces, *more_fonts] for c in _drawn(f, chars)] for chars in (LETTERS, FOREIGN, SIGNS)]
    images = []
    for i in range(count):
        kind = i % 5
        if kind < 3:
            face, char = pools[kind][int(rng.integers(len(pools[kind])))]
            images.append(prepare(glyph(char, face, rng)))
        elif kind == 3:
            images.append(prepare(_tangle(rng)))
        else:
            images.append(prepare(_texture(int(rng.integers(6)), rng)))
    printed, labels = [], []
    for i in range(max(1, count // 4)):
        digit = i % 10
        printed.append(prepare(glyph(DIGITS[digit], faces[::2][int(rng.integers(len(faces[::2])))], rng)))
        labels.append(digit)
    return np.stack(images).astype(np.float32), np.stack(printed).astype(np.float32), np.asarray(labels, np.int64)
