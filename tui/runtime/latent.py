"""The latent space: where to sample the VAE and how to tile its digits, and the map of encoded test digits."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import numpy as np

from tui import contract
from tui.runtime.errors import ModelError

DIGIT = 28
DEFAULT_N = 20
MIN_N, MAX_N = 2, 40
CURSOR_RGB = (255, 170, 0)


def quantiles(n: int) -> np.ndarray:
    """The standard normal's quantiles at n evenly spaced levels from 0.05 to 0.95, as in the notebook."""
    # statistics.NormalDist keeps SciPy and TensorFlow Probability out of the app.
    levels = np.linspace(0.05, 0.95, n)
    return np.array([NormalDist().inv_cdf(float(p)) for p in levels], dtype=np.float32)


def grid_points(n: int) -> np.ndarray:
    """Latent points [n*n, 2] in row-major order: row i has y = q[i], column j has x = q[j]."""
    q = quantiles(n)
    # The notebook's loop: for i, yi in enumerate(grid_x): for j, xi in enumerate(grid_y): z = [xi, yi].
    xs, ys = np.meshgrid(q, q)
    return np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Pixel probabilities from the decoder's logits, without overflow warnings for large logits."""
    return (0.5 * (1.0 + np.tanh(0.5 * logits.astype(np.float32)))).astype(np.float32)


def to_digits(logits: np.ndarray, n: int) -> np.ndarray:
    """The decoder's logits [n*n, 28, 28, 1] as pixel probabilities [n, n, 28, 28]."""
    return sigmoid(logits).reshape(n, n, DIGIT, DIGIT)


def tile(digits: np.ndarray) -> np.ndarray:
    """Digits [n, n, 28, 28] in [0, 1] as one greyscale picture [n*28, n*28] of uint8."""
    n = digits.shape[0]
    picture = digits.transpose(0, 2, 1, 3).reshape(n * DIGIT, n * DIGIT)
    return np.clip(np.rint(picture * 255.0), 0, 255).astype(np.uint8)


def with_cursor(picture: np.ndarray, row: int, col: int, width: int = 3) -> np.ndarray:
    """The grid picture as RGB [H, W, 3] with cell (row, col) outlined in the cursor colour.

    The outline straddles the cell's edge, `width` pixels either side: it lies in the empty margins
    of MNIST-style digits, so the digit itself keeps its own pixels, and it stays thick enough to
    see when the picture is scaled down to a few cells per digit.
    """
    rgb = np.repeat(picture[:, :, None], 3, axis=2)
    height, full_width = picture.shape[:2]
    top, left = row * DIGIT, col * DIGIT
    bottom, right = top + DIGIT, left + DIGIT
    rows = slice(max(0, top - width), min(height, bottom + width))
    cols = slice(max(0, left - width), min(full_width, right + width))
    for edge in (top, bottom):
        rgb[max(0, edge - width) : min(height, edge + width), cols] = CURSOR_RGB
    for edge in (left, right):
        rgb[rows, max(0, edge - width) : min(full_width, edge + width)] = CURSOR_RGB
    return rgb


def clamp_n(n: int) -> int:
    """n kept within the sizes the grid supports."""
    return max(MIN_N, min(MAX_N, n))


# The latent map: the encoded MNIST test set, shipped beside the encoder ------------------

