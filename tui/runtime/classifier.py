"""Classify images with every image classifier: the catalogue of models, and one result per model.

One path for the app's Classify and Draw screens and for `dl-tui classify`: which models are
image classifiers (and which are left out, and why), each model's input made at the size its
metadata asks for, its probabilities checked, its top labels and its OOD verdict. The CLI
batches files; each image's results are still built here (`result`, `verdict`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from tui.contract import probability_problem
from tui.runtime.errors import DeviceError, ModelError, UnusableModel
from tui.text import clean, one_line

if TYPE_CHECKING:  # onnxruntime and Pillow: not for the CLI's rows and writers
    from PIL import Image

    from tui.runtime.core import Runtime
    from tui.runtime.info import ModelInfo
    from tui.runtime.ood import Ood
    from tui.runtime.preprocessing import View

Size = tuple[int, int]  # (height, width), as a model's `preprocessing.size` says


# The catalogue ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Catalogue:
    """The image classifiers that load and keep the contract, and one line for each model left out."""

    models: list[ModelInfo]
    skipped: list[str] = field(default_factory=list)


def catalogue(runtime: Runtime, raising: tuple[type[Exception], ...] = ()) -> Catalogue:
    """Read every model's metadata (the first read opens its session): the image classifiers,
    in name order, and why each model that does not load was left out. One broken file
    never hides the others; errors of the `raising` types are raised."""
    models, lines = [], []
    for name in runtime.available():
        try:
            info = runtime.info(name)
        except raising:
            raise
        except Exception as error:  # noqa: BLE001 - off the contract or unreadable: left out, said why
            lines.append(skipped(name, error))
            continue
        if info.is_image_classifier:
            models.append(info)
    return Catalogue(models, lines)


def classifiers(runtime: Runtime, warn: Callable[[str], None] | None = None) -> list[ModelInfo]:
    """Every image classifier that loads and keeps the contract; `warn` hears of each model
    that does not, in one line. DeviceError (CUDA asked for, and fallen back) is raised: it is
    the run's problem, not one model's."""
    found = catalogue(runtime, (DeviceError,))
    if warn is not None:
        for line in found.skipped:
            warn(line)
    return found.models


def skipped(name: str, error: Exception) -> str:
    """The line that says a model was left out, and why."""
    if isinstance(error, UnusableModel):
        return f"skipped model {clean(name)}, unusable: {one_line(error.reason)}"
    return f"skipped model {clean(name)}: {one_line(error) or type(error).__name__}"


# One model's verdict on one image --------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    """A model's out-of-distribution verdict on one image (tui/runtime/ood.py)."""

    score: float  # higher is less like the training images
    flagged: bool  # score above the model's calibrated threshold (a NaN score is flagged)
    threshold: float
    method: str

    def item(self) -> dict[str, float | bool]:
        """`{"score": ..., "flagged": ...}`, as `dl-tui classify` writes it."""
        return {"score": self.score, "flagged": self.flagged}


def verdict(ood: Ood | None, index: int) -> Verdict | None:
    """The verdict on one image of a batch's Ood; None for a model without a calibration."""
    if ood is None:
        return None
    return Verdict(float(ood.scores[index]), bool(ood.flags[index]), ood.threshold, ood.method)


@dataclass(frozen=True, eq=False)
class Result:
    """One model's result for one image: its checked probabilities, or the error line that
    replaced them, and its OOD verdict where the model has a calibration."""

    model: str
    labels: tuple[str, ...]  # one name a class, in the model's order
    probabilities: np.ndarray | None  # [C], each in [0, 1], summing to 1; None with an error
    error: str | None = None
    ood: Verdict | None = None
    model_input: np.ndarray | None = None  # what it was given: [H, W] grey or [H, W, 3] colour, in [0, 1]

    @property
    def best(self) -> int | None:
        """The index of the most likely class (the first of equals), or None with an error."""
        return None if self.probabilities is None else int(np.argmax(self.probabilities))

    @property
    def label(self) -> str | None:
        """The most likely label."""
        return None if (best := self.best) is None else self.labels[best]

    @property
    def confidence(self) -> float | None:
        """The most likely label's probability."""
        best = self.best
        return None if best is None or self.probabilities is None else float(self.probabilities[best])

    def by_label(self) -> dict[str, float]:
        """Every label's probability, in the model's order."""
        if self.probabilities is None:
            return {}
        return dict(zip(self.labels, self.probabilities.tolist(), strict=False))

    def top(self, k: int | None = None) -> list[tuple[str, float]]:
        """The `k` most likely labels with their probabilities (all for None), likeliest first."""
        if self.probabilities is None:
            return []
        values = self.probabilities.tolist()
        order = sorted(range(len(values)), key=lambda i: -values[i])
        return [(self.labels[i], values[i]) for i in order[:k]]


