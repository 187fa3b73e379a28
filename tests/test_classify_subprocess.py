"""The whole classify path in a fresh interpreter: it never needs TensorFlow or Textual."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Refuse the heavy and training-only packages outright: importing one fails the run.
SCRIPT = """
import importlib.abc, json, sys
FORBIDDEN = {"tensorflow", "keras", "tf2onnx", "onnx", "trainer", "textual"}

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in FORBIDDEN:
            raise ImportError(f"forbidden import: {name}")

sys.meta_path.insert(0, Refuse())
from tui.cli import main
try:
    main(["classify", *sys.argv[1:]])
except SystemExit as done:
    code = done.code
loaded = sorted(m for m in sys.modules if m.split(".")[0] in FORBIDDEN)
print(json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
"""


def test_classify_runs_without_tensorflow(tiny_models):
    images = ROOT / "images"
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(images), "--models", str(tiny_models), "-f", "jsonl"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    report = json.loads(result.stderr.strip().splitlines()[-1])
    assert report == {"code": 0, "loaded": []}, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == len([p for p in images.iterdir() if p.suffix in (".png", ".jpg")]) >= 10
    assert all(row["error"] is None for row in rows)
