"""`dl-train` on the plain install (no TensorFlow): one line saying what to install, exit 2, an error event."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture
def no_tensorflow(tmp_path: Path) -> dict[str, str]:
    """An environment where `import tensorflow` fails, as on `pip install dl-tui` without the extra."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "tensorflow.py").write_text("raise ModuleNotFoundError(\"No module named 'tensorflow'\")\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(shadow), *sys.path])}


@pytest.mark.parametrize("progress", ["jsonl", "none"])
def test_train_without_tensorflow_says_how_to_install_it(no_tensorflow, tmp_path, progress):
    result = subprocess.run(
        [sys.executable, "-c", "from trainer.cli import main; main()", "iris", "--epochs", "1",
         "--out", str(tmp_path / "out"), "--progress", progress],
        env=no_tensorflow, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [("error: training needs TensorFlow, which this install does not have: "
                      "pip install 'dl-tui[train]'")]
    if progress == "jsonl":
        events = [json.loads(line) for line in result.stdout.splitlines()]
        assert events[-1]["event"] == "error" and "pip install 'dl-tui[train]'" in events[-1]["message"]


@pytest.mark.parametrize("out", ["exported", "new/nested/exported", "existing"])
def test_train_without_tensorflow_leaves_no_folder_behind(no_tensorflow, tmp_path, out):
    """Training that cannot start creates nothing: not --out (the default, exported/), nor its parents;
    a folder that was there stays, without the lock file."""
    (tmp_path / "existing").mkdir()
    before = sorted(tmp_path.rglob("*"))
    result = subprocess.run(
        [sys.executable, "-c", "from trainer.cli import main; main()", "iris", "--epochs", "1", "--progress", "none",
         *([] if out == "exported" else ["--out", str(tmp_path / out)])],
        env=no_tensorflow, capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False)
    assert result.returncode == 2, result.stderr
    assert sorted(tmp_path.rglob("*")) == before
