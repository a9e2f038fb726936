"""Reduced-precision rewrites of the two big FC layers (9216 -> 1024) of an exported graph.

At batch 1 these layers are memory-bound: 2 x 37.7 MB of fp32 weights are streamed per crop at
about 26 GB/s, about 2.3 of the 9-10 ms ONNX Runtime needs here, while the convs run near the
machine's fp32 peak. Three rewrites, measured against the fp32 torch output on rendered hands
(cube 250 mm; "random" = random-init weights, "proxy" = weights after a short training run
whose outputs move by 176 mm over the crops):

``split`` (kept): each weight is stored as two int8 matrices, ``W ~ s (Q_hi + Q_lo / 126)`` with
one scale ``s`` per output row, and each input row the same way, ``x ~ t (q + r / 254)`` with one
scale ``t`` per row (so a crop's result does not depend on its batch-mates). Two integer GEMMs
over the stacked rows ``[q; r]`` stream each weight matrix once: half the bytes of fp32, about
14 significant bits (better than fp16). Mean deviation 0.006 mm (random) / 0.0013 mm
(shipped weights); 0.002 / 0.0008 mm (random / proxy) with 8-bit weights. FC path 2.5 -> 2.1 ms,
whole network about 5 % faster at batch 1 (the GEMMs still stream 38 MB and the quantisation
adds ~0.5 ms of small ops); no gain at batch 16, where the convs dominate.

The weights use 7 bits (|Q| <= 63): without VNNI, ONNX Runtime's u8 x s8 kernel adds pairs of
products in int16 (``vpmaddubsw``), which saturates above 255 * 63 * 2; 8-bit weights gave
29.6 mm of error on an AVX2-only EPYC (exact with VNNI).

``dynamic`` (measured, not kept): ONNX Runtime's ``quantize_dynamic`` on the two layers, int8
weights (per-channel) and one uint8 activation scale per batch. A quarter of the bytes, 15 %
faster at batch 1, but 0.50 mm (random) / 0.14 mm (proxy) mean deviation -- over the 0.1 mm
bar. 8-bit weights alone (fp32 activations) already give about 0.3 mm on random weights.

``fp16_weight_fc`` (measured, not kept): x86 ONNX Runtime has no fp16 GEMM, so the Cast to fp32
is folded into a constant at session start: fp32 speed, fp16 rounding (0.017 / 0.0016 mm).
"""

from typing import List

import numpy as np

# Input width from which a Gemm counts as one of "the big FC layers" (9216 for a 96 crop).
BIG_FC_MIN_INPUTS = 4096
# Input rows: r holds the residual of q in units of t / 254: |residual| <= t / 2 -> |r| <= 127.
_LO_STEPS = 254.0
# Weights: 7-bit levels (see the module doc), the residual in units of s / 126 -> |Q_lo| <= 63.
_WEIGHT_LEVELS = 63.0
_WEIGHT_LO_STEPS = 126.0


def big_fc_nodes(model) -> List:
    """The Gemm nodes of ``model`` (onnx.ModelProto) with at least BIG_FC_MIN_INPUTS inputs."""
    from onnx import helper

    weights = {init.name: init for init in model.graph.initializer}
    found = []
    for node in model.graph.node:
        if node.op_type != 'Gemm' or node.input[1] not in weights:
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if attrs.get('transA', 0) or attrs.get('alpha', 1.0) != 1.0 \
                or attrs.get('beta', 1.0) != 1.0:
            continue
        dims = list(weights[node.input[1]].dims)
        inputs = dims[1] if attrs.get('transB', 0) else dims[0]
        if inputs >= BIG_FC_MIN_INPUTS:
            found.append(node)
    return found


