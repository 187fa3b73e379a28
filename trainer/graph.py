"""Exact ONNX graph rewrites that make the int8 twins fast: the VAE decoder's transposed
convolutions as int8 convolutions, and the CNN's one-channel first layer as a convolution
over 2x2 pixel blocks.

onnxruntime has no int8 ConvTranspose on the CPU, and its float one is slow. A stride-s
transposed convolution is s*s ordinary convolutions on the input (one per output phase),
done here as one Conv with s*s*C outputs, then the phases interleaved. The interleave is
written in NHWC (blocks of s*C values move together) so that onnxruntime's own layout
transposes around its NHWC int8 convolutions cancel against ours. A convolution with very
few outputs (the decoder's last, 64 -> 1) becomes a channel product (MatMul, int8 with a
float output) and a one-hot KxK Conv that adds the taps up.

A one-channel Conv ('same' padding) + Relu + 2x2 MaxPool (the CNN's first layer) gives
onnxruntime's int8 convolution a GEMM only one input channel deep. On the input's 2x2 blocks
(SpaceToDepth, 4 channels) the same layer is one Conv giving the four output pixels of each
block as four groups of channels, and the MaxPool is the elementwise Max of those groups:
int8 CNN at batch 1 88 against 110 us, batch 64 5.1 against 7.1 ms (bench/README.md).

Each rewrite is exact up to float rounding; `decoder_rewrites` and `classifier_rewrites`
check that on random input.
"""

from __future__ import annotations

import numpy as np


def decoder_rewrites(model):
    """The decoder with every rewrite applied, and their names; ValueError if it changed the output."""
    import onnx

    before = model.SerializeToString()
    rewritten = narrow_as_matmul(interleave_in_nhwc(relu_before_interleave(transposed_as_conv(
        onnx.load_from_string(before)))))
    onnx.checker.check_model(rewritten)
    _check_same(before, rewritten.SerializeToString())
    return rewritten, ["ConvTranspose as Conv + phase interleave", "Relu before interleave",
                       "interleave in NHWC", "narrow Conv as MatMul + tap sum"]


def classifier_rewrites(model):
    """The CNN with its first layer on 2x2 blocks, and the rewrite's name (none if no layer
    fits); ValueError if it changed the output."""
    import onnx

    before = model.SerializeToString()
    rewritten = first_layer_on_blocks(onnx.load_from_string(before))
    if len(rewritten.graph.node) == len(model.graph.node):
        return model, []
    onnx.checker.check_model(rewritten)
    _check_same(before, rewritten.SerializeToString())
    return rewritten, ["one-channel Conv + Relu + 2x2 MaxPool as SpaceToDepth + Conv + Relu + Max"]


