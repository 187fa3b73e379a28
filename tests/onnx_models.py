"""Tiny real ONNX models that follow docs/model-contract.md, for tests without TensorFlow.

Each builder writes `<folder>/<name>.onnx` with the contract's input and output names,
a dynamic batch axis and every metadata key. The weights are deterministic and the
graphs are linear, so a test can compute the expected outputs with numpy:

    path = build("cnn", tmp_path)
    expected = reference("cnn", images)        # images: float32 [N, 28, 28] or [N, 28, 28, 1]

The digit classifiers are nearest-centroid classifiers under a softmax: each class's
weights are its mean training digit from tests/data/mnist-sample.npz, so real MNIST
digits are mostly classified right and preprocessing mistakes show up as wrong answers.
`cnn-invert` first folds each pixel to |2x - 1|, so it answers the same for a digit and
its inverse, as the real one was trained to.

Metadata can be changed per test: `build("cnn", tmp_path, labels=["[bold]a", ...])`
replaces a key (lists and dicts are written as JSON), `description=None` drops one.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

NAMES = ("cnn", "cnn-invert", "vae-classifier", "vae-encoder", "vae-decoder", "iris")
DIGITS = [str(d) for d in range(10)]
IRIS_LABELS = ["setosa", "versicolor", "virginica"]
IRIS_FEATURES = ["sepal length", "sepal width", "petal length", "petal width"]
SAMPLE = Path(__file__).parent / "data" / "mnist-sample.npz"

# onnxruntime 1.17 (the oldest we support) reads IR 9 / opset 13.
_OPSET = 13
_IR_VERSION = 8
_PIXELS = 28 * 28
_SCALE = 0.5
_IMAGE_PREPROCESSING = {
    "kind": "image", "size": [28, 28], "range": [0, 1],
    "polarity": "white-on-black", "binarize": None,
}


@cache
def _centroids(invariant: bool) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-centroid weights from the sample's training digits: W [784, 10], b [10]."""
    data = np.load(SAMPLE)
    x = data["x_train"].reshape(-1, _PIXELS).astype(np.float32) / 255.0
    if invariant:
        x = _fold(x)
    means = np.stack([x[data["y_train"] == d].mean(axis=0) for d in range(10)], axis=1)
    # argmax of x.m - |m|^2/2 is the nearest mean; the scale sharpens the softmax.
    return (means * _SCALE).astype(np.float32), (-0.5 * _SCALE * (means**2).sum(axis=0)).astype(np.float32)


def _fold(x: np.ndarray) -> np.ndarray:
    """|2x - 1|: the same for an image and its inverse, so `cnn-invert` ignores polarity."""
    return np.abs(2.0 * x - 1.0)


def weights(name: str) -> dict[str, np.ndarray]:
    """The model's weight matrices and biases, by ONNX initializer name."""
    rng = np.random.default_rng(NAMES.index(name))
    if name in ("cnn", "cnn-invert", "vae-classifier"):
        w, b = _centroids(name == "cnn-invert")
        return {"W": w, "b": b}
    if name == "vae-encoder":
        return {
            "W_mean": rng.normal(0, 0.05, (_PIXELS, 2)).astype(np.float32),
            "b_mean": np.array([0.1, -0.1], np.float32),
            "W_logvar": rng.normal(0, 0.05, (_PIXELS, 2)).astype(np.float32),
            "b_logvar": np.array([-1.0, -2.0], np.float32),
        }
    if name == "vae-decoder":
        return {
            "W": rng.normal(0, 1.0, (2, _PIXELS)).astype(np.float32),
            "b": rng.normal(0, 0.1, _PIXELS).astype(np.float32),
        }
    if name == "iris":
        # Nearest centroid on the classes' mean petal length and width (cm).
        means = np.array([[0, 0, 0], [0, 0, 0], [1.46, 4.26, 5.55], [0.25, 1.33, 2.03]])
        return {"W": (4 * means).astype(np.float32),
                "b": (-2 * (means**2).sum(axis=0)).astype(np.float32)}
    raise KeyError(name)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def reference(name: str, inputs: np.ndarray) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """What the model computes, with numpy. The runtime's binarising is not applied here."""
    w = weights(name)
    x = np.asarray(inputs, np.float32)
    if name == "vae-decoder":
        return (x @ w["W"] + w["b"]).reshape(-1, 28, 28, 1)
    if name == "iris":
        return _softmax(x @ w["W"] + w["b"])
    flat = x.reshape(len(x), _PIXELS)
    if name == "cnn-invert":
        flat = _fold(flat)
    if name == "vae-encoder":
        return flat @ w["W_mean"] + w["b_mean"], flat @ w["W_logvar"] + w["b_logvar"]
    return _softmax(flat @ w["W"] + w["b"])


