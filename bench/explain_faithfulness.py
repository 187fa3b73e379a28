"""How faithful, how fast and how sane each explanation method is, on the shipped classifiers.

    python bench/explain_faithfulness.py [--data ../shared/data/mnist.npz] [--count 1000]
        [--models exported] [--precision auto|float|int8] [--methods a,b] [--threads 2]

Loads MNIST test images, prepares them as dl-tui does (`to_model_input`: auto polarity, centring),
and for each shipped image classifier and each method of tui/runtime/explain.py prints:
- deletion win-rate (Petsiuk et al. 2018): the share of images where deleting (setting to the
  background) the method's top 10% of pixels lowers the explained class's probability more than
  deleting a random 10%;
- deletion AUC: the mean class probability as the top-ranked pixels are deleted, 0% to 100% in
  steps of 5% (lower is better); insertion AUC: the same as pixels are put back into a blank
  input, best first (higher is better);
- ms/image: the explanation's wall time per image (one image at a time, as the app asks), and
  its CPU time (all threads together: what it costs on an idle machine, whatever else runs),
  beside the classify time per image (batch 1) of the same run;
- sanity (Adebayo et al. 2018): the mean Spearman rank correlation between the explanations of
  the trained model and of a copy whose weights were randomly permuted (onnx), on the first 50
  images (low is good: the method depends on what the model learned).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

from tui.runtime import explain as ex  # noqa: E402
from tui.runtime.core import Runtime  # noqa: E402
from tui.runtime.preprocess import to_model_input  # noqa: E402

CLASSIFIERS = ("cnn", "cnn-invert", "vae-classifier")
STEPS = np.linspace(0.0, 1.0, 21)  # deletion/insertion curve: 0%, 5%, ... 100% of the pixels
SANITY_IMAGES = 50


def load(path: Path, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `count` MNIST test images as dl-tui's model inputs [N, 28, 28], and labels."""
    data = np.load(path)
    images = data["x_test"][:count]
    inputs = np.stack([to_model_input(Image.fromarray(a), "auto", True, (28, 28)) for a in images])
    return inputs.astype(np.float32), data["y_test"][:count]


def ranked_masks(heat: np.ndarray, fractions: np.ndarray, insert: bool = False) -> np.ndarray:
    """Keep-masks [S, H, W]: the top `fraction` of pixels by heat deleted (or, for insertion,
    only they kept)."""
    order = np.argsort(-heat.ravel(), kind="stable")
    masks = np.ones((len(fractions), heat.size), np.float32)
    for i, f in enumerate(fractions):
        masks[i, order[: round(f * heat.size)]] = 0.0
    masks = masks.reshape(len(fractions), *heat.shape)
    return 1.0 - masks if insert else masks


