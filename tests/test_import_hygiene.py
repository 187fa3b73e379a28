"""The inference side never imports TensorFlow, Keras, tf2onnx or the trainer."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import tui

FORBIDDEN = ("tensorflow", "keras", "tf2onnx", "trainer")


def tui_modules() -> list[str]:
    return ["tui"] + [m.name for m in pkgutil.walk_packages(tui.__path__, "tui.")]


def test_importing_every_tui_module_leaves_no_tensorflow():
    modules = tui_modules()
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=Path(tui.__file__).parent.parent)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
    assert len(modules) > 1
