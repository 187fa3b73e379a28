"""`dl-tui evaluate` against `dl-tui classify -r` on the same folder, printed as a ratio
(issue 20: evaluate costs at most 1.1x classify).

Writes N MNIST digits (tests/data/mnist-sample.npz, repeated) as PNGs in ten class folders,
then times each command from process start to exit, in turns, and keeps the best of
`--repeat` runs of each (the machine may be busy with other work).

    python bench/evaluate_speed.py [--files 4000] [--repeat 5] [--models exported]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def write_folder(root: Path, count: int) -> None:
    """COUNT digits as PNGs in ROOT/<digit>/."""
    with np.load(ROOT / "tests" / "data" / "mnist-sample.npz") as data:
        x, y = np.concatenate([data["x_test"], data["x_train"]]), np.concatenate([data["y_test"], data["y_train"]])
    for i in range(count):
        folder = root / str(int(y[i % len(y)]))
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(x[i % len(x)]).save(folder / f"{i:06d}.png")


def wall_time(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT, env=os.environ)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--models", type=Path, default=ROOT / "exported")
    parser.add_argument("--model", default="cnn")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "digits"
        write_folder(folder, args.files)
        base = [sys.executable, "-m", "tui.cli"]
        commands = {
            "classify": [*base, "classify", "-r", str(folder), "-m", args.model, "--models", str(args.models),
                         "-q", "-f", "jsonl"],
            "evaluate": [*base, "evaluate", str(folder), "-m", args.model, "--models", str(args.models),
                         "-q", "-f", "json"],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeat):
            for name, command in commands.items():
                times[name].append(wall_time(command))
    best = {name: min(values) for name, values in times.items()}
    for name, value in best.items():
        print(f"{name:>9}: {value:.2f} s best of {args.repeat} ({args.files} files, {args.model})")
    print(f"evaluate / classify: {best['evaluate'] / best['classify']:.3f} (target: at most 1.1)")


if __name__ == "__main__":
    main()
