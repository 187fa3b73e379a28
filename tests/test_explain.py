"""Explanations (tui/runtime/explain.py) on real tiny ONNX models: where the evidence is,
that deleting what they rank highest hurts the class more than deleting at random, colour and
non-square inputs, the class asked for, and the overlay picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import helper, numpy_helper
from PIL import Image

import onnx_models
from tui.runtime import explain as ex
from tui.runtime.core import Runtime
from tui.runtime.preprocess import to_model_input

CORNER = 7  # the planted model looks only at the top-left 7x7 pixels


def corner_model(folder: Path) -> Path:
    """A linear MNIST-fit model with two classes whose `corner` logit is 0.2 x the sum of the
    top-left 7x7 pixels, and `other`'s is 0: only that corner decides."""
    w = np.zeros((28, 28, 2), np.float32)
    w[:CORNER, :CORNER, 0] = 0.2
    nodes = [helper.make_node("Reshape", ["image", "flat_shape"], ["flat"]),
             helper.make_node("MatMul", ["flat", "W"], ["mm"]),
             helper.make_node("Add", ["mm", "b"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)]
    graph = helper.make_graph(
        nodes, "corner", [onnx_models._tensor("image", ["N", 28, 28, 1])],
        [onnx_models._tensor("probabilities", ["N", 2])],
        [numpy_helper.from_array(w.reshape(784, 2), "W"), numpy_helper.from_array(np.zeros(2, np.float32), "b"),
         onnx_models._const("flat_shape", [-1, 784])])
    meta = {**onnx_models.metadata("cnn"), "model": "corner", "labels": ["corner", "other"]}
    return onnx_models._save(graph, meta, folder / "corner.onnx")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("explain-models")
    corner_model(folder)
    onnx_models.build("cnn", folder)
    onnx_models.build_stretch(folder, "colours", ["red", "green", "blue"], (12, 20), 3)
    return folder


@pytest.fixture(scope="module")
def runtime(models: Path) -> Runtime:
    return Runtime(models, device="cpu", threads=1)


def speckles(seed: int = 0) -> np.ndarray:
    """A 28x28 input with ink scattered over all of it (corner included)."""
    return (np.random.default_rng(seed).random((28, 28)) < 0.3).astype(np.float32) * 0.6


@pytest.mark.parametrize("method", ex.METHODS)
def test_planted_evidence_puts_most_of_the_mass_in_the_corner(runtime: Runtime, method: str) -> None:
    info = runtime.info("corner")
    e = ex.explain(runtime, info, speckles(), 0, method=method)
    positive = np.clip(e.heat, 0, None)
    assert e.heat.shape == (28, 28) and e.heat.dtype == np.float32
    assert positive[:CORNER, :CORNER].sum() / positive.sum() > 0.8
    top = e.regions(1)[0]
    assert top["x"] < CORNER and top["y"] < CORNER and top["share"] > 0.5


def ranked_deletion(heat: np.ndarray, fraction: float = 0.1) -> np.ndarray:
    """The keep-mask deleting the top `fraction` of pixels by heat."""
    mask = np.ones(heat.size, np.float32)
    mask[np.argsort(-heat.ravel(), kind="stable")[: round(fraction * heat.size)]] = 0.0
    return mask.reshape(heat.shape)


def test_deleting_the_top_tenth_hurts_more_than_a_random_tenth(runtime: Runtime) -> None:
    """The deletion check (Petsiuk et al. 2018) of the default method on 24 real MNIST digits."""
    data = np.load(onnx_models.SAMPLE)
    info = runtime.info("cnn")
    rng = np.random.default_rng(0)
    wins = []
    for picture in data["x_test"][:24]:
        x = to_model_input(Image.fromarray(picture), "auto", True, (28, 28))
        e = ex.explain(runtime, info, x)
        random = np.ones(784, np.float32)
        random[rng.choice(784, 78, replace=False)] = 0.0
        masks = np.stack([ranked_deletion(e.heat), random.reshape(28, 28)])
        top, chance = ex.class_probability(runtime, info, x, ex.background(info, x), masks, e.label_index)
        wins.append(top < chance)
    assert np.mean(wins) >= 0.9


def test_a_colour_non_square_input_is_explained_at_its_own_size(runtime: Runtime) -> None:
    info = runtime.info("colours")
    x = np.random.default_rng(1).random((12, 20, 3)).astype(np.float32)
    x[0], x[-1], x[:, 0], x[:, -1] = 0.25, 0.25, 0.25, 0.25  # a flat grey border
    assert np.allclose(ex.background(info, x), 0.25)
    for method in ex.METHODS:
        e = ex.explain(runtime, info, x, method=method)
        assert e.heat.shape == (12, 20) and np.isfinite(e.heat).all() and np.abs(e.heat).max() > 0
        assert e.label == info.labels[e.label_index]
    assert ex.overlay(x, e.heat, scale=3).size == (60, 36)


def test_label_index_picks_the_class_explained(runtime: Runtime) -> None:
    info = runtime.info("corner")
    x = speckles(2)
    probabilities = runtime.predict("corner", x[None])[0]
    top = ex.explain(runtime, info, x)
    assert top.label_index == int(np.argmax(probabilities)) == 0
    other = ex.explain(runtime, info, x, label_index=1)
    assert (other.label, other.label_index) == ("other", 1)
    assert other.confidence == pytest.approx(float(probabilities[1]), abs=1e-6)
    # The corner is evidence against `other`: its heat there is below zero.
    assert other.heat[:CORNER, :CORNER].mean() < 0 < top.heat[:CORNER, :CORNER].mean()
    with pytest.raises(ValueError, match="2 classes"):
        ex.explain(runtime, info, x, label_index=2)
    with pytest.raises(ValueError, match="unknown explanation method"):
        ex.explain(runtime, info, x, method="magic")


def test_the_overlay_is_the_input_enlarged_with_warm_pixels_where_the_heat_is() -> None:
    x = np.full((6, 10), 0.5, np.float32)
    heat = np.zeros((6, 10), np.float32)
    heat[1:3, 2:5] = 1.0
    picture = ex.overlay(x, heat, scale=4)
    assert picture.size == (40, 24) and picture.mode == "RGB"
    a = np.asarray(picture).astype(int)
    hot, cold = a[4 * 1 + 1, 4 * 2 + 1], a[4 * 5 - 1, 4 * 9]
    assert hot[0] > 200 and hot[0] > hot[2] + 100  # warm: red well above blue
    assert tuple(cold) == (128, 128, 128)  # no heat: the input as it is
    assert ex.regions(heat, 3) == [{"x": 2, "y": 1, "width": 3, "height": 2, "share": 1.0}]


def test_a_model_with_randomised_weights_is_explained_differently(runtime: Runtime, tmp_path: Path) -> None:
    """The sanity check (Adebayo et al. 2018) as bench/explain_faithfulness.py runs it: the
    default method's maps of the tiny cnn and of a copy with its weights permuted have a low rank
    correlation, while the same model gives the same map twice."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import explain_faithfulness as bench

    random_folder = tmp_path / "random"
    random_folder.mkdir()
    bench.randomised(runtime._files["cnn"], random_folder)
    shuffled = Runtime(random_folder, device="cpu", threads=1)
    data = np.load(onnx_models.SAMPLE)
    info, random_info = runtime.info("cnn"), shuffled.info("cnn")
    rhos = []
    for picture in data["x_test"][:6]:
        x = to_model_input(Image.fromarray(picture), "auto", True, (28, 28))
        e = ex.explain(runtime, info, x)
        assert bench.spearman(e.heat, ex.explain(runtime, info, x).heat) == pytest.approx(1.0)
        rhos.append(bench.spearman(e.heat, ex.explain(shuffled, random_info, x, e.label_index).heat))
    assert float(np.mean(np.abs(rhos))) < 0.5  # 0.26 measured; the same model gives 1