def first_layer_on_blocks(model):
    """Conv (one input channel, stride 1, 'same' padding, kernel 3 or 5) -> Relu -> MaxPool (2x2,
    stride 2) on an image of even sides -> SpaceToDepth(2) -> Conv (4 channels in, 4x the
    outputs) -> Relu -> Split into the 4 pixels of each block -> Max."""
    from onnx import helper, numpy_helper, shape_inference

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    inferred = shape_inference.infer_shapes(model).graph
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*inferred.input, *inferred.value_info]}
    readers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    split = {"num_outputs": 4} if opset >= 18 else {}  # opset 18 wants the count said
    dropped, nodes = set(), []  # outputs of the Relu and MaxPool folded into a rewrite
    for node in graph.node:
        if node.output[0] in dropped:
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        relu = _only_reader(readers, node, "Relu")
        pool = relu and _only_reader(readers, relu, "MaxPool")
        pool_attrs = pool and {a.name: helper.get_attribute_value(a) for a in pool.attribute}
        w = numpy_helper.to_array(inits[node.input[1]]) if node.op_type == "Conv" and node.input[1] in inits else None
        fits = (w is not None and w.shape[1] == 1 and w.shape[2] == w.shape[3] and w.shape[2] in (3, 5)
                and len(node.input) == 3 and node.input[2] in inits
                and set(attrs.get("strides", [1, 1])) == {1} and set(attrs.get("dilations", [1, 1])) == {1}
                and attrs.get("group", 1) == 1 and list(attrs.get("pads", [])) == [w.shape[2] // 2] * 4
                and pool_attrs and list(pool_attrs.get("kernel_shape", [])) == [2, 2]
                and list(pool_attrs.get("strides", [])) == [2, 2] and not any(pool_attrs.get("pads", []))
                and _even_sides(shapes.get(node.input[0], [])))
        if not fits:
            nodes.append(node)
            continue
        blocks, bias = _on_blocks(w), numpy_helper.to_array(inits[node.input[2]])
        p = (node.name or node.output[0]) + "/blocks"
        graph.initializer.extend([numpy_helper.from_array(blocks, p + "/W"),
                                  numpy_helper.from_array(np.tile(bias, 4), p + "/B")])
        parts = [f"{p}/pixel{k}" for k in range(4)]
        nodes += [
            helper.make_node("SpaceToDepth", [node.input[0]], [p + "/in"], blocksize=2, name=p + "/space_to_depth"),
            helper.make_node("Conv", [p + "/in", p + "/W", p + "/B"], [p + "/conv"], kernel_shape=[3, 3],
                             pads=[1, 1, 1, 1], name=p + "/conv"),
            helper.make_node("Relu", [p + "/conv"], [p + "/relu"], name=p + "/relu"),
            helper.make_node("Split", [p + "/relu"], parts, axis=1, name=p + "/split", **split),
            helper.make_node("Max", parts, list(pool.output), name=p + "/max"),
        ]
        dropped.update([relu.output[0], pool.output[0]])
    _replace(graph, nodes)
    return model


def _even_sides(nchw: list[int]) -> bool:
    """Whether an NCHW shape has known, even height and width (whole 2x2 blocks)."""
    return len(nchw) == 4 and all(side and side % 2 == 0 for side in nchw[2:])


def _only_reader(readers: dict, node, op_type: str):
    """The one node reading `node`'s one output, if it is an `op_type`; else None."""
    found = readers.get(node.output[0], []) if len(node.output) == 1 else []
    return found[0] if len(found) == 1 and found[0].op_type == op_type else None


def _on_blocks(w: np.ndarray) -> np.ndarray:
    """Weights [out, 1, K, K] (K 3 or 5, 'same' padding) as weights over 2x2 blocks: [4 * out, 4, 3, 3],
    output group a*2+b is the block's pixel (a, b), input channel u*2+v its pixel (u, v)
    (SpaceToDepth's order)."""
    out, _, k, _ = w.shape
    pad = k // 2
    blocks = np.zeros((4 * out, 4, 3, 3), w.dtype)
    for a in range(2):
        for b in range(2):
            for u in range(2):
                for v in range(2):
                    for di in range(-1, 2):
                        for dj in range(-1, 2):
                            # Output pixel 2i+a reads input 2(i+di)+u through tap 2di+u-a+pad.
                            ky, kx = 2 * di + u - a + pad, 2 * dj + v - b + pad
                            if 0 <= ky < k and 0 <= kx < k:
                                blocks[(a * 2 + b) * out : (a * 2 + b + 1) * out, u * 2 + v, di + 1, dj + 1] = w[:, 0, ky, kx]
    return blocks


def _axis(kernel: int, stride: int, pad: int) -> tuple[int, int]:
    # Output o = stride*m + r takes input m - j through tap k = stride*j + r + pad.
    js = [j for r in range(stride) for j in range(-kernel, kernel + 1) if 0 <= stride * j + r + pad < kernel]
    return min(js), max(js)


def _end_pad(kernel: int, stride: int, begin: int, end: int, taps: int, jmax: int) -> int | None:
    # The Conv must give out/stride positions, out = stride*(L-1) + kernel - begin - end.
    extra = kernel - begin - end - stride
    if extra % stride:
        return None
    pad = extra // stride - jmax + taps - 1
    return pad if pad >= 0 else None


def transposed_as_conv(model):
    """ConvTranspose (group 1, no dilation or output padding) -> Conv (+ DepthToSpace when strided)."""
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    nodes = []
    for node in graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        strides = list(attrs.get("strides", [1, 1]))
        pads = list(attrs.get("pads", [0, 0, 0, 0]))
        plain = (node.op_type == "ConvTranspose" and node.input[1] in inits and attrs.get("group", 1) == 1
                 and set(attrs.get("dilations", [1, 1])) == {1} and len(strides) == 2 and strides[0] == strides[1]
                 and not attrs.get("output_padding") and not attrs.get("output_shape")
                 and attrs.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET"))
        if not plain:
            nodes.append(node)
            continue
        w = numpy_helper.to_array(inits[node.input[1]])  # [cin, cout, kh, kw]
        cin, cout, kh, kw = w.shape
        s = strides[0]
        (_, jh), (_, jw) = _axis(kh, s, pads[0]), _axis(kw, s, pads[1])
        th, tw = jh - _axis(kh, s, pads[0])[0] + 1, jw - _axis(kw, s, pads[1])[0] + 1
        end_h, end_w = _end_pad(kh, s, pads[0], pads[2], th, jh), _end_pad(kw, s, pads[1], pads[3], tw, jw)
        if end_h is None or end_w is None:
            nodes.append(node)
            continue
        conv_w = np.zeros((s * s * cout, cin, th, tw), w.dtype)
        for rh in range(s):
            for rw in range(s):
                phase = slice((rh * s + rw) * cout, (rh * s + rw + 1) * cout)
                for t in range(th):
                    for u in range(tw):
                        k1, k2 = s * (jh - t) + rh + pads[0], s * (jw - u) + rw + pads[1]
                        if 0 <= k1 < kh and 0 <= k2 < kw:
                            conv_w[phase, :, t, u] = w[:, :, k1, k2].T
        name = node.name or node.output[0]
        graph.initializer.append(numpy_helper.from_array(conv_w, name + "/as_conv/W"))
        inputs = [node.input[0], name + "/as_conv/W"]
        if len(node.input) > 2 and node.input[2]:
            bias = np.tile(numpy_helper.to_array(inits[node.input[2]]), s * s)
            graph.initializer.append(numpy_helper.from_array(bias, name + "/as_conv/B"))
            inputs.append(name + "/as_conv/B")
        conv_out = node.output[0] if s == 1 else name + "/as_conv:0"
        nodes.append(helper.make_node("Conv", inputs, [conv_out], name=name + "/as_conv",
                                      kernel_shape=[th, tw], pads=[jh, jw, end_h, end_w]))
        if s > 1:
            nodes.append(helper.make_node("DepthToSpace", [conv_out], [node.output[0]],
                                          name=name + "/d2s", blocksize=s, mode="DCR"))
    _replace(graph, nodes)
    return model


def relu_before_interleave(model):
    """DepthToSpace -> Relu becomes Relu -> DepthToSpace (a permutation commutes with Relu),
    so the Relu fuses with the Conv before it."""
    graph = model.graph
    users: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)
    for d2s in [n for n in graph.node if n.op_type == "DepthToSpace"]:
        after = users.get(d2s.output[0], [])
        if len(after) == 1 and after[0].op_type == "Relu":
            relu, source, result = after[0], d2s.input[0], after[0].output[0]
            relu.input[0], relu.output[0] = source, source + "/relu"
            d2s.input[0], d2s.output[0] = source + "/relu", result
    _replace(graph, list(graph.node))
    return model


def interleave_in_nhwc(model):
    """DepthToSpace(DCR) on NCHW -> to NHWC, Reshape, swap W and the row phase, Reshape, to NCHW."""
    from onnx import helper, numpy_helper, shape_inference

    inferred = shape_inference.infer_shapes(model)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    graph = model.graph
    nodes = []
    for node in graph.node:
        dims = shapes.get(node.input[0]) if node.op_type == "DepthToSpace" else None
        mode = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "mode"), b"DCR")
        if not dims or len(dims) != 4 or not all(dims[1:]) or mode not in (b"DCR", "DCR"):
            nodes.append(node)
            continue
        s = next(helper.get_attribute_value(a) for a in node.attribute if a.name == "blocksize")
        _, channels, h, w = dims
        c = channels // (s * s)
        p = node.name or node.output[0]
        graph.initializer.extend([
            numpy_helper.from_array(np.array([0, h, w, s, s * c], np.int64), p + "/shape_phases"),
            numpy_helper.from_array(np.array([0, h * s, w * s, c], np.int64), p + "/shape_out")])
        nodes += [
            helper.make_node("Transpose", [node.input[0]], [p + "/nhwc"], perm=[0, 2, 3, 1], name=p + "/to_nhwc"),
            helper.make_node("Reshape", [p + "/nhwc", p + "/shape_phases"], [p + "/phases"], name=p + "/phases"),
            helper.make_node("Transpose", [p + "/phases"], [p + "/rows"], perm=[0, 1, 3, 2, 4], name=p + "/rows"),
            helper.make_node("Reshape", [p + "/rows", p + "/shape_out"], [p + "/out"], name=p + "/out"),
            helper.make_node("Transpose", [p + "/out"], [node.output[0]], perm=[0, 3, 1, 2], name=p + "/to_nchw"),
        ]
    _replace(graph, nodes)
    return model


