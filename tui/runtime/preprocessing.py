"""A model's `preprocessing` metadata (docs/model-contract.md), read once into a typed value.

`Preprocessing.model_view` is the one place the metadata is applied to images: every caller
hands an image model the same white-on-black input in [0, 1] that `tui.runtime.preprocess`
makes, and the model gets it inverted or thresholded as it asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tui.runtime.errors import UnusableModel

IMAGE = "image"
WHITE_ON_BLACK, BLACK_ON_WHITE = "white-on-black", "black-on-white"
MNIST_SIZE = (28, 28)


@dataclass(frozen=True)
class Preprocessing:
    """What a model takes: images (`size`, `polarity`, `binarize`), features, or a latent point."""

    kind: str = ""  # "image", "features" or "latent"
    size: tuple[int, int] = MNIST_SIZE
    channels: int = 1  # 1 for grey, 3 for colour: the input's last axis
    polarity: str = WHITE_ON_BLACK
    binarize: float | None = None  # pixels above this are 1, the rest 0
    features: tuple[str, ...] = ()
    units: str = ""
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)  # as written, for people

    @property
    def is_image(self) -> bool:
        """Whether the model takes images."""
        return self.kind == IMAGE

    def model_view(self, images: np.ndarray) -> np.ndarray:
        """White-on-black IMAGES in [0, 1] as this model takes them: inverted for a
        black-on-white model, thresholded where it says `binarize`."""
        if self.polarity == BLACK_ON_WHITE:
            images = 1.0 - images
        if self.binarize is not None:
            images = (images > self.binarize).astype(np.float32)
        return images

    @classmethod
    def from_metadata(cls, value: dict[str, Any], model: str) -> Preprocessing:
        """The metadata's JSON object; UnusableModel names the first value the runtime cannot use."""
        def bad(key: str, wanted: str) -> UnusableModel:
            return UnusableModel(model, f"preprocessing {key!r} should be {wanted}, not {str(value[key])[:40]!r}")

        size = value.get("size", MNIST_SIZE)
        if not (isinstance(size, (list, tuple)) and len(size) == 2
                and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in size)):
            raise bad("size", "two positive whole numbers")
        channels = value.get("channels", 1)
        if channels not in (1, 3) or isinstance(channels, bool):
            raise bad("channels", "1 (grey) or 3 (colour)")
        polarity = value.get("polarity") or WHITE_ON_BLACK
        if polarity not in (WHITE_ON_BLACK, BLACK_ON_WHITE):
            raise bad("polarity", f"{WHITE_ON_BLACK} or {BLACK_ON_WHITE}")
        binarize = value.get("binarize")
        if binarize is not None and (isinstance(binarize, bool) or not isinstance(binarize, (int, float))):
            raise bad("binarize", "a number or null")
        features = value.get("features") or []
        if not isinstance(features, list):
            raise bad("features", "a list of names")
        return cls(kind=str(value.get("kind", "")), size=(size[0], size[1]), channels=channels,
                   polarity=polarity,
                   binarize=None if binarize is None else float(binarize),
                   features=tuple(str(name) for name in features), units=str(value.get("units") or ""),
                   metadata=dict(value))