def metadata(name: str) -> dict[str, object]:
    """Every contract key with plausible values (not yet JSON-encoded)."""
    image = name != "iris"
    classifier = name in ("cnn", "cnn-invert", "vae-classifier", "iris")
    vae = name.startswith("vae-") and name != "vae-classifier"
    preprocessing: dict[str, object] = dict(_IMAGE_PREPROCESSING)
    if name.startswith("vae-"):
        preprocessing["binarize"] = 0.5
    if name == "vae-decoder":
        preprocessing = {"kind": "latent", "dim": 2, "output": "logits", "activation": "sigmoid"}
    if name == "iris":
        preprocessing = {"kind": "features", "features": IRIS_FEATURES, "units": "cm"}
    metrics: dict[str, float] = {"test_accuracy": 0.75}
    if name == "cnn-invert":
        metrics = {"test_accuracy": 0.7, "test_accuracy_original": 0.75,
                   "test_accuracy_inverted": 0.65}
    if vae:
        metrics = {"test_elbo": -160.5}
    history = [
        {"epoch": e, "loss": 1.0 / e, "accuracy": 0.5 + e / 10, "val_loss": 1.1 / e,
         "val_accuracy": 0.45 + e / 10, "seconds": 1.5}
        for e in (1, 2)
    ]
    if vae:
        history = [{"epoch": e, "loss": 200.0 - e, "val_elbo": -190.0 + e, "seconds": 2.0}
                   for e in (1, 2)]
    return {
        "model": name,
        "task": "classification" if classifier else name.removeprefix("vae-"),
        "description": f"Tiny test {name} (linear, deterministic weights)",
        "labels": (IRIS_LABELS if name == "iris" else DIGITS) if classifier else [],
        "preprocessing": preprocessing,
        "metrics": metrics,
        "history": history,
        "config": {"epochs": 2, "batch_size": 128, "learning_rate": 0.001, "optimizer": "adam",
                   "invert": name == "cnn-invert", "seed": 0},
        "dataset": {"name": "mnist" if image else "iris", "source": "tests/data/mnist-sample.npz",
                    "train": 400, "test": 200},
        "created": "2024-01-01T00:00:00Z",
        "versions": {"python": "3.11", "tensorflow": "none", "keras": "none", "tf2onnx": "none",
                     "onnx": onnx.__version__, "onnxruntime": "any"},
        "parity": "0.0",
    }


def _tensor(name: str, dims: list) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def _const(name: str, values: list[int]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(values, np.int64), name)


