"""The GPU path: provider choice, the fp16 graph, and 'auto' on CUDA.

These machines have no GPU: the provider choice and the fp16 graph are checked on the CPU, and
the one test that needs a GPU skips with the reason.
"""

import logging

import numpy as np
import onnxruntime
import pytest
import torch

from crossinfonet_ros.backends import ModelSource, artifacts, create_backend
from crossinfonet_ros.backends.onnx_backend import OnnxRuntimeBackend, execution_providers
from crossinfonet_ros.backends.probe import ACCURACY_BAR_MM
from crossinfonet_ros.weights import load_weights

TRT, CUDA, CPU = 'TensorrtExecutionProvider', 'CUDAExecutionProvider', 'CPUExecutionProvider'
HAS_GPU_PROVIDER = bool({TRT, CUDA} & set(onnxruntime.get_available_providers()))


@pytest.fixture(scope='module')
def source(weights):
    return ModelSource(*load_weights(weights))


def test_cpu_gets_the_cpu_provider_whatever_else_is_installed():
    assert execution_providers('cpu', [TRT, CUDA, CPU]) == [CPU]


def test_gpu_prefers_tensorrt_with_fp16_then_cuda_on_the_asked_device(tmp_path):
    providers = execution_providers('cuda:1', [TRT, CUDA, CPU], fp16=True, engine_cache=tmp_path)
    assert [p if isinstance(p, str) else p[0] for p in providers] == [TRT, CUDA, CPU]
    trt_options, cuda_options = providers[0][1], providers[1][1]
    assert trt_options['device_id'] == 1 and trt_options['trt_fp16_enable'] is True
    assert trt_options['trt_engine_cache_path'] == str(tmp_path)
    assert cuda_options == {'device_id': 1}


def test_fp32_graphs_do_not_get_fp16_engines_and_cuda_alone_is_used_when_alone():
    assert execution_providers('cuda', [TRT, CPU])[0][1]['trt_fp16_enable'] is False
    assert execution_providers('cuda', [CUDA, CPU]) == [(CUDA, {'device_id': 0}), CPU]


def test_gpu_without_a_gpu_provider_names_what_is_installed():
    with pytest.raises(ValueError, match=r"needs the CUDA or TensorRT .*'CPUExecutionProvider'"):
        execution_providers('cuda:0', ['AzureExecutionProvider', CPU])


def test_fp16_graph_keeps_fp32_io_and_stays_within_the_bar(source):
    """Run on the CPU (ORT casts what it has no fp16 kernel for): the weights' rounding alone."""
    import onnx

    graph = onnx.load(str(artifacts.fp16_onnx(source)))
    fp16 = onnx.TensorProto.FLOAT16
    assert any(t.data_type == fp16 for t in graph.graph.initializer)
    assert all(v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
               for v in list(graph.graph.input) + list(graph.graph.output))
    backend = OnnxRuntimeBackend(artifacts.fp16_onnx(source), 'onnxruntime-fp16')
    record = artifacts.measure_deviation(source.model(), backend.run, source.metadata.cube_mm)
    assert 0 < record['mean_mm'] < ACCURACY_BAR_MM


def test_fp16_backend_is_refused_on_the_cpu(source):
    with pytest.raises(ValueError, match="runs on CUDA only"):
        create_backend('onnxruntime-fp16', source, 'cpu')


@pytest.mark.skipif(HAS_GPU_PROVIDER, reason='checks the message of an onnxruntime without GPU')
def test_gpu_backend_without_provider_is_refused_before_any_export(source, monkeypatch):
    monkeypatch.setattr(artifacts, 'fp16_onnx', None)  # an export attempt would raise TypeError
    with pytest.raises(ValueError, match='needs the CUDA or TensorRT'):
        create_backend('onnxruntime-fp16', source, 'cuda:0')


@pytest.mark.skipif(HAS_GPU_PROVIDER, reason='checks the fallback of an onnxruntime without GPU')
def test_auto_on_cuda_without_provider_warns_once_and_takes_torch(source, caplog):
    with caplog.at_level(logging.WARNING, logger='crossinfonet_ros.backends'):
        if torch.cuda.is_available():
            assert create_backend('auto', source, 'cuda:0').name == 'torch'
        else:  # torch has no CUDA either here: the fallback is reached and fails in torch
            with pytest.raises((AssertionError, RuntimeError)):
                create_backend('auto', source, 'cuda:0')
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert 'auto on cuda:0' in warnings[0] and 'running torch fp32' in warnings[0]


@pytest.mark.skipif(not HAS_GPU_PROVIDER, reason='no CUDA or TensorRT execution provider in '
                    'this onnxruntime (no GPU on these machines)')
def test_auto_on_cuda_runs_fp16_within_the_bar(source):
    from crossinfonet_ros.backends.probe import probe_crops

    backend = create_backend('auto', source, 'cuda:0')
    assert backend.name == 'onnxruntime-fp16' and backend.providers[0] in (TRT, CUDA)
    joints, heatmaps = backend.run(probe_crops(2, source.metadata.input_size))
    assert joints.dtype == np.float32 and np.isfinite(heatmaps).all()
