"""Derived model files of one weights file (ONNX graphs), built once and cached.

``fp32.onnx`` is the exported inference graph; ``int8x2.onnx`` its split-int8 FC rewrite
(:mod:`crossinfonet_ros.backends.fc_int8`) and ``int8.onnx`` its static int8 quantisation
(:mod:`crossinfonet_ros.backends.qdq_int8`), each kept only when its accuracy record
(``int8x2.json``, ``int8.json``) says it stays within its bar (:data:`ACCURACY_BARS_MM`) of the
fp32 torch model; ``fp16.onnx`` the same graph in fp16 with fp32 inputs and outputs, for GPUs
(record ``fp16.json``).
"""

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

import numpy as np

from crossinfonet_ros.backends import cache
from crossinfonet_ros.backends.probe import (ACCURACY_BAR_MM, INT8_ACCURACY_BAR_MM,
                                             joint_deviation, probe_crops)
from crossinfonet_ros.weights import WeightsMetadata, metadata_fingerprint

if TYPE_CHECKING:  # torch and the model are imported when a model is built (fast start)
    from crossinfonet_ros.model import CrossInfoNet

# Probe crops used for accuracy records (enough joints for a stable mean, fast to run).
PROBE_COUNT = 16
PROBE_SEED = 2019
# Crops whose activations calibrate the int8 graph: probe hands of their own seed (never the
# probe or evaluation crops).
CALIBRATION_COUNT = 64
CALIBRATION_SEED = 11
# Cached graph file of each ONNX Runtime backend.
ONNX_FILES = {'onnxruntime': 'fp32.onnx', 'onnxruntime-int8x2': 'int8x2.onnx',
              'onnxruntime-int8': 'int8.onnx', 'onnxruntime-fp16': 'fp16.onnx'}
# Accuracy bar of each record name (mean joint deviation from the fp32 torch model, mm).
ACCURACY_BARS_MM = {'int8x2': ACCURACY_BAR_MM, 'int8': INT8_ACCURACY_BAR_MM,
                    'fp16': ACCURACY_BAR_MM}


@dataclasses.dataclass
class ModelSource:
    """The loaded content of a weights file; the torch model is built only when needed."""

    state_dict: dict  # float32 tensors (crossinfonet_ros.weights.load_weights)
    metadata: WeightsMetadata  # the file's description
    _model: Optional['CrossInfoNet'] = None

    @property
    def key(self) -> str:
        """Cache key of this content."""
        return metadata_fingerprint(self.metadata)

    def model(self) -> 'CrossInfoNet':
        """The eval-mode network on CPU (built on first call)."""
        if self._model is None:
            from crossinfonet_ros.model import CrossInfoNet, ModelConfig

            model = CrossInfoNet(ModelConfig.from_dict(self.metadata.model_config))
            model.load_state_dict(self.state_dict)
            self._model = model.eval()
        return self._model


def fp32_onnx(source: ModelSource) -> Path:
    """The exported fp32 inference graph (see :mod:`crossinfonet_ros.onnx_export`)."""
    from crossinfonet_ros import onnx_export

    def build() -> bytes:
        return onnx_export.export_bytes(source.model(), source.metadata)

    return cache.cached_file(source.key, ONNX_FILES['onnxruntime'], build)


def int8x2_onnx(source: ModelSource) -> Path:
    """The split-int8 FC rewrite of :func:`fp32_onnx` (accuracy not checked here)."""
    return _rewrite(source, ONNX_FILES['onnxruntime-int8x2'], 'split_int8_fc')


def fp16_onnx(source: ModelSource) -> Path:
    """:func:`fp32_onnx` with fp16 weights and activations; inputs and outputs stay fp32."""
    def build() -> bytes:
        import onnx
        from onnxruntime.transformers.float16 import convert_float_to_float16

        graph = onnx.load(str(fp32_onnx(source)))
        return convert_float_to_float16(graph, keep_io_types=True).SerializeToString()

    return cache.cached_file(source.key, ONNX_FILES['onnxruntime-fp16'], build)