def narrow_as_matmul(model, most_outputs: int = 4):
    """A stride-1 Conv with at most `most_outputs` channels -> MatMul over input channels (NHWC)
    giving one value per tap and output, then a one-hot KxK Conv adding the taps up."""
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    nodes = []
    for node in graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if (node.op_type != "Conv" or node.input[1] not in inits or set(attrs.get("strides", [1, 1])) != {1}
                or set(attrs.get("dilations", [1, 1])) != {1} or attrs.get("group", 1) != 1):
            nodes.append(node)
            continue
        w = numpy_helper.to_array(inits[node.input[1]])  # [cout, cin, kh, kw]
        cout, cin, kh, kw = w.shape
        if cout > most_outputs:
            nodes.append(node)
            continue
        taps = kh * kw
        product = np.transpose(w.reshape(cout, cin, taps), (1, 2, 0)).reshape(cin, taps * cout)
        one_hot = np.zeros((cout, taps * cout, kh, kw), w.dtype)
        for k in range(taps):
            for c in range(cout):
                one_hot[c, k * cout + c, k // kw, k % kw] = 1
        p = node.name or node.output[0]
        graph.initializer.extend([numpy_helper.from_array(product, p + "/mm/W"),
                                  numpy_helper.from_array(one_hot, p + "/taps/W")])
        nodes += [
            helper.make_node("Transpose", [node.input[0]], [p + "/nhwc"], perm=[0, 2, 3, 1], name=p + "/to_nhwc"),
            helper.make_node("MatMul", [p + "/nhwc", p + "/mm/W"], [p + "/mm"], name=p + "/mm"),
            helper.make_node("Transpose", [p + "/mm"], [p + "/per_tap"], perm=[0, 3, 1, 2], name=p + "/to_nchw"),
            helper.make_node("Conv", [p + "/per_tap", p + "/taps/W", *node.input[2:]], list(node.output),
                             name=p + "/taps", kernel_shape=[kh, kw], pads=attrs.get("pads", [0, 0, 0, 0])),
        ]
    _replace(graph, nodes)
    return model


def _replace(graph, nodes: list) -> None:
    """Set the graph's nodes in an order where each comes after its inputs; drop unused weights."""
    ready = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}
    ordered, pending = [], list(nodes)
    while pending:
        node = next(n for n in pending if all(i in ready for i in n.input))
        ordered.append(node)
        ready.update(node.output)
        pending.remove(node)
    del graph.node[:]
    graph.node.extend(ordered)
    used = {name for node in ordered for name in node.input}
    keep = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)


def _check_same(before: bytes, after: bytes, tolerance: float = 1e-4) -> None:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # not the float export's unused initializers again
    sessions = [ort.InferenceSession(m, options, providers=["CPUExecutionProvider"]) for m in (before, after)]
    inputs = sessions[0].get_inputs()
    rng = np.random.default_rng(0)
    feeds = {i.name: rng.standard_normal([d if isinstance(d, int) else 8 for d in i.shape]).astype(np.float32)
             for i in inputs}
    worst = max(float(np.max(np.abs(a - b))) for a, b in zip(*(s.run(None, feeds) for s in sessions), strict=False))
    if not worst <= tolerance:
        raise ValueError(f"graph rewrite changed the output by {worst:.2e}")
