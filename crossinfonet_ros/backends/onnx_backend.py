"""ONNX Runtime backend: an exported inference graph in an optimised CPU session.

Session settings, each measured here (2 shared vCPUs, batch 1, int8x2 graph):

* ``ORT_ENABLE_ALL``: constant folding, Conv+Add+ReLU fusion and the blocked NCHWc conv layout.
  BN is folded on export already; ORT folds it anyway (verified: 82 BatchNormalization nodes
  of an unfolded export become FusedConv / FusedGemm).
* ``intra_op_num_threads`` = physical cores usable by this process (default), sequential
  execution.
* Threads spin during a run but stop at its end (``session.force_spinning_stop``). Back to
  back: 7.9 ms either way (no spinning at all: 8.8 ms). Paced at 30 fps (25 ms gaps), ORT's
  default keeps spinning between frames: 7.6 ms but 40 ms of CPU per frame, i.e. both cores
  busy all the time; with the stop: about 8-14 ms (a VM's idle vCPUs wake slowly) and 18 ms of
  CPU per frame; one thread: 13 ms and 13 ms of CPU. The node uses every usable core by default
  (``threads:=0``; 60 Hz figures of 1 and 2 threads in docs/transport.md); ``threads:=1`` is the
  frugal choice when the camera driver shares 2 cores at 30 Hz.
"""

from pathlib import Path
from typing import Optional, Sequence, Tuple

import numpy as np

from crossinfonet_ros.backends.base import Backend
from crossinfonet_ros.cpus import usable_cores

INPUT_NAME = 'crops'
OUTPUT_NAMES = ('joints', 'heatmaps')


class OnnxRuntimeBackend(Backend):
    """An ONNX model with inputs ``crops`` and outputs ``joints``, ``heatmaps``."""

    def __init__(self, model_path: Path, name: str = 'onnxruntime', device: str = 'cpu',
                 threads: Optional[int] = None, fp16: bool = False,
                 engine_cache: Optional[Path] = None) -> None:
        """:param model_path: the .onnx file
        :param name: registry name reported by the estimator
        :param device: 'cpu' or 'cuda[:N]' (needs an onnxruntime build with CUDA or TensorRT)
        :param threads: intra-op threads; default :func:`~crossinfonet_ros.cpus.usable_cores`
        :param fp16: let TensorRT build fp16 engines (see :func:`execution_providers`)
        :param engine_cache: folder for TensorRT's built engines (minutes to build otherwise)
        :raises ValueError: a GPU device without a GPU execution provider
        """
        import onnxruntime as ort

        self.name = name
        self.device = device
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = threads or usable_cores()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: the NCHWc notes are noise
        # Worker threads spin between the ops of a run (waking a sleeping thread per op costs
        # more than the op) but stop when the run ends: without this, ORT's threads keep both
        # cores busy between frames (40 ms of CPU per 8 ms frame at 30 fps here).
        options.add_session_config_entry('session.intra_op.allow_spinning', '1')
        options.add_session_config_entry('session.force_spinning_stop', '1')
        providers = execution_providers(device, ort.get_available_providers(), fp16,
                                        engine_cache)
        self._session = ort.InferenceSession(str(model_path), options, providers=providers)
        self.providers = tuple(self._session.get_providers())  # what ORT actually kept

    def run(self, crops: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        joints, heatmaps = self._session.run(list(OUTPUT_NAMES), {INPUT_NAME: crops})
        return joints, heatmaps


def execution_providers(device: str, available: Sequence[str], fp16: bool = False,
                        engine_cache: Optional[Path] = None) -> list:
    """ONNX Runtime's providers for ``device``, best first, from those ``available``.

    On a GPU: TensorRT when this onnxruntime has it (fp16 engines when ``fp16``), then CUDA,
    then the CPU for any op the GPU providers refuse.

    :param device: ``'cpu'``, ``'cuda'`` or ``'cuda:N'``
    :param available: ``onnxruntime.get_available_providers()``
    :raises ValueError: a GPU device and neither GPU provider available (names those that are)
    """
    if device == 'cpu':
        return ['CPUExecutionProvider']
    index = int(device.split(':')[1]) if ':' in device else 0
    chosen = []
    if 'TensorrtExecutionProvider' in available:
        options = {'device_id': index, 'trt_fp16_enable': fp16}
        if engine_cache is not None:
            options.update(trt_engine_cache_enable=True, trt_engine_cache_path=str(engine_cache))
        chosen.append(('TensorrtExecutionProvider', options))
    if 'CUDAExecutionProvider' in available:
        chosen.append(('CUDAExecutionProvider', {'device_id': index}))
    if not chosen:
        raise ValueError(f'device {device!r} needs the CUDA or TensorRT execution provider, '
                         f'and this onnxruntime has {list(available)} (install onnxruntime-gpu)')
    return chosen + ['CPUExecutionProvider']