def int8_onnx(source: ModelSource) -> Path:
    """Static int8 QDQ graph of :func:`fp32_onnx`, calibrated on probe hands (accuracy not
    checked here)."""
    def build() -> bytes:
        import onnx

        from crossinfonet_ros.backends.qdq_int8 import static_int8

        crops = probe_crops(CALIBRATION_COUNT, source.metadata.input_size,
                            seed=CALIBRATION_SEED)
        return static_int8(onnx.load(str(fp32_onnx(source))), crops).SerializeToString()

    return cache.cached_file(source.key, ONNX_FILES['onnxruntime-int8'], build)


def int8_dynamic_onnx(source: ModelSource) -> Path:
    """``quantize_dynamic`` of the big FC layers (for comparison; fails the accuracy bar)."""
    return _rewrite(source, 'int8dyn.onnx', 'dynamic_int8_fc')


def accuracy_record(source: ModelSource, name: str, run: Callable) -> dict:
    """Deviation of a backend from the fp32 torch model, measured once and cached.

    :param source: the weights
    :param name: record name, a key of :data:`ACCURACY_BARS_MM`
    :param run: ``crops -> (joints, heatmaps)`` of the backend under test
    :return: ``mean_mm``, ``max_mm``, ``spread_mm``, ``relative`` (probe crops, the weights'
        cube), ``bar_mm`` and ``passed``
    """
    record = cache.read_record(source.key, f'{name}.json')
    if not record_is_current(record, name):
        record = measure_deviation(source.model(), run, source.metadata.cube_mm,
                                   bar_mm=ACCURACY_BARS_MM[name])
        cache.write_record(source.key, f'{name}.json', record)
    return record


def record_is_current(record: Optional[dict], name: str) -> bool:
    """An accuracy record measured against its bar in force (else it is measured again).

    :param record: the cached record, or None
    :param name: record name, a key of :data:`ACCURACY_BARS_MM`
    """
    return record is not None and record.get('bar_mm') == ACCURACY_BARS_MM[name]


def measure_deviation(model: 'CrossInfoNet', run: Callable, cube_mm: float,
                      crops: Optional[np.ndarray] = None,
                      bar_mm: float = ACCURACY_BAR_MM) -> dict:
    """Mean joint deviation of ``run`` from the unmodified fp32 torch model.

    :param model: the reference network
    :param run: ``crops -> (joints, heatmaps)`` under test
    :param cube_mm: cube that turns normalised units into mm
    :param crops: (N, 1, S, S) test crops; default: :func:`probe_crops`
    :param bar_mm: the mean deviation it must stay under to pass
    """
    import torch

    if crops is None:
        crops = probe_crops(PROBE_COUNT, model.config.input_size, seed=PROBE_SEED)
    with torch.inference_mode():
        reference = model.eval()(torch.from_numpy(crops), outputs='inference').joints.numpy()
    joints = np.concatenate([run(crops[i:i + 4])[0] for i in range(0, len(crops), 4)])
    result = joint_deviation(reference, joints, cube_mm)
    result.update(bar_mm=bar_mm, passed=bool(result['mean_mm'] < bar_mm),
                  crops=len(crops))
    return result


def batch1_latency_ms(run: Callable, size: int, runs: int = 15) -> float:
    """Median batch-1 latency of ``run`` on a probe crop, ms (after a short warm-up)."""
    import time

    crop = probe_crops(1, size, seed=PROBE_SEED)
    for _ in range(3):
        run(crop)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run(crop)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def _rewrite(source: ModelSource, name: str, function: str) -> Path:
    def build() -> bytes:
        import onnx

        from crossinfonet_ros.backends import fc_int8

        rewritten = getattr(fc_int8, function)(onnx.load(str(fp32_onnx(source))))
        return rewritten.SerializeToString()

    return cache.cached_file(source.key, name, build)