def _graph(name: str) -> onnx.GraphProto:
    w = [numpy_helper.from_array(v, k) for k, v in weights(name).items()]
    image_in = _tensor("image", ["N", 28, 28, 1])
    flatten = helper.make_node("Reshape", ["image", "flat_shape"], ["flat"])
    if name in ("cnn", "cnn-invert", "vae-classifier"):
        nodes = [flatten]
        if name == "cnn-invert":
            w += [numpy_helper.from_array(np.array(v, np.float32), k)
                  for k, v in (("two", 2.0), ("one", 1.0))]
            nodes += [helper.make_node("Mul", ["flat", "two"], ["doubled"]),
                      helper.make_node("Sub", ["doubled", "one"], ["centred"]),
                      helper.make_node("Abs", ["centred"], ["folded"])]
        nodes += [helper.make_node("MatMul", ["folded" if name == "cnn-invert" else "flat", "W"], ["mm"]),
                 helper.make_node("Add", ["mm", "b"], ["logits"]),
                 helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)]
        return helper.make_graph(nodes, name, [image_in], [_tensor("probabilities", ["N", 10])],
                                 [*w, _const("flat_shape", [-1, _PIXELS])])
    if name == "vae-encoder":
        nodes = [flatten]
        for out in ("mean", "logvar"):
            nodes += [helper.make_node("MatMul", ["flat", f"W_{out}"], [f"mm_{out}"]),
                      helper.make_node("Add", [f"mm_{out}", f"b_{out}"], [out])]
        return helper.make_graph(nodes, name, [image_in],
                                 [_tensor("mean", ["N", 2]), _tensor("logvar", ["N", 2])],
                                 [*w, _const("flat_shape", [-1, _PIXELS])])
    if name == "vae-decoder":
        nodes = [helper.make_node("MatMul", ["z", "W"], ["mm"]),
                 helper.make_node("Add", ["mm", "b"], ["flat"]),
                 helper.make_node("Reshape", ["flat", "image_shape"], ["logits"])]
        return helper.make_graph(nodes, name, [_tensor("z", ["N", 2])],
                                 [_tensor("logits", ["N", 28, 28, 1])],
                                 [*w, _const("image_shape", [-1, 28, 28, 1])])
    if name == "iris":
        nodes = [helper.make_node("MatMul", ["features", "W"], ["mm"]),
                 helper.make_node("Add", ["mm", "b"], ["logits"]),
                 helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)]
        return helper.make_graph(nodes, name, [_tensor("features", ["N", 4])],
                                 [_tensor("probabilities", ["N", 3])], w)
    raise KeyError(name)


def build(name: str, folder: Path, filename: str | None = None, **overrides: object) -> Path:
    """Write one tiny model to `folder/<filename or name>.onnx` and return its path."""
    meta = metadata(name)
    for key, value in overrides.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    return _save(_graph(name), meta, Path(folder) / f"{filename or name}.onnx")


def _save(graph: onnx.GraphProto, meta: dict, path: Path) -> Path:
    """GRAPH with metadata META (JSON for what is not a string), checked, written to PATH."""
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)],
                              producer_name="tests/onnx_models.py")
    model.ir_version = _IR_VERSION
    for key, value in meta.items():
        text = value if isinstance(value, str) else json.dumps(value)
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=text))
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path


def build_nan(folder: Path, filename: str = "cnn-nan") -> Path:
    """A `cnn` whose every probability is NaN (its weights overflowed, say), as
    `folder/<filename>.onnx`; its metadata is the cnn's."""
    path = build("cnn", folder, filename, model=filename)
    model = onnx.load(path)
    graph = model.graph
    graph.initializer.append(numpy_helper.from_array(np.array(np.nan, np.float32), "nan"))
    graph.node[-1].output[0] = "softmax"
    graph.node.append(helper.make_node("Mul", ["softmax", "nan"], ["probabilities"]))
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def build_black_on_white(folder: Path, filename: str = "cnn-bow") -> Path:
    """A `cnn` trained, as it were, on black digits on white: it inverts its input before
    the cnn's weights, and its metadata says `black-on-white`. Given MNIST-style input
    inverted for it, it answers exactly as the cnn does; given the input as is, wrongly."""
    preprocessing = {**_IMAGE_PREPROCESSING, "polarity": "black-on-white"}
    path = build("cnn", folder, filename, model=filename, preprocessing=preprocessing)
    model = onnx.load(path)
    graph = model.graph
    graph.initializer.append(numpy_helper.from_array(np.array(1.0, np.float32), "one"))
    graph.node[0].input[0] = "flipped"  # the Reshape reads 1 - image
    graph.node.insert(0, helper.make_node("Sub", ["one", "image"], ["flipped"]))
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def build_all(folder: Path) -> Path:
    """Write all six tiny models into `folder` and return it."""
    for name in NAMES:
        build(name, folder)
    return Path(folder)