def result(model: str, labels: Sequence[str], probabilities: np.ndarray, ood: Verdict | None = None,
           model_input: np.ndarray | None = None) -> Result:
    """The result of one image's probability vector: an error result if it is not a probability
    distribution (NaN, infinity, negative, above 1, a sum off 1). Labels that do not match
    the vector's length are replaced by class numbers."""
    values = np.asarray(probabilities)
    names = tuple(labels) if len(labels) == len(values) else tuple(str(i) for i in range(len(values)))
    if problem := probability_problem(values.tolist()):
        return Result(model, names, None, problem, ood, model_input)
    return Result(model, names, values, None, ood, model_input)


def failed(model: str, labels: Sequence[str], error: str, model_input: np.ndarray | None = None) -> Result:
    """The result of a model that could not classify the image."""
    return Result(model, tuple(labels), None, error, None, model_input)


# Running models --------------------------------------------------------------------------------

def predict(runtime: Runtime, info: ModelInfo, images: np.ndarray) -> tuple[np.ndarray, Ood | None]:
    """The model's probabilities [N, C] and OOD scores for a batch of model inputs [N, H, W]
    at its size; ModelError (one line) when it breaks its contract or fails to run."""
    try:
        return runtime.predict_ood(info.name, images)
    except ModelError:
        raise
    except Exception as error:  # noqa: BLE001 - onnxruntime's own types: a model that breaks its contract
        raise ModelError(f"model {info.name} failed to run: {one_line(error)}") from None


def model_inputs(image: Image.Image, models: Iterable[ModelInfo], polarity: str | None = "auto",
                 normalize: bool | None = True) -> dict[View, np.ndarray]:
    """One model input per distinct view the models take (`input_view`): [H, W] white on black
    for MNIST models, [H, W] or [H, W, 3] for stretch models, each in [0, 1]; a model's own polarity,
    binarising and channels are applied when it runs (Runtime.predict_ood)."""
    views = dict.fromkeys(input_view(info, polarity, normalize) for info in models)
    return {view: view.make(image) for view in views}


def input_view(info: ModelInfo, polarity: str | None = "auto", normalize: bool | None = True) -> View:
    """The input one model takes, with the user's --polarity and --normalize (None: not given;
    MNIST models then get auto and centring, stretch models the picture as it is)."""
    return info.preprocessing.view(polarity, normalize)


def needs_colour(models: Iterable[ModelInfo]) -> bool:
    """Whether some model takes colour: the picture is then read in colour (once)."""
    return any(info.preprocessing.view().colour for info in models)


def input_for(inputs: Mapping[View, np.ndarray], info: ModelInfo) -> np.ndarray | None:
    """The input among `model_inputs`' that this model takes (its size, channels and fit), or None."""
    return next((x for view, x in inputs.items() if info.preprocessing.takes(view)), None)


def mnist_input(inputs: Mapping[View, np.ndarray]) -> np.ndarray | None:
    """The MNIST-steps 28x28 input among them (what the latent map's encoder takes), or None."""
    from tui.runtime.preprocessing import MNIST_SIZE

    return next((x for view, x in inputs.items() if not view.stretched and view.size == MNIST_SIZE), None)


def classify_inputs(runtime: Runtime, models: Iterable[ModelInfo],
                    inputs: Mapping[View, np.ndarray]) -> list[Result]:
    """Every model's result for one image, given `model_inputs`' views of it; a model that
    fails gets an error result and the others still run."""
    results = []
    for info in models:
        x = input_for(inputs, info)
        if x is None:
            raise ValueError(f"no input made for model {info.name}")
        try:  # onnxruntime's own message, as the app has always shown it
            probabilities, ood = runtime.predict_ood(info.name, x[None])
        except Exception as error:  # noqa: BLE001 - a model that fails shows its error in its own place
            results.append(failed(info.name, info.labels, one_line(error) or type(error).__name__, x))
            continue
        results.append(result(info.name, info.labels, probabilities[0], verdict(ood, 0), x))
    return results


def classify_image(runtime: Runtime, models: Iterable[ModelInfo], image: Image.Image,
                   polarity: str | None = "auto", normalize: bool | None = True) -> list[Result]:
    """Classify one picture with every model, each with its own input (size, channels, fit):
    the result of each, in the models' order, with the input that model was given."""
    models = list(models)
    return classify_inputs(runtime, models, model_inputs(image, models, polarity, normalize))