def split_int8_fc(model):
    """Rewrite the big FC layers as two-level int8 GEMMs (see module doc); returns a new model.

    Each input row gets its own scale, so a crop's result does not depend on the other crops
    in its batch.

    :param model: onnx.ModelProto of the inference graph (fp32)
    :raises ValueError: the graph has no big FC layer to rewrite
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    nodes = big_fc_nodes(model)
    if not nodes:
        raise ValueError('no FC layer with >= %d inputs found to quantise' % BIG_FC_MIN_INPUTS)
    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    for node in nodes:
        bias, scale, q_hi, q_lo = _split_weights(node, weights)
        build = _Builder(node.name or node.output[0])
        constants = {
            'q_hi': q_hi, 'q_lo': q_lo, 'scale': scale.astype(np.float32),
            'bias': bias.astype(np.float32), 'inv_127': np.array(1 / 127, np.float32),
            'lo_steps': np.array(_LO_STEPS, np.float32),
            'inv_lo_steps': np.array(1 / _LO_STEPS, np.float32),
            'inv_weight_lo_steps': np.array(1 / _WEIGHT_LO_STEPS, np.float32),
            'offset': np.array(128.0, np.float32), 'offset_u8': np.array(128, np.uint8),
            'tiny': np.array(1e-30, np.float32), 'axis1': np.array([1], np.int64),
        }
        c = {key: build.name(key) for key in constants}
        graph.initializer.extend(numpy_helper.from_array(value, c[key])
                                 for key, value in constants.items())
        # Input rows x ~ step (q + r / 254): q and r in [-127, 127], one step per row.
        x = node.input[0]
        peak = build.op('ReduceMax', build.op('Abs', x), c['axis1'], keepdims=1)
        step = build.op('Max', build.op('Mul', peak, c['inv_127']), c['tiny'])  # (B, 1)
        scaled = build.op('Div', x, step)
        q = build.op('Round', scaled)
        r = build.op('Round', build.op('Mul', build.op('Sub', scaled, q), c['lo_steps']))
        # Value and residual rows stacked (uint8 with zero point 128): each weight matrix is
        # streamed once by the integer GEMM.
        levels = build.op('Cast', build.op('Add', build.op('Concat', q, r, axis=0),
                                           c['offset']), to=_UINT8)
        hi = build.op('MatMulInteger', levels, c['q_hi'], c['offset_u8'])
        lo = build.op('MatMulInteger', levels, c['q_lo'], c['offset_u8'])
        # Q_hi + Q_lo / 126 applied to both row kinds, then q-rows + r-rows / 254.
        both = build.op('Add', build.op('Cast', hi, to=_FLOAT),
                        build.op('Mul', build.op('Cast', lo, to=_FLOAT),
                                 c['inv_weight_lo_steps']))
        value, residual = build.op('Split', both, axis=0, num_outputs=2, outputs=2)
        rows = build.op('Add', value, build.op('Mul', residual, c['inv_lo_steps']))
        summed = build.op('Mul', build.op('Mul', rows, step), c['scale'])
        build.op('Add', summed, c['bias'], out=node.output[0])
        replaced = list(node.input[1:])  # the fp32 weight and bias, now quantised / copied
        _replace_node(graph, node, build.nodes)
        for name in replaced:
            if name in weights:
                _drop_initializer(graph, weights[name])
    return model


# onnx.TensorProto data types (plain ints so the module imports without onnx).
_FLOAT, _UINT8 = 1, 2


class _Builder:
    """Appends ONNX nodes with generated, prefixed tensor names."""

    def __init__(self, prefix: str) -> None:
        self.prefix = f'{prefix}/split_int8'
        self.nodes: List = []

    def name(self, key: str) -> str:
        return f'{self.prefix}/{key}'

    def op(self, op_type: str, *inputs: str, outputs: int = 1, out: str = '', **attrs):
        from onnx import helper

        index = len(self.nodes)
        names = [out] if out else [self.name(f'{index}_{op_type}_{k}') for k in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names,
                                           name=self.name(f'{index}_{op_type}'), **attrs))
        return names[0] if outputs == 1 else names


def dynamic_int8_fc(model):
    """ONNX Runtime ``quantize_dynamic`` of the big FC layers only (for comparison; fails the
    accuracy bar). Returns a new onnx.ModelProto.
    """
    import os
    import tempfile

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    matmul_model, names = _gemms_to_matmuls(model)
    with tempfile.TemporaryDirectory() as folder:
        source = os.path.join(folder, 'in.onnx')
        target = os.path.join(folder, 'out.onnx')
        onnx.save(matmul_model, source)
        quantize_dynamic(source, target, nodes_to_quantize=names, per_channel=True,
                         weight_type=QuantType.QInt8)
        return onnx.load(target)


def fp16_weight_fc(model):
    """The big FC weights stored as fp16 with a Cast to fp32 in front of the Gemm (for
    comparison: ONNX Runtime folds the Cast at session start, so it runs as fp32). Returns a
    new onnx.ModelProto.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    weights = {init.name: init for init in model.graph.initializer}
    for node in big_fc_nodes(model):
        weight = weights[node.input[1]]
        half = numpy_helper.from_array(numpy_helper.to_array(weight).astype(np.float16),
                                       f'{weight.name}/fp16')
        model.graph.initializer.append(half)
        cast = helper.make_node('Cast', [half.name], [f'{weight.name}/fp32'],
                                name=f'{node.name}/cast_fp16', to=_FLOAT)
        gemm = onnx.NodeProto.FromString(node.SerializeToString())
        gemm.input[1] = cast.output[0]
        _replace_node(model.graph, node, [cast, gemm])
        _drop_initializer(model.graph, weight)
    return model