def mnist_sample(split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """Real MNIST digits kept in tests/data: uint8 [N, 28, 28] and their labels."""
    data = np.load(SAMPLE)
    return data[f"x_{split}"], data[f"y_{split}"]


def digit_pngs(folder: Path, count: int, name: str = "{i:04d}.png", distinct: int | None = None) -> Path:
    """`count` PNG files of real MNIST digits in `folder` (made if need be), named by `name`
    formatted with their index `i`, cycling through the first `distinct` test digits (all
    of them for None): many files are cheap to write, each encoded once."""
    import io

    digits, _ = mnist_sample("test")
    blobs = []
    for digit in digits[:distinct]:
        buffer = io.BytesIO()
        Image.fromarray(digit).save(buffer, "PNG")
        blobs.append(buffer.getvalue())
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / name.format(i=i)).write_bytes(blobs[i % len(blobs)])
    return folder


# Models off the contract, or hostile (docs/model-contract.md, docs/reliability.md) ---------------

# The cnn changed at its output or its batch axis: what each variant's output or input becomes.
OFF_CONTRACT = ("1d", "3d", "string", "batch1", "batch3", "scores", "hog", "expand", "broken-run")
HOG_FLOATS = 1 << 29  # "hog" and "expand" ask onnxruntime for this many float32s (2 GiB) on every run


def build_variant(variant: str, folder: Path, filename: str | None = None, **overrides: object) -> Path:
    """A `cnn` changed as `variant` says, as `folder/<filename or cnn-variant>.onnx`:

    - `1d`: its output is [N] (the top probability); `3d`: [N, 10, 1]; `string`: text;
    - `batch1`, `batch3`: the cnn with a fixed batch of 1 ([1, 28, 28, 1] in, [1, 10] out), or 3: it works;
    - `scores`: raw scores, not probabilities (negative, and far above 1);
    - `hog`, `expand`: the cnn, but each run also makes (and sums, times 0) HOG_FLOATS floats with
      ConstantOfShape, or Expand;
    - `broken-run`: loads, but every run fails (it gathers class 12 of 10).
    """
    name = filename or f"cnn-{variant}"
    path = build("cnn", folder, name, model=name, **overrides)
    model = onnx.load(path)
    graph = model.graph
    out = graph.output[0]
    nodes = list(graph.node)
    if variant in ("1d", "3d", "string", "scores", "hog", "expand", "broken-run"):
        nodes[-1].output[0] = "softmax" if variant != "scores" else "unused"
    if variant == "1d":
        nodes.append(helper.make_node("ReduceMax", ["softmax"], ["probabilities"], axes=[1], keepdims=0))
        out.CopyFrom(_tensor("probabilities", ["N"]))
    elif variant == "3d":
        graph.initializer.append(_const("axes", [2]))
        nodes.append(helper.make_node("Unsqueeze", ["softmax", "axes"], ["probabilities"]))
        out.CopyFrom(_tensor("probabilities", ["N", 10, 1]))
    elif variant == "string":
        nodes.append(helper.make_node("Cast", ["softmax"], ["probabilities"], to=TensorProto.STRING))
        out.CopyFrom(helper.make_tensor_value_info("probabilities", TensorProto.STRING, ["N", 10]))
    elif variant in ("batch1", "batch3"):
        batch = int(variant[-1])
        graph.input[0].CopyFrom(_tensor("image", [batch, 28, 28, 1]))
        out.CopyFrom(_tensor("probabilities", [batch, 10]))
    elif variant == "scores":
        graph.initializer.append(numpy_helper.from_array(np.array(1000.0, np.float32), "thousand"))
        nodes.append(helper.make_node("Mul", ["logits", "thousand"], ["probabilities"]))
    elif variant in ("hog", "expand"):
        graph.initializer.extend([_const("hog_shape", [HOG_FLOATS]),
                                  numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
                                  numpy_helper.from_array(np.array([1.0], np.float32), "one")])
        one = numpy_helper.from_array(np.array([1.0], np.float32))
        make = (helper.make_node("ConstantOfShape", ["hog_shape"], ["hog"], value=one) if variant == "hog"
                else helper.make_node("Expand", ["one", "hog_shape"], ["hog"]))
        nodes += [make,
                  helper.make_node("ReduceSum", ["hog"], ["hog_sum"], keepdims=0),
                  helper.make_node("Mul", ["hog_sum", "zero"], ["nothing"]),
                  helper.make_node("Add", ["softmax", "nothing"], ["probabilities"])]
    elif variant == "broken-run":
        graph.initializer.append(_const("classes", [*range(9), 12]))
        nodes.append(helper.make_node("Gather", ["softmax", "classes"], ["probabilities"], axis=1))
    else:
        raise KeyError(variant)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