def faithfulness(runtime: Runtime, info, x: np.ndarray, e: ex.Explanation,
                 rng: np.random.Generator) -> tuple[bool, float, float]:
    """(top 10% deletion beats a random 10%, deletion AUC, insertion AUC) for one explanation."""
    bg = ex.background(info, x)
    deletion = ranked_masks(e.heat, STEPS)
    insertion = ranked_masks(e.heat, STEPS, insert=True)
    random = np.ones(x.shape[:2], np.float32).ravel()
    random[rng.choice(random.size, round(0.1 * random.size), replace=False)] = 0.0
    masks = np.concatenate([deletion, insertion, random.reshape(1, *x.shape[:2])])
    p = ex.class_probability(runtime, info, x, bg, masks, e.label_index)
    d, i, r = p[: len(STEPS)], p[len(STEPS) : 2 * len(STEPS)], p[-1]
    top10 = d[2]  # STEPS[2] = 10%
    auc = lambda curve: float(np.trapezoid(curve, STEPS) if hasattr(np, "trapezoid") else np.trapz(curve, STEPS))  # noqa: E731
    return bool(top10 < r), auc(d), auc(i)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two maps (average ranks for ties)."""
    def rank(v: np.ndarray) -> np.ndarray:
        v = v.ravel()
        order = np.argsort(v, kind="stable")
        ranks = np.empty(len(v), np.float64)
        ranks[order] = np.arange(len(v))
        _, inverse, counts = np.unique(v, return_inverse=True, return_counts=True)
        sums = np.bincount(inverse, ranks)
        return sums[inverse] / counts[inverse]
    ra, rb = rank(a), rank(b)
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def randomised(source: Path, folder: Path, seed: int = 0) -> Path:
    """A copy of the model (and its metadata) with every weight tensor's values randomly
    permuted: the same architecture and weight statistics, nothing learned. Written as a float
    model only (no int8 twin beside it), under the same name."""
    import onnx
    from onnx import numpy_helper

    rng = np.random.default_rng(seed)
    model = onnx.load(str(source))
    for tensor in model.graph.initializer:
        values = numpy_helper.to_array(tensor)
        if values.dtype.kind == "f" and values.size > 1:
            shuffled = rng.permutation(values.ravel()).reshape(values.shape)
            tensor.CopyFrom(numpy_helper.from_array(shuffled.astype(values.dtype), tensor.name))
    target = folder / source.name
    onnx.save(model, str(target))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "mnist.npz")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--models", type=Path, default=ROOT / "exported")
    parser.add_argument("--precision", default="auto", choices=("auto", "float", "int8"))
    parser.add_argument("--methods", default=",".join(ex.METHODS))
    parser.add_argument("--classifiers", default=",".join(CLASSIFIERS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-sanity", action="store_true")
    args = parser.parse_args()

    methods = [m for m in args.methods.split(",") if m]
    inputs, _ = load(args.data, args.count)
    runtime = Runtime(args.models, device="cpu", threads=args.threads, precision=args.precision)
    print(f"{len(inputs)} MNIST test images, {args.threads} threads, precision {args.precision}, "
          f"default method {ex.DEFAULT_METHOD}")
    print("| model (file run) | method | deletion win-rate | deletion AUC | insertion AUC | "
          "ms/image | CPU ms/image | classify ms/image | sanity rank corr. |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.classifiers.split(","):
            info = runtime.info(name)
            used = runtime._used[name].name  # which file ran (float or int8)
            start = time.perf_counter()
            for x in inputs:
                runtime.predict(name, x[None])
            classify_ms = (time.perf_counter() - start) * 1000 / len(inputs)
            random_runtime = None
            if not args.no_sanity:
                folder = Path(tmp) / name
                folder.mkdir()
                randomised(runtime._files[name], folder)  # the float file
                random_runtime = Runtime(folder, device="cpu", threads=args.threads, precision="float")
            for method in methods:
                rng = np.random.default_rng(0)
                wins, deletion, insertion, seconds, cpu = [], [], [], 0.0, 0.0
                explanations = []
                for x in inputs:
                    start, start_cpu = time.perf_counter(), time.process_time()
                    e = ex.explain(runtime, info, x, method=method)
                    seconds += time.perf_counter() - start
                    cpu += time.process_time() - start_cpu
                    explanations.append(e)
                    won, d, i = faithfulness(runtime, info, x, e, rng)
                    wins.append(won)
                    deletion.append(d)
                    insertion.append(i)
                sanity = float("nan")
                if random_runtime is not None:
                    rinfo = random_runtime.info(name)
                    rhos = [spearman(e.heat, ex.explain(random_runtime, rinfo, x, e.label_index,
                                                        method=method).heat)
                            for x, e in zip(inputs[:SANITY_IMAGES], explanations, strict=False)]
                    sanity = float(np.nanmean(rhos))
                print(f"| {name} ({used}) | {method} | {100 * np.mean(wins):.1f}% | "
                      f"{np.mean(deletion):.3f} | {np.mean(insertion):.3f} | "
                      f"{seconds * 1000 / len(inputs):.1f} | {cpu * 1000 / len(inputs):.1f} | {classify_ms:.2f} | "
                      f"{sanity:.2f} |",
                      flush=True)


if __name__ == "__main__":
    main()
