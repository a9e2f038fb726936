"""ONNX export: the inference graph, its rewrites, metadata, numeric check, dynamic batch."""

import collections

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
import onnxruntime as ort
import pytest
import torch

from crossinfonet_ros.backends import ModelSource
from crossinfonet_ros.backends.artifacts import fp32_onnx
from crossinfonet_ros.backends.fc_int8 import BIG_FC_MIN_INPUTS, dynamic_int8_fc, split_int8_fc
from crossinfonet_ros.backends.graph import InferenceGraph
from crossinfonet_ros.backends.probe import probe_crops
from crossinfonet_ros.model import CrossInfoNet, ModelConfig
from crossinfonet_ros.onnx_export import (DEFAULT_TOLERANCE, ExportError, export_onnx,
                                          read_onnx_metadata)
from crossinfonet_ros.weights import load_weights

torch.set_num_threads(2)


@pytest.fixture(scope='module')
def source(weights):
    return ModelSource(*load_weights(weights))


@pytest.fixture(scope='module')
def exported(source):
    """The cached fp32 export (dynamo exporter), built on first use."""
    return fp32_onnx(source)


def session(model) -> ort.InferenceSession:
    data = model if isinstance(model, (str, bytes)) else str(model)
    return ort.InferenceSession(data, providers=['CPUExecutionProvider'])


def torch_outputs(source, crops):
    with torch.inference_mode():
        out = source.model()(torch.from_numpy(crops), outputs='inference')
    return out.joints.numpy(), out.heatmaps.numpy()


def test_graph_has_only_inference_outputs_and_a_dynamic_batch(exported):
    model = onnx.load(str(exported))
    (crops,) = model.graph.input
    assert crops.name == 'crops'
    dims = crops.type.tensor_type.shape.dim
    assert not dims[0].HasField('dim_value') and [d.dim_value for d in dims[1:]] == [1, 96, 96]
    assert [o.name for o in model.graph.output] == ['joints', 'heatmaps']
    ops = collections.Counter(node.op_type for node in model.graph.node)
    # BN folded, TF up-sampling as Resize, strided shortcut slices as 1x1 max-pools.
    assert 'BatchNormalization' not in ops and 'Gather' not in ops and 'Slice' not in ops
    assert ops['Resize'] == 3 and ops['Gemm'] == 5


def test_metadata_props_carry_the_weights_description(exported, source):
    assert read_onnx_metadata(exported) == source.metadata
    props = {p.key: p.value for p in onnx.load(str(exported)).metadata_props}
    assert props['onnx_exporter'] == 'dynamo'  # dynamo=True works with this torch
    assert props['onnx_outputs'] == 'joints,heatmaps'


@pytest.mark.parametrize('batch', [1, 3])
def test_onnx_runtime_matches_torch_on_hand_crops(exported, source, batch):
    crops = probe_crops(batch, seed=batch)
    joints, heatmaps = session(exported).run(None, {'crops': crops})
    ref_joints, ref_heatmaps = torch_outputs(source, crops)
    assert joints.shape == ref_joints.shape and heatmaps.shape == ref_heatmaps.shape
    assert np.abs(joints - ref_joints).max() < DEFAULT_TOLERANCE
    assert np.abs(heatmaps - ref_heatmaps).max() < DEFAULT_TOLERANCE


@pytest.mark.parametrize('tf_bilinear', [True, False])
def test_inference_graph_rewrites_are_exact(tf_bilinear):
    torch.manual_seed(0)
    model = CrossInfoNet(ModelConfig(tf_bilinear=tf_bilinear)).eval()
    with torch.no_grad():
        for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.5, 2.0)
    crops = torch.from_numpy(probe_crops(2, seed=5))
    with torch.inference_mode():
        reference = model(crops, outputs='inference')
        for for_export in (False, True):
            joints, heatmaps = InferenceGraph(model, for_export=for_export)(crops)
            assert torch.allclose(joints, reference.joints, atol=2e-5)
            assert torch.allclose(heatmaps, reference.heatmaps, atol=2e-5)