# A digit classifier of another input size and colour ----------------------------------------------

def sized_weights(size: tuple[int, int], channels: int = 1) -> dict[str, np.ndarray]:
    """The cnn's nearest-centroid weights for images of `size` (height, width) with `channels`
    channels: each class's mean digit resized to that size, shared out over the channels, so a
    grey image given in every channel is classified as its one channel would be."""
    height, width = size
    means, _ = _centroids(False)
    resized = np.stack([
        np.asarray(Image.fromarray(means[:, d].reshape(28, 28) / _SCALE, mode="F")
                   .resize((width, height), Image.Resampling.BILINEAR)).reshape(-1)
        for d in range(10)], axis=1)
    w = np.repeat(resized, channels, axis=0) / channels  # rows in [h, w, c] order, as Reshape flattens
    return {"W": (w * _SCALE).astype(np.float32),
            "b": (-0.5 * _SCALE * (resized**2).sum(axis=0)).astype(np.float32)}


def reference_sized(size: tuple[int, int], channels: int, inputs: np.ndarray) -> np.ndarray:
    """What `build_sized`'s model computes for grey images [N, height, width], with numpy."""
    w = sized_weights(size, channels)
    x = np.repeat(np.asarray(inputs, np.float32).reshape(len(inputs), -1), channels, axis=1)
    return _softmax(x @ w["W"] + w["b"])


