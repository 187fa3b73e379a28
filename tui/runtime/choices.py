"""The choices a user has over how models run, for the CLI's options and the app alike.

No onnxruntime here: `dl-tui --help` lists them without loading it.
"""

from __future__ import annotations

from enum import Enum


class Device(str, Enum):
    """Where the models run: `auto` is CUDA where onnxruntime-gpu can run it, else the CPU."""

    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class Polarity(str, Enum):
    """How a picture's polarity is read: `auto` inverts one with a light background."""

    auto = "auto"
    keep = "keep"
    invert = "invert"


class Precision(str, Enum):
    """Which file runs a model: `auto` is its int8 twin where one meets the bar (on the CPU), else float."""

    auto = "auto"
    float = "float"
    int8 = "int8"


PRECISION_ENV = "DL_TUI_PRECISION"  # read by every Runtime, so worker processes and the app follow it
DEVICES = tuple(device.value for device in Device)
POLARITIES = tuple(polarity.value for polarity in Polarity)
