"""Make the sample images in this folder: digits 1-9 in styles MNIST never saw, and a flower.

Run from the repository root: `python images/make_images.py`. Deterministic: fonts from
/usr/share/fonts/truetype/dejavu (DejaVu, free licence) and Pillow's own default font,
strokes and noise from a seeded generator, the flower from scikit-learn's sample images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

HERE = Path(__file__).resolve().parent
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
SIZE = 128
rng = np.random.default_rng(2024)


def font(name: str | None, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size) if name is None else ImageFont.truetype(DEJAVU / name, size)


def printed(digit: str, face: str | None, ink, paper, mode: str = "L", size: int = 90) -> Image.Image:
    """A digit typeset in the middle of a square, about 70% of its height."""
    img = Image.new(mode, (SIZE, SIZE), paper)
    draw = ImageDraw.Draw(img)
    draw.text((SIZE / 2, SIZE / 2), digit, font=font(face, size), fill=ink, anchor="mm")
    return img


def transparent(digit: str, face: str) -> Image.Image:
    """A dark digit on a fully transparent sheet: what a drawing program exports."""
    img = printed(digit, face, (20, 20, 60, 255), (0, 0, 0, 0), mode="RGBA")
    return img.filter(ImageFilter.SMOOTH)


def hand_drawn(strokes: list[list[tuple[float, float]]], ink: int, paper: int, width: int) -> Image.Image:
    """Strokes through jittered points, drawn as a pen would: round ends, smoothed."""
    big = 4 * SIZE  # draw large and shrink: soft edges like a scanned pen line
    img = Image.new("L", (big, big), paper)
    draw = ImageDraw.Draw(img)
    for stroke in strokes:
        points = np.array(stroke) * big + rng.normal(0, big * 0.008, (len(stroke), 2))
        path = _smooth(points)
        draw.line([tuple(p) for p in path], fill=ink, width=width * 4, joint="curve")
        for x, y in (path[0], path[-1]):
            r = width * 2
            draw.ellipse((x - r, y - r, x + r, y + r), fill=ink)
    return img.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def _smooth(points: np.ndarray, steps: int = 12) -> np.ndarray:
    """Catmull-Rom through the points: a hand's curve rather than a polygon."""
    p = np.vstack([points[0], points, points[-1]])
    out = []
    for i in range(1, len(p) - 2):
        for t in np.linspace(0, 1, steps, endpoint=False):
            t2, t3 = t * t, t * t * t
            out.append(0.5 * ((2 * p[i]) + (-p[i - 1] + p[i + 1]) * t
                              + (2 * p[i - 1] - 5 * p[i] + 4 * p[i + 1] - p[i + 2]) * t2
                              + (-p[i - 1] + 3 * p[i] - 3 * p[i + 1] + p[i + 2]) * t3))
    out.append(p[-2])
    return np.array(out)


def photographed(digit: str) -> Image.Image:
    """A digit printed on paper, photographed at an angle: perspective, uneven light,
    blur, sensor noise and JPEG."""
    side = 256
    paper = Image.new("L", (side, side), 235)
    ImageDraw.Draw(paper).text((side / 2, side / 2), digit, font=font("DejaVuSans-Bold.ttf", 170),
                               fill=40, anchor="mm")
    # Perspective: the top edge is further away, so narrower, and a little rotated.
    coeffs = _perspective([(0, 0), (side, 0), (side, side), (0, side)],
                          [(40, 20), (side - 20, 35), (side - 5, side - 10), (10, side - 25)])
    img = paper.transform((side, side), Image.Transform.PERSPECTIVE, coeffs,
                          Image.Resampling.BICUBIC, fillcolor=225)
    a = np.asarray(img, dtype=np.float32)
    yy, xx = np.mgrid[0:side, 0:side] / side
    a = a * (0.82 + 0.18 * xx) * (0.9 + 0.1 * (1 - yy))  # a lamp on the right
    a = np.asarray(Image.fromarray(a.clip(0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.6)),
                   dtype=np.float32)
    a += rng.normal(0, 9, a.shape)
    return Image.fromarray(a.clip(0, 255).astype(np.uint8)).convert("RGB").resize(
        (160, 160), Image.Resampling.LANCZOS)


def _perspective(src, dst) -> list[float]:
    """Coefficients for Image.transform: each output pixel (dst) samples input (src)."""
    rows = []
    for (x, y), (u, v) in zip(src, dst, strict=False):
        rows.append([u, v, 1, 0, 0, 0, -x * u, -x * v])
        rows.append([0, 0, 0, u, v, 1, -y * u, -y * v])
    return np.linalg.solve(np.array(rows, float), np.array(src, float).reshape(8)).tolist()


def flower() -> Image.Image:
    from sklearn.datasets import load_sample_image  # scikit-learn's bundled sample photo

    img = Image.fromarray(load_sample_image("flower.jpg"))
    img.thumbnail((192, 192), Image.Resampling.LANCZOS)
    return img


FIVE = [[(0.70, 0.16), (0.50, 0.17), (0.32, 0.16)],
        [(0.32, 0.16), (0.31, 0.33), (0.29, 0.47)],
        [(0.29, 0.47), (0.45, 0.41), (0.62, 0.45), (0.71, 0.60), (0.66, 0.76),
         (0.50, 0.85), (0.33, 0.83), (0.24, 0.76)]]
FOUR = [[(0.58, 0.14), (0.42, 0.38), (0.26, 0.62), (0.48, 0.62), (0.74, 0.61)],
        [(0.62, 0.38), (0.61, 0.60), (0.60, 0.86)]]


def main() -> None:
    images = {
        "1-serif-dark-on-light.png": printed("1", "DejaVuSerif.ttf", 0, 255),
        "2-sans-bold-light-on-dark.png": printed("2", "DejaVuSans-Bold.ttf", 255, 0),
        "3-mono-dark-on-light.png": printed("3", "DejaVuSansMono.ttf", 20, 245),
        "4-hand-drawn-dark-on-light.png": hand_drawn(FOUR, ink=30, paper=250, width=9),
        "5-hand-drawn-light-on-dark.png": hand_drawn(FIVE, ink=255, paper=0, width=10),
        "6-serif-italic-yellow-on-blue.png": printed("6", "DejaVuSerif-Italic.ttf", (250, 220, 60),
                                                     (20, 40, 110), mode="RGB"),
        "7-photographed-paper.jpg": photographed("7"),
        "8-pillow-default-font-red-on-white.png": printed("8", None, (200, 30, 30),
                                                          (255, 255, 255), mode="RGB"),
        "9-transparent-background.png": transparent("9", "DejaVuSansCondensed-Bold.ttf"),
        "not-a-digit-flower.jpg": flower(),
    }
    for name, img in images.items():
        path = HERE / name
        if name.endswith(".jpg"):
            img.save(path, quality=85, optimize=True)
        else:
            img.save(path, optimize=True)
        print(f"{path.stat().st_size:7d}  {name}")


if __name__ == "__main__":
    main()
