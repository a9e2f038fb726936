"""PyTorch backend: the inference graph in eager mode, on CPU or CUDA.

Measured here (2 shared cores, batch 1): the unmodified model about 26 ms, the inference graph
(BN folded, merge before up-sampling) in channels-last memory format about 20 ms. Tried and not
adopted: ``torch.jit.optimize_for_inference`` (about 19 ms, 3.5 s to build), ``torch.compile``
(inductor: 12-39 s to compile per batch shape, 15 ms at batch 1, far slower with freezing);
ONNX Runtime runs the same graph in about 9 ms.
"""

from typing import Optional, Tuple

import numpy as np
import torch

from crossinfonet_ros.backends.base import Backend
from crossinfonet_ros.backends.graph import InferenceGraph
from crossinfonet_ros.model import CrossInfoNet


class TorchBackend(Backend):
    """Eager PyTorch on the given device (fp32)."""

    name = 'torch'

    def __init__(self, model: CrossInfoNet, device: str = 'cpu',
                 threads: Optional[int] = None) -> None:
        """:param model: the network (copied; the original is left as it is)
        :param device: torch device string
        :param threads: when given, torch's intra-op threads (a process-wide setting)
        """
        if threads:
            torch.set_num_threads(threads)
        self.device = str(torch.device(device))
        self._torch_device = torch.device(device)
        # Channels-last lets oneDNN run the convs without re-layout on CPU (-25 % here).
        self._memory_format = (torch.channels_last if self._torch_device.type == 'cpu'
                               else torch.contiguous_format)
        graph = InferenceGraph(model).eval().to(self._torch_device)
        self._graph = graph.to(memory_format=self._memory_format)

    def run(self, crops: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            x = torch.from_numpy(crops).to(self._torch_device)
            joints, heatmaps = self._graph(x.contiguous(memory_format=self._memory_format))
            return (joints.float().cpu().numpy(),
                    heatmaps.float().contiguous().cpu().numpy())
