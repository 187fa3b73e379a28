"""The issue's three speed measurements, side by side in one run, printed as ratios.

1. `dl-tui classify` on the MNIST test images written as PNG files, against a minimal
   loop (Pillow open, convert to L, resize to 28x28, one onnxruntime run per 256).
2. One image end to end, process start to exit: `dl-tui classify one.png` against
   Keras `load_model` + `predict`.
3. Per-image latency at batch 1: onnxruntime against Keras `predict` and a `tf.function`.

Every process is timed from start to exit and the best of `--repeat` runs is kept (the
machine may be busy with other work). TensorFlow is imported only here, and only for the
Keras parts; without it they are skipped.

    python bench/bench_classify.py [--mnist ../shared/data/mnist.npz] [--models exported]
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

ROOT = Path(__file__).resolve().parents[1]

MINIMAL_LOOP = """
import sys, numpy as np, onnxruntime as ort
from pathlib import Path
from PIL import Image
paths = sorted(Path(sys.argv[1]).glob("*.png"))
session = ort.InferenceSession(sys.argv[2], providers=["CPUExecutionProvider"])
for i in range(0, len(paths), 256):
    batch = np.stack([np.asarray(Image.open(p).convert("L").resize((28, 28)), np.float32) / 255
                      for p in paths[i:i + 256]])
    session.run(None, {"image": batch[..., None]})
"""

KERAS_ONE = """
import sys, numpy as np, keras
from PIL import Image
model = keras.models.load_model(sys.argv[1])
x = np.asarray(Image.open(sys.argv[2]).convert("L").resize((28, 28)), np.float32) / 255
print(int(model.predict(x[None, ..., None], verbose=0).argmax()))
"""


def wall_time(command: list[str], env: dict[str, str] | None = None) -> float:
    """Wall time of a process from start to exit; fails loudly if it fails."""
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT,
                   env={**os.environ, **(env or {})})
    return time.perf_counter() - start


def best_times(commands: dict[str, list[str]], repeat: int, pick=min,
               envs: dict[str, dict[str, str]] | None = None) -> dict[str, float]:
    """Best (or, with pick=statistics.median, the median) of `repeat` for each command, taken
    in turns so that a busy spell on the machine hits them all alike."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            times[name].append(wall_time(command, (envs or {}).get(name)))
    return {name: pick(values) for name, values in times.items()}


def classify_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "tui.cli", "classify", *args]


def write_pngs(mnist: Path, folder: Path, count: int) -> None:
    from PIL import Image

    with np.load(mnist) as data:
        images = data["x_test"][:count]
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i:05d}.png")


def keras_cnn(folder: Path):
    """The trainer's CNN architecture (timing does not depend on the weights), or None."""
    try:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow as tf  # noqa: F401  the bench alone may import it

        sys.path.insert(0, str(ROOT))
        from trainer.models import build_cnn
    except ImportError as error:
        print(f"  (Keras parts skipped: {error})")
        return None
    model = build_cnn()
    path = folder / "cnn.keras"
    model.save(path)
    return model, path


def folder_speed(pngs: Path, models: Path, repeat: int, pick=min, quick: bool = False) -> dict[str, float]:
    """Seconds for each way of classifying the folder (the minimal loop runs the float model;
    dl-tui its default precision, auto: int8 where a twin meets the bar)."""
    print(f"1. {len(list(pngs.glob('*.png')))} PNG files, process start to exit, {pick.__name__} of {repeat}")
    common = (str(pngs), "--models", str(models), "--format", "jsonl", "--quiet")
    commands = {
        "minimal loop": [sys.executable, "-c", MINIMAL_LOOP, str(pngs), str(models / "cnn.onnx")],
        "dl-tui classify (default workers)": classify_cmd(*common),
        "dl-tui classify, float model": classify_cmd(*common),
    }
    if not quick:
        commands["dl-tui classify --workers 1"] = classify_cmd(*common, "--workers", "1")
        commands["dl-tui classify --no-normalize"] = classify_cmd(*common, "--no-normalize")
    runs = best_times(commands, repeat, pick, {"dl-tui classify, float model": {"DL_TUI_PRECISION": "float"}})
    minimal = runs["minimal loop"]
    for name, seconds in runs.items():
        print(f"   {name:36s} {seconds:6.2f} s   {seconds / minimal:4.2f}x the minimal loop")
    return runs


def one_image(pngs: Path, models: Path, keras, repeat: int, pick=min) -> dict[str, float]:
    print(f"2. one image end to end, process start to exit, {pick.__name__} of {repeat}")
    one = str(sorted(pngs.glob("*.png"))[0])
    commands = {
        "dl-tui classify one.png": classify_cmd(one, "--models", str(models), "--quiet"),
        "python -c 'import onnxruntime'": [sys.executable, "-c", "import onnxruntime"],
    }
    if keras:
        commands["python -c 'import tensorflow'"] = [sys.executable, "-c", "import tensorflow"]
        commands["Keras load_model + predict"] = [sys.executable, "-c", KERAS_ONE,
                                                  str(keras[1]), one]
    runs = best_times(commands, repeat, pick)
    ours = runs["dl-tui classify one.png"]
    for name, seconds in runs.items():
        print(f"   {name:36s} {seconds:6.2f} s   {seconds / ours:5.1f}x dl-tui classify")
    return runs


def latency(pngs: Path, models: Path, keras) -> None:
    import onnxruntime as ort

    from tui.runtime import prepare

    print("3. latency at batch 1, median")
    x = prepare(sorted(pngs.glob("*.png"))[0])[None, ..., None]
    session = ort.InferenceSession(str(models / "cnn.onnx"), providers=["CPUExecutionProvider"])
    results = {"onnxruntime session.run": _median(lambda: session.run(None, {"image": x}), 2000)}
    if keras:
        import tensorflow as tf

        model = keras[0]
        fn = tf.function(model)
        tensor = tf.constant(x)
        results["Keras model.predict"] = _median(lambda: model.predict(x, verbose=0), 50)
        results["tf.function(model)"] = _median(lambda: fn(tensor).numpy(), 500)
    base = results["onnxruntime session.run"]
    for name, seconds in results.items():
        print(f"   {name:36s} {seconds * 1000:8.3f} ms   {seconds / base:6.1f}x onnxruntime")


def _median(call, runs: int) -> float:
    for _ in range(min(20, runs)):  # warm-up: first runs allocate and trace
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, default=Path("../shared/data/mnist.npz"),
                        help="Keras-layout mnist.npz (x_test is used)")
    parser.add_argument("--models", type=Path, default=ROOT / "exported")
    parser.add_argument("--count", type=int, default=10_000, help="test images to write")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: 1,2,3")
    args = parser.parse_args()
    models = args.models.resolve()
    if not (models / "cnn.onnx").is_file():
        sys.exit(f"bench: no {models / 'cnn.onnx'}: train it first (dl-train cnn)")
    skip = set(args.skip.split(","))
    print(f"CPU cores available: {len(os.sched_getaffinity(0))}; load average "
          f"{os.getloadavg()[0]:.2f} (other work skews every number)")
    with tempfile.TemporaryDirectory(prefix="bench-classify-") as tmp:
        pngs = Path(tmp) / "pngs"
        pngs.mkdir()
        write_pngs(args.mnist.resolve(), pngs, args.count)
        keras = keras_cnn(Path(tmp)) if {"2", "3"} - skip else None
        if "1" not in skip:
            folder_speed(pngs, models, args.repeat)
        if "2" not in skip:
            one_image(pngs, models, keras, args.repeat)
        if "3" not in skip:
            latency(pngs, models, keras)


if __name__ == "__main__":
    main()