def build_sized(folder: Path, size: tuple[int, int] = (20, 16), channels: int = 1,
                filename: str | None = None) -> Path:
    """A `cnn`-like digit classifier for images [N, height, width, channels] (the metadata's
    `size` and `channels` say so), as `folder/<filename or digits-HxW[-rgb]>.onnx`."""
    height, width = size
    name = filename or f"digits-{height}x{width}" + ("-rgb" if channels == 3 else "")
    meta = {**metadata("cnn"), "model": name,
            "preprocessing": {**_IMAGE_PREPROCESSING, "size": [height, width], "channels": channels}}
    w = [numpy_helper.from_array(v, k) for k, v in sized_weights(size, channels).items()]
    nodes = [helper.make_node("Reshape", ["image", "flat_shape"], ["flat"]),
             helper.make_node("MatMul", ["flat", "W"], ["mm"]),
             helper.make_node("Add", ["mm", "b"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)]
    graph = helper.make_graph(nodes, name, [_tensor("image", ["N", height, width, channels])],
                              [_tensor("probabilities", ["N", 10])],
                              [*w, _const("flat_shape", [-1, height * width * channels])])
    return _save(graph, meta, Path(folder) / f"{name}.onnx")


# Models trained on a folder (`dl-train folder`): `fit: stretch`, any size, grey or colour ------

COLOURS = ["blue", "green", "red"]  # class folder names, sorted, as dl-train folder orders them
_STRETCH_SCALE = 12.0


def stretch_weights(size: tuple[int, int], channels: int, classes: int) -> dict[str, np.ndarray]:
    """Weights of a linear classifier of stretched pictures [H, W, channels] in [0, 1]:
    in colour with 3 classes, class k is the mean of channel 2 - k (blue, green, red: the
    sorted names of COLOURS); in grey, class k is the mean brightness of the k-th of `classes`
    bands of columns, left to right (which band holds the bright stripe)."""
    height, width = size
    w = np.zeros((height, width, channels, classes), np.float32)
    if channels == 3 and classes == 3:
        for k in range(3):
            w[:, :, 2 - k, k] = 1.0
    else:
        bands = np.array_split(np.arange(width), classes)
        for k, columns in enumerate(bands):
            w[:, columns, :, k] = width / len(columns)
    w *= _STRETCH_SCALE / (height * width)
    return {"W": w.reshape(-1, classes), "b": np.zeros(classes, np.float32)}


def reference_stretch(size: tuple[int, int], channels: int, classes: int, inputs: np.ndarray) -> np.ndarray:
    """What `build_stretch`'s model computes for inputs [N, H, W, channels] in [0, 1], with numpy."""
    w = stretch_weights(size, channels, classes)
    return _softmax(np.asarray(inputs, np.float32).reshape(len(inputs), -1) @ w["W"] + w["b"])


def stretch_metadata(name: str, labels: list[str], size: tuple[int, int], channels: int,
                     resize: str = "bilinear") -> dict[str, object]:
    """A folder model's metadata, as `dl-train folder` writes it (docs/model-contract.md)."""
    counts = {"train": dict.fromkeys(labels, 8), "val": dict.fromkeys(labels, 2), "test": dict.fromkeys(labels, 2)}
    return {**metadata("cnn"), "model": name, "labels": labels,
            "description": f"Tiny test folder model {name} (linear, stretch)",
            "preprocessing": {"kind": "image", "size": list(size), "channels": channels, "range": [0, 1],
                              "fit": "stretch", "resize": resize},
            "metrics": {"test_accuracy": 1.0, "test_macro_f1": 1.0},
            "evaluation": {"split": "test", "count": 2 * len(labels), "accuracy": 1.0, "macro_f1": 1.0,
                           "per_class": [{"label": label, "precision": 1.0, "recall": 1.0, "f1": 1.0,
                                          "support": 2} for label in labels],
                           "confusion": {"labels": labels,
                                         "matrix": [[2 if i == j else 0 for j in range(len(labels))]
                                                    for i in range(len(labels))]}},
            "dataset": {"name": "folder", "source": "/nowhere", "layout": "classes", "classes": labels,
                        "counts": counts, "train": 8 * len(labels), "val": 2 * len(labels),
                        "test": 2 * len(labels), "skipped": 0, "split_manifest": f"{name}.split.json"},
            "ood": {"method": "max-softmax", "threshold": 0.9, "false_flag_rate": 0.05,
                    "calibration": {"data": "validation", "count": 2 * len(labels)}}}


def build_stretch(folder: Path, name: str, labels: list[str], size: tuple[int, int] = (12, 20),
                  channels: int = 3, resize: str = "bilinear", **overrides: object) -> Path:
    """A folder model as `folder/<name>.onnx`: input `image` [N, H, W, channels], output
    `probabilities` [N, len(labels)], `stretch_weights`' linear classifier under a softmax.
    Metadata keys can be replaced (None drops one), as with `build`."""
    height, width = size
    meta = stretch_metadata(name, labels, size, channels, resize)
    for key, value in overrides.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    w = [numpy_helper.from_array(v, k) for k, v in stretch_weights(size, channels, len(labels)).items()]
    nodes = [helper.make_node("Reshape", ["image", "flat_shape"], ["flat"]),
             helper.make_node("MatMul", ["flat", "W"], ["mm"]),
             helper.make_node("Add", ["mm", "b"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)]
    graph = helper.make_graph(nodes, name, [_tensor("image", ["N", height, width, channels])],
                              [_tensor("probabilities", ["N", len(labels)])],
                              [*w, _const("flat_shape", [-1, height * width * channels])])
    return _save(graph, meta, Path(folder) / f"{name}.onnx")
