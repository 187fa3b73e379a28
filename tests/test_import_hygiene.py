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


# What a one-image `dl-tui classify` must not load: each costs its cold start (target 0.3 s
# from process start to exit, bench/run.py section 4). Typer builds a pydantic adapter for
# every parameter (~150 ms); Ray's engine and Textual are for other commands.
NOT_FOR_ONE_IMAGE = ("typer", "pydantic", "ray", "textual", "tui.classify.ray_engine", "tui.app",
                     "concurrent.futures.process")


def test_one_image_classify_loads_nothing_it_does_not_use(tmp_path):
    image = Path(tui.__file__).parent.parent / "images" / "1-serif-dark-on-light.png"
    code = (
        "import sys\n"
        "from tui.cli import main\n"
        "try:\n"
        f"    main(['classify', {str(image)!r}, '-q', '-f', 'jsonl'])\n"
        "except SystemExit as done:\n"
        "    assert done.code == 0, done.code\n"
        f"print(sorted(m for m in sys.modules if m in {NOT_FOR_ONE_IMAGE!r}"
        f" or m.split('.')[0] in {NOT_FOR_ONE_IMAGE!r}), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert '"label": "1"' in proc.stdout  # it did classify
    assert proc.stderr.strip() == "[]"


# The app runs models through tui.runtime; the CLI's package (tui.classify) is the CLI's alone.
APP_MODULES = ["tui.app"] + [name for name in tui_modules() if name.startswith("tui.screens.")]


def test_the_app_loads_nothing_of_the_cli_package():
    code = (
        "import importlib, sys\n"
        f"for name in {APP_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m == 'tui.classify' or m.startswith('tui.classify.')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                          timeout=60, cwd=Path(tui.__file__).parent.parent)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
    assert "tui.screens.classify" in APP_MODULES and "tui.screens.draw" in APP_MODULES
