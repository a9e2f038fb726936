"""What every inference backend provides: normalised crops in, raw network outputs out."""

import abc
from typing import Tuple

import numpy as np


class Backend(abc.ABC):
    """Runs the inference graph (joints + full-hand heat-maps) on a batch of crops."""

    name: str  # registry name, e.g. 'torch', 'onnxruntime'
    device: str  # 'cpu', 'cuda:0', ...

    @abc.abstractmethod
    def run(self, crops: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Run the network.

        :param crops: (N, 1, S, S) float32 C-contiguous normalised depth crops, N >= 1
        :return: ``joints`` (N, 3A) float32 in normalised crop units and ``heatmaps``
            (N, A, S/4, S/4) float32
        """

    def __repr__(self) -> str:
        return f'{type(self).__name__}(name={self.name!r}, device={self.device!r})'