ENCODER = "vae-encoder"
MAP_FILE = contract.LATENT_MAP_FILE
# Ten colours a terminal shows apart on black (Tableau's ten), one per digit.
DIGIT_RGB = np.array([(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                      (140, 86, 75), (227, 119, 194), (190, 190, 190), (188, 189, 34), (23, 190, 207)],
                     dtype=np.uint8)
MAP_EXTENT = 3.5  # the map shows z in [-3.5, 3.5]^2: nearly every test digit, and the grid's square inside
MAP_PIXELS = 280


def encode(runtime, images: np.ndarray, name: str = ENCODER) -> np.ndarray:
    """Latent means [N, 2] of white-on-black images [N, 28, 28] in [0, 1], preprocessed as the encoder's
    metadata says (binarised for the shipped VAE)."""
    info = runtime.info(name)
    (input_name, shape, _), = info.inputs
    x = np.asarray(images, dtype=np.float32).reshape(len(images), *[d if isinstance(d, int) else -1
                                                                    for d in shape[1:]])
    outputs = runtime.run(name, {input_name: np.ascontiguousarray(info.preprocessing.model_view(x))})
    return np.asarray(outputs.get("mean", next(iter(outputs.values()))), dtype=np.float32)


def sha256(path: Path) -> str:
    """The file's SHA-256, to tie a map to the encoder that made it."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_map(path: Path, means: np.ndarray, labels: np.ndarray, encoder_sha256: str) -> None:
    """Save a latent map (tui/contract.py's format): means as float16 (about 40 KB for 10,000
    digits), labels as uint8."""
    contract.write_latent_map(path, means, labels, encoder_sha256)


@dataclass(frozen=True)
class LatentMap:
    """The encoded test digits: 2-D means and their labels."""

    means: np.ndarray  # [N, 2] float32
    labels: np.ndarray  # [N] uint8


def load_map(encoder_path: Path) -> LatentMap:
    """The map beside the encoder file, made from that very encoder; ModelError says why not."""
    path = Path(encoder_path).with_name(MAP_FILE)
    if not path.is_file():
        raise ModelError(f"no {MAP_FILE} beside {Path(encoder_path).name} (dl-train vae writes one; "
                         "python bench/latent_map.py makes one for any encoder)")
    try:  # a damaged file, or one of another shape: say so rather than crash the screen
        means, labels, made_from = contract.read_latent_map(path)
    except contract.ContractError as error:
        raise ModelError(str(error)) from None
    if made_from != sha256(encoder_path):
        raise ModelError(f"{MAP_FILE} was made by another {Path(encoder_path).name}: make it again")
    return LatentMap(means, labels)


def to_map_pixel(z: np.ndarray, size: int = MAP_PIXELS, extent: float = MAP_EXTENT) -> np.ndarray:
    """Pixel (x, y) of latent points [N, 2] on the map: x rightwards, y downwards as the grid has it."""
    scaled = (np.asarray(z, np.float32) + extent) / (2 * extent) * (size - 1)
    return np.rint(np.clip(scaled, 0, size - 1)).astype(int)


def from_map_pixel(x: float, y: float, size: int = MAP_PIXELS, extent: float = MAP_EXTENT) -> np.ndarray:
    """The latent point at map pixel (x, y)."""
    return (np.array([x, y], np.float32) / (size - 1) * 2 - 1) * extent


def draw_map(latent_map: LatentMap, size: int = MAP_PIXELS, extent: float = MAP_EXTENT) -> np.ndarray:
    """The scatter as RGB [size, size, 3]: each digit a dot in its colour, on black, with the
    decoded grid's square (the 0.05-0.95 quantiles) outlined faintly."""
    rgb = np.zeros((size, size, 3), np.uint8)
    q = float(quantiles(2)[1])
    lo, hi = to_map_pixel(np.array([[-q, -q], [q, q]]), size, extent)
    rgb[lo[1]:hi[1] + 1, [lo[0], hi[0]]] = rgb[[lo[1], hi[1]], lo[0]:hi[0] + 1] = 70
    centre = to_map_pixel(np.zeros((1, 2)), size, extent)[0]
    rgb[centre[1], :] = np.maximum(rgb[centre[1], :], 35)
    rgb[:, centre[0]] = np.maximum(rgb[:, centre[0]], 35)
    pixels = to_map_pixel(latent_map.means, size, extent)
    colours = DIGIT_RGB[latent_map.labels % 10]
    for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):  # 2x2 dots: visible after the terminal scales down
        rgb[np.minimum(pixels[:, 1] + dy, size - 1), np.minimum(pixels[:, 0] + dx, size - 1)] = colours
    return rgb


def mark(rgb: np.ndarray, z: np.ndarray, colour: tuple[int, int, int], radius: int = 7,
         extent: float = MAP_EXTENT) -> None:
    """Draw a ring with a cross at latent point z on the map, in place."""
    size = rgb.shape[0]
    cx, cy = to_map_pixel(np.asarray(z)[None], size, extent)[0]
    ys, xs = np.ogrid[:size, :size]
    distance = np.sqrt((xs - cx) ** 2 + (ys - cy) ** 2)
    rgb[(distance >= radius - 1.5) & (distance <= radius + 1.5)] = colour
    rgb[max(0, cy - 1):cy + 2, max(0, cx - 3):cx + 4] = colour
    rgb[max(0, cy - 3):cy + 4, max(0, cx - 1):cx + 2] = colour


def line(rgb: np.ndarray, a: np.ndarray, b: np.ndarray, colour: tuple[int, int, int],
         extent: float = MAP_EXTENT) -> None:
    """Draw the segment from latent point a to b on the map, two pixels thick, in place."""
    size = rgb.shape[0]
    pa, pb = to_map_pixel(np.stack([a, b]), size, extent)
    steps = int(np.abs(pb - pa).max()) + 1
    for t in np.linspace(0.0, 1.0, steps):
        x, y = np.rint(pa + t * (pb - pa)).astype(int)
        rgb[y:y + 2, x:x + 2] = colour


def segment(a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
    """`steps` latent points [steps, 2] evenly from a to b, both ends included (the notebook's morph)."""
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    return ((1 - t) * np.asarray(a, np.float32) + t * np.asarray(b, np.float32)).astype(np.float32)
