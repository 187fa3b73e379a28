"""Which pixels made a classifier decide: explanations that need only onnxruntime.

Every method masks the model input (a masked pixel is set to the input's background) and runs
the masked copies through the model in a few batched `Runtime.predict` calls; the heat map is
how much the explained class's probability depends on each pixel. The background is 0 for
MNIST-fit inputs (white on black after `to_model_input`) and the per-channel median of the
image's border for stretch (folder) models. docs/explain.md has the methods, their measured
faithfulness and speed, and why the default is the default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

    from tui.runtime.core import Runtime
    from tui.runtime.info import ModelInfo

OCCLUSION = "occlusion"
RISE = "rise"
# The default first: RISE beats plain occlusion on every shipped classifier (docs/explain.md).
METHODS: tuple[str, ...] = (RISE, OCCLUSION)
DEFAULT_METHOD = RISE


@dataclass(frozen=True)
class Explanation:
    """One model's explanation of one input: a heat map at the model's input size."""

    model: str
    label: str  # the class explained
    label_index: int
    confidence: float  # the model's probability of that class on the unmasked input
    heat: np.ndarray  # float32 [H, W], aligned with the model input; higher = more evidence for the class
    method: str

    def regions(self, k: int = 3) -> list[dict[str, Any]]:
        """The `k` biggest connected regions of positive evidence, biggest first: their box
        (`x`, `y`, `width`, `height` in model-input pixels) and `share` of all positive evidence."""
        return regions(self.heat, k)


def background(info: ModelInfo, x: np.ndarray) -> np.ndarray:
    """What a deleted pixel is set to: 0 for an MNIST-fit input (white on black); the
    per-channel median of the image's border for a stretch model's picture. Shape [C] (C = 1
    for a grey [H, W] input)."""
    a = x if x.ndim == 3 else x[..., None]
    if not info.preprocessing.stretch:
        return np.zeros(a.shape[-1], np.float32)
    border = np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])
    return np.median(border, axis=0).astype(np.float32)


def explain(runtime: Runtime, info: ModelInfo, x: np.ndarray, label_index: int | None = None,
            method: str = DEFAULT_METHOD, seed: int = 0) -> Explanation:
    """Explain the model's decision on ONE model input `x` ([H, W] grey or [H, W, 3] colour in
    [0, 1], as `classifier.model_inputs` makes it); `label_index` None explains the top class."""
    if method not in METHODS:
        raise ValueError(f"unknown explanation method {method!r}: use one of {', '.join(METHODS)}")
    x = np.asarray(x, np.float32)
    probabilities = runtime.predict(info.name, x[None])[0]
    index = int(np.argmax(probabilities)) if label_index is None else int(label_index)
    if not 0 <= index < len(probabilities):
        raise ValueError(f"model {info.name} has {len(probabilities)} classes, not a class {index}")
    bg = background(info, x)

    def score(masks: np.ndarray) -> np.ndarray:
        """The class's probability on each masked copy; masks [K, H, W], 1 keeps a pixel."""
        return class_probability(runtime, info, x, bg, masks, index)

    heat = METHOD_FUNCTIONS[method](score, x.shape[:2], float(probabilities[index]), seed)
    label = info.labels[index] if index < len(info.labels) else str(index)
    return Explanation(info.name, label, index, float(probabilities[index]),
                       heat.astype(np.float32), method)


def class_probability(runtime: Runtime, info: ModelInfo, x: np.ndarray, bg: np.ndarray,
                      masks: np.ndarray, index: int) -> np.ndarray:
    """The probability of class `index` on each copy of `x` masked by `masks` [K, H, W]
    (1 keeps a pixel, 0 sets it to `bg`, values between blend), in one batched run."""
    m = masks.astype(np.float32)
    m = m[..., None] if x.ndim == 3 else m
    batch = x[None] * m + (bg if x.ndim == 3 else bg[0]) * (1.0 - m)
    return runtime.predict(info.name, batch.astype(np.float32))[:, index]


