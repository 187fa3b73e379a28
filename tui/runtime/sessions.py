"""onnxruntime sessions: which execution provider to ask for, and how to open a model."""

from __future__ import annotations

import os
from pathlib import Path

import onnxruntime as ort

from tui.runtime.choices import DEVICES
from tui.runtime.errors import DeviceError, ModelError
from tui.text import one_line

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"


def cores() -> int:
    """The CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def providers_for(device: str) -> list[str]:
    """The providers to request for `device`; DeviceError when `cuda` is not built in."""
    if device not in DEVICES:
        raise DeviceError(f"unknown device {device!r}: use auto, cpu or cuda")
    has_cuda = CUDA in ort.get_available_providers()
    if device == "cuda" and not has_cuda:
        raise DeviceError(
            "CUDA is not available: this onnxruntime has no CUDA execution provider "
            "(install onnxruntime-gpu, or use --device cpu)"
        )
    return [CUDA, CPU] if has_cuda and device != "cpu" else [CPU]


def session_options(interactive: bool, threads: int | None = None) -> ort.SessionOptions:
    """Options for every session; `interactive` stops idle worker threads from spinning."""
    options = ort.SessionOptions()
    # Warnings (such as a CUDA fallback) would interleave with our output; we report
    # what really runs ourselves.
    options.log_severity_level = 3
    if interactive:
        # Spinning keeps a core busy for a while after each run: bad for an idle app.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
    return options


def open_session(
    path: Path, providers: list[str], options: ort.SessionOptions, device: str
) -> ort.InferenceSession:
    """Load one model; ModelError if it cannot be read, DeviceError if CUDA fell back."""
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as error:  # onnxruntime raises its own unexported exception types
        raise ModelError(f"cannot load model {path}: {_reason(error)}") from None
    # onnxruntime falls back to the CPU silently when CUDA libraries are missing.
    if device == "cuda" and session.get_providers()[0] != CUDA:
        raise DeviceError(
            "CUDA cannot run here: onnxruntime fell back to the CPU "
            "(CUDA or cuDNN libraries missing?); use --device cpu"
        )
    return session


def _reason(error: Exception) -> str:
    # "[ONNXRuntimeError] : 7 : INVALID_PROTOBUF : Load model from x failed:Protobuf ..."
    text = one_line(error)
    return text.rsplit(" : ", 1)[-1] if text.startswith("[ONNXRuntimeError]") else text
