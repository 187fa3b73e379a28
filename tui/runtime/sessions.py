"""onnxruntime sessions: which execution provider to ask for, and how to open a model."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import onnxruntime as ort

from tui.runtime.choices import DEVICES
from tui.runtime.errors import DeviceError, ModelError
from tui.text import one_line

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
# onnxruntime's own log lines (a warning at load, an error inside a failed run) carry colour
# escapes and would interleave with our output; we report what matters ourselves, in one line.
FATAL_ONLY = 4
# Every CPU session allocates from one arena of at most this much: a graph that asks for more
# (a ConstantOfShape or Expand of gigabytes) fails its run with one line instead of taking the
# machine's memory. A batch piece of 512 images needs about 40 MB for the int8 cnn, so 16 threads
# side by side fit with room to spare.
MODEL_MEMORY = 1 << 30
_arena: list[bool] = []  # [True] once the shared arena is registered in this process


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
    ort.set_default_logger_severity(FATAL_ONLY)  # the logger a session has before its own
    options = ort.SessionOptions()
    # Warnings (such as a CUDA fallback) would interleave with our output; we report
    # what really runs ourselves.
    options.log_severity_level = FATAL_ONLY
    if _shared_arena():
        options.add_session_config_entry("session.use_env_allocators", "1")
    if interactive:
        # Spinning keeps a core busy for a while after each run: bad for an idle app.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
    return options


def _shared_arena() -> bool:
    """Register the process's capped CPU arena (once); False where onnxruntime cannot."""
    if not _arena:
        try:
            memory = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT)
            # max_mem, extend by what is asked (not doubling: no arena twice the need), defaults.
            ort.create_and_register_allocator(memory, ort.OrtArenaCfg(MODEL_MEMORY, 1, -1, -1))
            _arena.append(True)
        except Exception:  # noqa: BLE001 (onnxruntime's own types; "already registered" counts as done)
            _arena.append("already" in str(sys.exc_info()[1]).lower())
    return _arena[0]


def open_session(
    path: Path, providers: list[str], options: ort.SessionOptions, device: str
) -> ort.InferenceSession:
    """Load one model; ModelError if it cannot be read, DeviceError if CUDA fell back."""
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as error:  # noqa: BLE001 (onnxruntime raises its own unexported exception types)
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
