"""Run the exported ONNX models with onnxruntime: no TensorFlow, no Textual.

Labels, preprocessing and metrics come from each model's metadata
(docs/model-contract.md), never from constants here.

Names are imported on first use, so `tui.runtime.choices` (the CLI's options) costs no
onnxruntime import.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui.runtime.choices import Device, Polarity
    from tui.runtime.classifier import Catalogue, Result, catalogue, classify_image
    from tui.runtime.core import Runtime
    from tui.runtime.errors import DeviceError, ModelError
    from tui.runtime.info import ModelInfo
    from tui.runtime.ood import Ood
    from tui.runtime.preprocess import ImageError, load_image, prepare, to_model_input
    from tui.runtime.preprocessing import Preprocessing

_HOME = {
    "Device": "choices", "Polarity": "choices", "Runtime": "core", "DeviceError": "errors",
    "ModelError": "errors", "ModelInfo": "info", "Ood": "ood", "ImageError": "preprocess", "load_image": "preprocess",
    "prepare": "preprocess", "to_model_input": "preprocess", "Preprocessing": "preprocessing",
    "Catalogue": "classifier", "Result": "classifier", "catalogue": "classifier",
    "classify_image": "classifier",
}
__all__ = [  # the names of _HOME
    "Catalogue", "Device", "DeviceError", "ImageError", "ModelError", "ModelInfo", "Ood", "Polarity",
    "Preprocessing", "Result", "Runtime", "catalogue", "classify_image", "load_image", "prepare", "to_model_input",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOME[name]}"), name)
