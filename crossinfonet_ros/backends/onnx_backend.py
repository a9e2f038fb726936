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
from typing import Optional, Tuple

import numpy as np

from crossinfonet_ros.backends.base import Backend
from crossinfonet_ros.cpus import usable_cores

INPUT_NAME = 'crops'
OUTPUT_NAMES = ('joints', 'heatmaps')


class OnnxRuntimeBackend(Backend):
    """An ONNX model with inputs ``crops`` and outputs ``joints``, ``heatmaps``."""

    def __init__(self, model_path: Path, name: str = 'onnxruntime', device: str = 'cpu',
                 threads: Optional[int] = None) -> None:
        """:param model_path: the .onnx file
        :param name: registry name reported by the estimator
        :param device: 'cpu' or 'cuda[:N]' (needs an onnxruntime build with CUDA)
        :param threads: intra-op threads; default :func:`~crossinfonet_ros.cpus.usable_cores`
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
        self._session = ort.InferenceSession(str(model_path), options,
                                             providers=_providers(device))

    def run(self, crops: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        joints, heatmaps = self._session.run(list(OUTPUT_NAMES), {INPUT_NAME: crops})
        return joints, heatmaps


def _providers(device: str) -> list:
    import onnxruntime as ort

    if device == 'cpu':
        return ['CPUExecutionProvider']
    if 'CUDAExecutionProvider' not in ort.get_available_providers():
        raise ValueError(f'device {device!r} asked for, but this onnxruntime has no CUDA '
                         f'provider (available: {ort.get_available_providers()}); use '
                         f"backend='torch' on CUDA")
    index = int(device.split(':')[1]) if ':' in device else 0
    return [('CUDAExecutionProvider', {'device_id': index}), 'CPUExecutionProvider']
