"""A model's `preprocessing` metadata (docs/model-contract.md), read once into a typed value.

Two ways a picture becomes a model's input, as the metadata's `fit` says:
- `mnist` (or no `fit`: the shipped models): the MNIST steps of `tui.runtime.preprocess.to_model_input`
  (polarity read from the picture, the digit cropped and centred), white on black in [0, 1];
  `Preprocessing.model_view` then inverts or thresholds it as the model asked.
- `stretch` (models trained on a folder by `dl-train folder`): the whole picture stretched to
  the model's size with its `resize` filter, grey or colour as its `channels` say, divided by
  255 (`tui.runtime.preprocess.picture_array`): exactly what the trainer cached. The user's
  `--polarity` applies only when given; `--normalize` (MNIST centring) only when given, and to
  grey models only.

A `View` names one such input; models with equal views share one array per picture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tui.contract import FIT_MNIST, FIT_STRETCH, FITS, RESIZES
from tui.runtime.errors import UnusableModel

if TYPE_CHECKING:
    from PIL import Image

IMAGE = "image"
WHITE_ON_BLACK, BLACK_ON_WHITE = "white-on-black", "black-on-white"
MNIST_SIZE = (28, 28)
DEFAULT_RESIZE = "bilinear"


@dataclass(frozen=True)
class View:
    """One kind of model input made from a picture: what `make` does, and all it depends on.
    Grey views are [H, W] (MNIST's white on black, or a grey stretch model's picture); colour
    views [H, W, 3]. The runtime gives a grey input to a model as its [N, H, W, 1]."""

    size: tuple[int, int] = MNIST_SIZE
    channels: int = 1
    fit: str = FIT_MNIST
    resize: str = DEFAULT_RESIZE
    polarity: str = "auto"  # auto, keep or invert
    normalize: bool = True  # MNIST crop and centring

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one input: [H, W] grey, [H, W, 3] colour."""
        return (*self.size, 3) if self.colour else self.size

    @property
    def stretched(self) -> bool:
        """A stretch view: [H, W, channels], the whole picture."""
        return self.fit == FIT_STRETCH

    @property
    def colour(self) -> bool:
        """Whether the picture must be read in colour."""
        return self.fit == FIT_STRETCH and self.channels == 3

    def make(self, picture: Image.Image) -> np.ndarray:
        """This view of a picture from `load_image` (grey, or RGB for colour views; an RGB
        picture is turned grey for a grey view, a grey one repeated for a colour view)."""
        from tui.runtime.preprocess import picture_array, to_model_input

        if self.fit != FIT_STRETCH:
            return to_model_input(picture, self.polarity, self.normalize, self.size)
        if self.normalize and self.channels == 1:
            return to_model_input(picture, self.polarity, True, self.size)
        a = picture_array(picture, self.size, self.channels, self.resize)
        if self.polarity == "invert" or (self.polarity == "auto" and _light(a)):
            a = 255 - a
        a = a if self.channels == 3 else a[..., 0]
        return a.astype(np.float32) / 255.0


def _light(a: np.ndarray) -> bool:
    """A picture with a light background (its border's median above the middle grey)."""
    from tui.runtime.mnist import border_median

    grey = a[..., 0] if a.shape[-1] == 1 else a.mean(axis=-1).astype(np.uint8)
    return border_median(grey) > 127


@dataclass(frozen=True)
class Preprocessing:
    """What a model takes: images (`size`, `channels`, `fit`, `resize`, `polarity`, `binarize`),
    features, or a latent point."""

    kind: str = ""  # "image", "features" or "latent"
    size: tuple[int, int] = MNIST_SIZE
    channels: int = 1  # 1 for grey, 3 for colour: the input's last axis
    polarity: str = WHITE_ON_BLACK
    binarize: float | None = None  # pixels above this are 1, the rest 0
    features: tuple[str, ...] = ()
    units: str = ""
    fit: str = FIT_MNIST  # "mnist": MNIST's steps; "stretch": the whole picture stretched
    resize: str = DEFAULT_RESIZE  # the filter a stretch model's pictures are resized with
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)  # as written, for people

    @property
    def is_image(self) -> bool:
        """Whether the model takes images."""
        return self.kind == IMAGE

    @property
    def stretch(self) -> bool:
        """A model trained on a folder: the whole picture, stretched, as it is."""
        return self.fit == FIT_STRETCH

    def view(self, polarity: str | None = None, normalize: bool | None = None) -> View:
        """The input this model takes, with the user's --polarity and --normalize where given
        (None: not given). MNIST models default to auto polarity and centring; stretch models
        to the picture as it is."""
        if not self.stretch:
            return View(self.size, 1, FIT_MNIST, DEFAULT_RESIZE, polarity or "auto",
                        True if normalize is None else normalize)
        return View(self.size, self.channels, FIT_STRETCH, self.resize, polarity or "keep",
                    bool(normalize) and self.channels == 1)

    def takes(self, view: View) -> bool:
        """Whether VIEW is an input of this model's kind (size, channels, fit, resize),
        whatever polarity and normalize it was made with."""
        own = self.view()
        return (view.size, view.channels, view.fit, view.resize) == (own.size, own.channels, own.fit, own.resize)

    def model_view(self, images: np.ndarray) -> np.ndarray:
        """IMAGES in [0, 1] as this model takes them: an MNIST model's white-on-black input
        inverted for a black-on-white model; thresholded where it says `binarize`."""
        if self.polarity == BLACK_ON_WHITE and not self.stretch:
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
        fit = value.get("fit") or FIT_MNIST
        if fit not in FITS:
            raise bad("fit", " or ".join(FITS))
        resize = value.get("resize") or DEFAULT_RESIZE
        if resize not in RESIZES:
            raise bad("resize", ", ".join(RESIZES))
        if fit == FIT_STRETCH and value.get("range", [0, 1]) != [0, 1]:
            raise bad("range", "[0, 1] (a stretch model takes pixels / 255)")
        return cls(kind=str(value.get("kind", "")), size=(size[0], size[1]), channels=channels,
                   polarity=polarity,
                   binarize=None if binarize is None else float(binarize),
                   features=tuple(str(name) for name in features), units=str(value.get("units") or ""),
                   fit=fit, resize=resize, metadata=dict(value))