# The methods: each takes score(masks) -> probabilities, the input's (H, W), p0 and a seed ------

Score = Callable[[np.ndarray], np.ndarray]


def patch_starts(length: int, patch: int, stride: int) -> list[int]:
    """Start offsets of patches along one side, the last one flush with the edge."""
    starts = list(range(0, max(length - patch, 0) + 1, stride))
    if starts[-1] + patch < length:
        starts.append(length - patch)
    return starts


def patch_masks(size: tuple[int, int], patch: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """Keep-masks [K, H, W] with one `patch` rectangle deleted each, at every `stride`."""
    (h, w), (ph, pw) = size, (min(patch[0], size[0]), min(patch[1], size[1]))
    masks = []
    for y in patch_starts(h, ph, stride[0]):
        for x in patch_starts(w, pw, stride[1]):
            m = np.ones((h, w), np.float32)
            m[y : y + ph, x : x + pw] = 0.0
            masks.append(m)
    return np.stack(masks)


def scaled_patch(size: tuple[int, int], patch: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """A patch of `patch` pixels at 28x28, scaled to the input's size, and its stride (half)."""
    ph, pw = (max(1, round(patch * side / 28)) for side in size)
    return (ph, pw), (max(1, ph // 2), max(1, pw // 2))


def occlusion_heat(score: Score, size: tuple[int, int], p0: float, patch: int = 4) -> np.ndarray:
    """Plain occlusion: the class probability's drop when a patch (4x4 at 28x28, stride 2) is
    deleted, averaged over the patches that cover each pixel. One batched run."""
    masks = patch_masks(size, *scaled_patch(size, patch))
    drops = p0 - score(masks)
    deleted = 1.0 - masks
    return (np.tensordot(drops, deleted, axes=1) / np.maximum(deleted.sum(axis=0), 1.0)).astype(np.float32)


def rise_heat(score: Score, size: tuple[int, int], p0: float, seed: int, count: int = 200,
              cells: int = 7, keep: float = 0.5, shrink: float = 2.0) -> np.ndarray:
    """RISE (Petsiuk et al. 2018): `count` random masks, each a `cells` x `cells` grid of kept
    (probability `keep`) cells, smoothly enlarged and shifted at random; a pixel's heat is the
    class probability's mean when it is kept minus its mean when it is deleted, shrunk towards
    0 by `shrink` standard errors of that difference (what chance alone gives a pixel that
    does not matter)."""
    masks = random_masks(size, count, cells, keep, seed)
    p = score(masks).astype(np.float64)
    kept = np.maximum(masks.sum(axis=0), 1e-6)
    deleted = np.maximum(count - masks.sum(axis=0), 1e-6)
    mean_kept = np.tensordot(p, masks, axes=1) / kept
    mean_deleted = np.tensordot(p, 1.0 - masks, axes=1) / deleted
    heat = mean_kept - mean_deleted
    if shrink > 0:
        var_kept = np.tensordot(p**2, masks, axes=1) / kept - mean_kept**2
        var_deleted = np.tensordot(p**2, 1.0 - masks, axes=1) / deleted - mean_deleted**2
        error = np.sqrt(np.clip(var_kept, 0, None) / kept + np.clip(var_deleted, 0, None) / deleted)
        # A hundredth of the raw difference keeps the order among the pixels shrunk to 0.
        heat = np.sign(heat) * np.clip(np.abs(heat) - shrink * error, 0.0, None) + 0.01 * heat
    return heat.astype(np.float32)


@lru_cache(maxsize=8)
def random_masks(size: tuple[int, int], count: int, cells: int, keep: float, seed: int) -> np.ndarray:
    """RISE's masks [count, H, W] in [0, 1]: random grids, bilinearly enlarged, randomly shifted.
    The same for every image of a size (made once, read-only)."""
    from PIL import Image

    h, w = size
    rng = np.random.default_rng(seed)
    ch, cw = -(-h // cells), -(-w // cells)  # one cell's size, rounded up
    grids = (rng.random((count, cells + 1, cells + 1)) < keep).astype(np.float32)
    big = (cells + 1) * ch, (cells + 1) * cw
    masks = np.empty((count, h, w), np.float32)
    for i, (grid, dy, dx) in enumerate(zip(grids, rng.integers(0, ch, count), rng.integers(0, cw, count),
                                           strict=True)):
        up = np.asarray(Image.fromarray(grid, "F").resize((big[1], big[0]), Image.Resampling.BILINEAR))
        masks[i] = up[dy : dy + h, dx : dx + w]
    masks.flags.writeable = False
    return masks


METHOD_FUNCTIONS: dict[str, Callable[[Score, tuple[int, int], float, int], np.ndarray]] = {
    RISE: lambda score, size, p0, seed: rise_heat(score, size, p0, seed),
    OCCLUSION: lambda score, size, p0, seed: occlusion_heat(score, size, p0),
}


# Regions and the overlay ------------------------------------------------------------------------

def regions(heat: np.ndarray, k: int = 3, top: float = 0.1) -> list[dict[str, Any]]:
    """The `k` biggest 8-connected regions among the `top` share of pixels with the most positive
    evidence, by their share of all positive evidence, biggest first."""
    positive = np.clip(np.nan_to_num(heat), 0.0, None)
    total = float(positive.sum())
    if total <= 0.0:
        return []
    count = max(1, round(top * positive.size))
    threshold = np.partition(positive.ravel(), -count)[-count]
    chosen = (positive >= threshold) & (positive > 0)
    found = []
    for pixels in _components(chosen):
        ys, xs = pixels[:, 0], pixels[:, 1]
        share = float(positive[ys, xs].sum()) / total
        found.append({"x": int(xs.min()), "y": int(ys.min()), "width": int(xs.max() - xs.min() + 1),
                      "height": int(ys.max() - ys.min() + 1), "share": round(share, 4)})
    found.sort(key=lambda region: -region["share"])
    return found[:k]


def _components(chosen: np.ndarray) -> list[np.ndarray]:
    """The 8-connected components of a boolean [H, W] mask, each as its [N, 2] (y, x) pixels."""
    h, w = chosen.shape
    seen = np.zeros_like(chosen)
    components = []
    for start in zip(*np.nonzero(chosen), strict=True):
        if seen[start]:
            continue
        seen[start] = True
        stack, pixels = [start], []
        while stack:
            y, x = stack.pop()
            pixels.append((y, x))
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    ny, nx = y + dy, x + dx
                    if 0 <= ny < h and 0 <= nx < w and chosen[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        stack.append((ny, nx))
        components.append(np.array(pixels, dtype=np.int64))
    return components


def overlay(x: np.ndarray, heat: np.ndarray, scale: int = 8) -> Image.Image:
    """The model input (grey or colour) enlarged `scale` times, nearest, with the heat map laid
    over it: positive evidence from red (weak) to yellow (strong), transparent where it is ~0,
    negative evidence a faint blue."""
    from PIL import Image

    a = np.asarray(x, np.float32)
    rgb = np.repeat(a[..., None], 3, axis=-1) if a.ndim == 2 else a[..., :3]
    rgb = np.clip(np.nan_to_num(rgb), 0.0, 1.0)
    h = np.nan_to_num(np.asarray(heat, np.float32))
    peak = float(np.abs(h).max())
    v = h / peak if peak > 0 else np.zeros_like(h)
    pos, neg = np.clip(v, 0.0, 1.0), np.clip(-v, 0.0, 1.0)
    warm = np.stack([np.ones_like(pos), pos, np.zeros_like(pos)], axis=-1)  # red -> yellow
    alpha = np.clip(pos * 1.5, 0.0, 0.85)[..., None]
    out = rgb * (1.0 - alpha) + warm * alpha
    cold = np.clip(neg * 0.6, 0.0, 0.5)[..., None]
    out = out * (1.0 - cold) + np.array([0.2, 0.4, 1.0], np.float32) * cold
    picture = Image.fromarray((np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), "RGB")
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)
    return picture
