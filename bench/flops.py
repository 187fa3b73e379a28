"""How much arithmetic a model does, and how much the machine can: for GFLOP/s against peak."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def flops_per_item(path: Path) -> float:
    """Floating-point operations (a multiply-add is 2) for one item of the batch: Conv,
    ConvTranspose, MatMul and Gemm, from the float ONNX file's shapes at batch 1."""
    import onnx
    from onnx import numpy_helper, shape_inference

    model = onnx.load(str(path))
    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].dim_value:
            dims[0].dim_value = 1
    model = shape_inference.infer_shapes(model)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*model.graph.value_info, *model.graph.input, *model.graph.output]}
    weights = {i.name: numpy_helper.to_array(i).shape for i in model.graph.initializer}
    total = 0.0
    for node in model.graph.node:
        w = weights.get(node.input[1]) if len(node.input) > 1 else None
        if node.op_type == "Conv" and w:
            total += 2 * np.prod(shapes[node.output[0]]) * np.prod(w[1:])  # outputs x (cin/g * kh * kw)
        elif node.op_type == "ConvTranspose" and w:
            total += 2 * np.prod(shapes[node.input[0]]) * np.prod(w[1:])  # inputs x (cout/g * kh * kw)
        elif node.op_type in ("MatMul", "Gemm") and w:
            # rows at batch 1 (a batch axis that shape inference could not follow reads 0)
            total += 2 * np.prod([max(d, 1) for d in shapes[node.input[0]][:-1]]) * np.prod(w)
    return float(total)


def peak_gflops(size: int = 2048, repeats: int = 7) -> float:
    """The machine's float32 matrix-multiply rate on all cores: the best of `repeats` runs of
    numpy's BLAS and of onnxruntime's own MatMul (MLAS); a peak is a best case."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
    b = a.T.copy()
    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "probe",
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, [size, size]) for n in "ab"],
                              [helper.make_tensor_value_info("c", TensorProto.FLOAT, [size, size])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    best = 0.0
    for call in (lambda: a @ b, lambda: session.run(None, {"a": a, "b": b})):
        call()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        best = max(best, 2 * size**3 / min(times) / 1e9)
    return best
