"""The static int8 backend: CPU flags, its graph (QDQ, the fp32 layers), its accuracy gate,
'auto' offering it only on CPUs with int8 dot-product instructions, and the cache path.

The graph is checked on random-init weights; the gate and what depends on it on the shipped
weights, whose deviation (1.2 mm) is the one the bar is set for: an untrained network's
outputs barely follow the input, and its deviation (about 3 mm) says nothing about accuracy.
"""

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper
import pytest

from crossinfonet_ros import cpus
from crossinfonet_ros.backends import (AUTO_RECORD, ModelSource, cache, create_backend,
                                       create_cached_backend)
from crossinfonet_ros.backends import artifacts
from crossinfonet_ros.backends.probe import INT8_ACCURACY_BAR_MM, probe_crops
from crossinfonet_ros.backends.qdq_int8 import FP32_PREFIXES, fp32_nodes, static_int8
from crossinfonet_ros.weights import load_weights

X86_NO_VNNI = 'processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx avx2 fma\n'
X86_VNNI = 'processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n'
ARM_DOT = 'processor\t: 0\nFeatures\t: fp asimd evtstrm asimddp\nCPU part\t: 0xd0c\n'


def cpuinfo(tmp_path: Path, text: str) -> str:
    path = tmp_path / 'cpuinfo'
    path.write_text(text)
    return str(path)


@pytest.fixture(scope='module')
def random_source(weights):
    return ModelSource(*load_weights(weights))


@pytest.fixture(scope='module')
def source(trained_weights, weights):
    """The shipped weights, their derived files in the session's test cache (``weights``)."""
    return ModelSource(*load_weights(trained_weights))


@pytest.fixture(scope='module')
def int8_backend(source):
    return create_backend('onnxruntime-int8', source, 'cpu', 1)


@pytest.mark.parametrize('text, dot', [(X86_NO_VNNI, False), (X86_VNNI, True),
                                       (ARM_DOT, True), ('processor\t: 0\n', False)])
def test_cpu_flags_come_from_a_cpuinfo_file(tmp_path, text, dot):
    path = cpuinfo(tmp_path, text)
    assert cpus.has_int8_dot_product(cpus.cpu_flags(path)) is dot
    assert ('avx2' in cpus.cpu_flags(path)) is ('avx2' in text)


def test_an_unreadable_cpuinfo_means_no_flags(tmp_path, cpu_without_vnni, monkeypatch):
    assert cpus.cpu_flags(str(tmp_path / 'missing')) == frozenset()
    assert 'avx2' in cpus.cpu_flags() and not cpus.has_int8_dot_product()  # the fixture's file
    monkeypatch.setenv(cpus.CPUINFO_ENV, cpuinfo(tmp_path, X86_VNNI))
    assert cpus.has_int8_dot_product()


def test_the_int8_graph_quantises_all_but_the_early_convs_and_the_small_fcs(random_source):
    graph = onnx.load(str(artifacts.int8_onnx(random_source))).graph
    fp32 = onnx.load(str(artifacts.fp32_onnx(random_source)))
    kept = fp32_nodes(fp32)
    convs = [node for node in fp32.graph.node if node.op_type == 'Conv']
    assert kept[0] == convs[0].name and convs[0].input[0] == 'crops'
    early = [node.name for node in convs if node.input[1].startswith(FP32_PREFIXES)]
    assert len(early) == 1 + 3 * 3 + 1 + 3 * 4 + 1  # stem, stages 0-1 (with projections)
    assert [n.name for n in fp32.graph.node if n.name in kept and n.op_type == 'Conv'] == early
    gemms = [node.name for node in fp32.graph.node if node.op_type == 'Gemm']
    assert [name for name in kept if name in gemms] == gemms[1:2] + gemms[3:]  # small FCs
    by_name = {node.name: node for node in graph.node}
    weights = {init.name: init for init in graph.initializer}
    for name in kept:  # fp32 weights read directly, no DequantizeLinear in front
        assert weights[by_name[name].input[1]].data_type == onnx.TensorProto.FLOAT
    quantised = [n for n in graph.node if n.op_type == 'Conv' and n.name not in kept]
    assert len(quantised) == len(convs) - len(early)
    producers = {out: node for node in graph.node for out in node.output}
    for node in quantised:  # input and weight both dequantised from int8 tensors
        assert {producers[x].op_type for x in node.input[:2]} == {'DequantizeLinear'}
        weight = weights[producers[node.input[1]].input[0]]
        levels = numpy_helper.to_array(weight)
        assert levels.dtype == np.int8 and np.abs(levels).max() <= 64  # 7 bits: no saturation
        scales = numpy_helper.to_array(weights[producers[node.input[1]].input[1]])
        assert scales.shape == (levels.shape[0],)  # one scale per output channel