def test_export_onnx_writes_a_checked_self_describing_file(weights, source, tmp_path):
    report = export_onnx(weights, tmp_path / 'net.onnx', dynamo=False)
    assert report.path.is_file() and report.exporter == 'torchscript'
    assert 0 <= report.max_abs_diff <= DEFAULT_TOLERANCE
    assert read_onnx_metadata(report.path) == source.metadata
    crops = probe_crops(2, seed=9)
    joints, _ = session(report.path).run(None, {'crops': crops})
    assert np.abs(joints - torch_outputs(source, crops)[0]).max() < DEFAULT_TOLERANCE


def test_export_that_differs_from_torch_fails_and_writes_nothing(weights, exported,
                                                                  monkeypatch, tmp_path):
    broken = onnx.load(str(exported))
    head = next(i for i in broken.graph.initializer if tuple(i.dims) == (63, 2048))
    head.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(head) * 1.01, head.name))
    monkeypatch.setattr('crossinfonet_ros.onnx_export._export_proto',
                        lambda graph, size, dynamo: (broken, 'dynamo'))
    with pytest.raises(ExportError, match='differs from torch'):
        export_onnx(weights, tmp_path / 'bad.onnx')
    assert not (tmp_path / 'bad.onnx').exists()


def test_read_onnx_metadata_rejects_an_onnx_file_without_it(tmp_path):
    path = tmp_path / 'plain.onnx'
    x = helper.make_tensor_value_info('x', TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node('Identity', ['x'], ['y'])], 'g', [x],
                              [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1])])
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(ValueError, match='not a CrossInfoNet weights file'):
        read_onnx_metadata(path)


def fc_graph(weight: np.ndarray, bias: np.ndarray) -> onnx.ModelProto:
    """x (B, K) -> Relu(x) -> Gemm(transB) -> y: one big FC layer as the exporter writes it."""
    inits = [numpy_helper.from_array(weight, 'w'), numpy_helper.from_array(bias, 'b')]
    nodes = [helper.make_node('Relu', ['x'], ['r']),
             helper.make_node('Gemm', ['r', 'w', 'b'], ['y'], name='fc', transB=1)]
    graph = helper.make_graph(
        nodes, 'fc', [helper.make_tensor_value_info('x', TensorProto.FLOAT, ['B', 5000])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, ['B', 64])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid('', 18)])


def test_split_int8_fc_keeps_about_14_bits_and_dynamic_int8_does_not():
    rng = np.random.default_rng(0)
    assert 5000 >= BIG_FC_MIN_INPUTS
    weight = (rng.standard_normal((64, 5000)) * 0.02).astype(np.float32)
    bias = rng.standard_normal(64).astype(np.float32)
    x = rng.standard_normal((3, 5000)).astype(np.float32)
    exact = np.maximum(x, 0).astype(np.float64) @ weight.T.astype(np.float64) + bias
    spread = np.abs(exact - bias).mean()
    model = fc_graph(weight, bias)
    split = split_int8_fc(model)
    ops = collections.Counter(node.op_type for node in split.graph.node)
    assert ops['MatMulInteger'] == 2 and 'Gemm' not in ops  # one pass per weight matrix
    assert not {'w', 'b'} & {i.name for i in split.graph.initializer}  # fp32 copies dropped
    split_error = np.abs(session(split.SerializeToString()).run(None, {'x': x})[0] - exact)
    dyn = dynamic_int8_fc(model)
    dyn_error = np.abs(session(dyn.SerializeToString()).run(None, {'x': x})[0] - exact)
    one_row = session(split.SerializeToString()).run(None, {'x': x[:1]})[0]
    # Weight residual steps of max|w| / 7938 (7-bit pairs) limit it: 1.6e-4 relative here
    # (8-bit pairs: 4e-5; fp16: ~2e-4).
    assert split_error.mean() < 2.5e-4 * spread and split_error.max() < 8e-4 * spread
    assert dyn_error.mean() > 30 * split_error.mean()
    assert np.abs(one_row - exact[:1]).max() < 8e-4 * spread


def test_split_int8_fc_needs_a_big_layer():
    small = fc_graph(np.zeros((64, 5000), np.float32), np.zeros(64, np.float32))
    small.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.zeros((64, 100),
                                                                         np.float32), 'w'))
    with pytest.raises(ValueError, match='no FC layer'):
        split_int8_fc(small)

