"""Run the exported ONNX models with onnxruntime: no TensorFlow, no Textual.

Labels, preprocessing and metrics come from each model's metadata
(docs/model-contract.md), never from constants here.
"""

from tui.runtime.core import Runtime
from tui.runtime.errors import DeviceError, ModelError
from tui.runtime.info import ModelInfo
from tui.runtime.preprocess import ImageError, load_image, prepare, to_model_input

__all__ = [
    "DeviceError",
    "ImageError",
    "ModelError",
    "ModelInfo",
    "Runtime",
    "load_image",
    "prepare",
    "to_model_input",
]