def _split_weights(node, weights):
    """Scale and int8 pair of a Gemm's weight (as (K, N) for MatMulInteger)."""
    from onnx import helper, numpy_helper

    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    weight = weights[node.input[1]]
    matrix = numpy_helper.to_array(weight).astype(np.float64)
    if not attrs.get('transB', 0):
        matrix = matrix.T  # -> (N_out, K)
    outputs = matrix.shape[0]
    if len(node.input) > 2 and node.input[2]:
        bias = np.broadcast_to(numpy_helper.to_array(weights[node.input[2]]), (outputs,))
    else:
        bias = np.zeros(outputs)
    scale = np.abs(matrix).max(axis=1) / _WEIGHT_LEVELS
    scale[scale == 0] = 1.0
    q_hi = np.clip(np.round(matrix / scale[:, None]), -_WEIGHT_LEVELS, _WEIGHT_LEVELS)
    residual = matrix - q_hi * scale[:, None]
    q_lo = np.clip(np.round(residual * _WEIGHT_LO_STEPS / scale[:, None]), -_WEIGHT_LEVELS,
                   _WEIGHT_LEVELS)
    return (bias, scale, np.ascontiguousarray(q_hi.T.astype(np.int8)),
            np.ascontiguousarray(q_lo.T.astype(np.int8)))


def _gemms_to_matmuls(model):
    """Copy of ``model`` with each big FC Gemm as MatMul (+ Add): quantize_dynamic's input."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    weights = {init.name: init for init in model.graph.initializer}
    names = []
    for node in big_fc_nodes(model):
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        weight = weights[node.input[1]]
        matrix = numpy_helper.to_array(weight)
        if attrs.get('transB', 0):
            matrix = matrix.T
        transposed = numpy_helper.from_array(np.ascontiguousarray(matrix),
                                             f'{weight.name}/k_by_n')
        model.graph.initializer.append(transposed)
        matmul_out = f'{node.output[0]}/matmul'
        has_bias = len(node.input) > 2 and node.input[2]
        new = [helper.make_node('MatMul', [node.input[0], transposed.name],
                                [matmul_out if has_bias else node.output[0]],
                                name=f'{node.name}/MatMul')]
        if has_bias:
            new.append(helper.make_node('Add', [matmul_out, node.input[2]], [node.output[0]],
                                        name=f'{node.name}/Add'))
        names.append(new[0].name)
        _replace_node(model.graph, node, new)
        _drop_initializer(model.graph, weight)
    return model, names


def _replace_node(graph, node, new_nodes) -> None:
    index = list(graph.node).index(node)
    graph.node.remove(node)
    for offset, item in enumerate(new_nodes):
        graph.node.insert(index + offset, item)


def _drop_initializer(graph, initializer) -> None:
    """Remove an initializer no node uses any more (and any stale shape info about it)."""
    if any(initializer.name in node.input for node in graph.node):
        return
    graph.initializer.remove(initializer)
    for collection in (graph.value_info, graph.input):
        for info in [v for v in collection if v.name == initializer.name]:
            collection.remove(info)