def test_int8_stays_within_its_bar_of_the_fp32_model(source, int8_backend):
    crops = probe_crops(8, source.metadata.input_size, seed=31)
    joints, heatmaps = int8_backend.run(crops)
    fp32 = create_backend('onnxruntime', source, 'cpu', 1)
    fp32_joints, fp32_heatmaps = fp32.run(crops)
    assert joints.shape == fp32_joints.shape and heatmaps.shape == fp32_heatmaps.shape
    assert not np.array_equal(joints, fp32_joints)  # really a different graph
    record = cache.read_record(source.key, 'int8.json')
    assert record['passed'] and record['bar_mm'] == INT8_ACCURACY_BAR_MM
    deviation = artifacts.measure_deviation(source.model(), int8_backend.run,
                                            source.metadata.cube_mm, crops,
                                            bar_mm=INT8_ACCURACY_BAR_MM)
    assert deviation['passed'], deviation


def test_calibration_needs_crops(random_source):
    with pytest.raises(ValueError, match='at least one calibration crop'):
        static_int8(onnx.load(str(artifacts.fp32_onnx(random_source))),
                    np.zeros((0, 1, 96, 96)))


def test_auto_times_int8_also_without_int8_dot_product_instructions(source, int8_backend,
                                                                      cpu_without_vnni):
    """Without VNNI ORT's int8 kernels lose some speed but beat fp32 on an AVX2 EPYC (network
    12.96 against 17.6 ms in the node at 60 Hz): the timing decides, not the flags."""
    (cache.entry_dir(source.key) / AUTO_RECORD).unlink(missing_ok=True)
    create_backend('auto', source, 'cpu', 1)
    record = cache.read_record(source.key, AUTO_RECORD)
    assert 'onnxruntime-int8' in record['batch1_ms']
    assert record['choice'] == min(record['batch1_ms'], key=record['batch1_ms'].get)
    cache.write_record(source.key, AUTO_RECORD, {**record, 'choice': 'onnxruntime-int8'})
    served = create_cached_backend('auto', source.key, 'cpu', 1, lambda: None)
    assert served is not None and served.name == 'onnxruntime-int8'
    (cache.entry_dir(source.key) / AUTO_RECORD).unlink()


def test_the_cache_serves_int8_by_name_and_keeps_its_refusal(source, int8_backend):
    checked = []
    served = create_cached_backend('onnxruntime-int8', source.key, 'cpu', 1,
                                   lambda: checked.append(1))
    assert served is not None and served.name == 'onnxruntime-int8' and checked == [1]
    crops = probe_crops(2, source.metadata.input_size, seed=3)
    np.testing.assert_array_equal(served.run(crops)[0], int8_backend.run(crops)[0])
    record = cache.read_record(source.key, 'int8.json')
    try:
        cache.write_record(source.key, 'int8.json',
                           {**record, 'mean_mm': 9.0, 'passed': False})
        with pytest.raises(ValueError, match='deviates 9.000 mm'):
            create_cached_backend('onnxruntime-int8', source.key, 'cpu', 1, lambda: None)
        with pytest.raises(ValueError, match='deviates 9.000 mm'):
            create_backend('onnxruntime-int8', source, 'cpu', 1)
        cache.write_record(source.key, 'int8.json', {**record, 'bar_mm': 0.1})
        # A record measured against another bar is stale: the full path measures it again.
        assert create_cached_backend('onnxruntime-int8', source.key, 'cpu', 1,
                                     lambda: None) is None
    finally:
        cache.write_record(source.key, 'int8.json', record)
