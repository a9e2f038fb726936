"""Hand or not: a small CNN that tells a crop holding a hand from one of a forearm, a head, a box
or a table edge (ROS-free, numpy only).

Its own weights file (safetensors, no pickle, ~60 KB), apart from the pose network's: its
answer does not move with the pose weights' epoch or their confidence scale. It sees the
pipeline's kept crop (96x96, depth normalised to [-1, 1] in the crop cube), averaged down to
32x32: conv 5x5 (8) - ReLU - max-pool 2 - conv 3x3 (16) - ReLU - max-pool 2 - linear 32 -
ReLU - linear 1 - sigmoid. Trained and calibrated by ``python -m training.train_hand_classifier``
on renders with and without a hand (docs/detection.md).
"""

from dataclasses import dataclass
import json
from pathlib import Path
from typing import Dict, Union

import numpy as np

FORMAT_NAME = 'crossinfonet_ros.hand_classifier/1'
POOL = 3  # 96 -> 32
TENSORS = {'conv1.weight': (8, 1, 5, 5), 'conv1.bias': (8,), 'conv2.weight': (16, 8, 3, 3),
           'conv2.bias': (16,), 'fc1.weight': (32, 576), 'fc1.bias': (32,),
           'fc2.weight': (1, 32), 'fc2.bias': (1,)}


class HandClassifierError(ValueError):
    """A classifier file is missing, foreign or does not fit the architecture."""


def _conv_relu_pool(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Valid convolution, ReLU, 2x2 max-pool of (N, C, H, W)."""
    size = weight.shape[-1]
    windows = np.lib.stride_tricks.sliding_window_view(x, (size, size), axis=(2, 3))
    n, channels, h, w = windows.shape[:4]
    # im2col and one matrix product (an einsum over the windows is ~10x slower here)
    columns = windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * h * w, channels * size * size)
    y = columns @ weight.reshape(len(weight), -1).T + bias
    y = np.maximum(y, 0.0).reshape(n, h, w, -1).transpose(0, 3, 1, 2)
    c = y.shape[1]
    return y[:, :, :h // 2 * 2, :w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def pool_input(depth: np.ndarray) -> np.ndarray:
    """(N, 96, 96) normalised crop depths -> (N, 1, 32, 32) block means (the network input).

    :param depth: crop depths, [-1, 1], background 1
    """
    depth = np.asarray(depth, np.float32)
    n, h, w = depth.shape
    return depth.reshape(n, h // POOL, POOL, w // POOL, POOL).mean(axis=(2, 4))[:, None]


@dataclass(frozen=True, eq=False)
class HandClassifier:
    """The classifier's tensors and what it was calibrated for."""

    tensors: Dict[str, np.ndarray]  # float32, shapes as :data:`TENSORS`
    cube_mm: float  # crop cube it was trained on, mm
    threshold: float  # calibrated probability bar (docs/detection.md)

    def probability(self, depth: np.ndarray) -> np.ndarray:
        """P(hand) of crops.

        :param depth: (96, 96) or (N, 96, 96) normalised crop depths
        :returns: () or (N,) probabilities, 0..1
        """
        single = np.ndim(depth) == 2
        t = self.tensors
        x = pool_input(np.asarray(depth)[None] if single else depth)
        x = _conv_relu_pool(x, t['conv1.weight'], t['conv1.bias'])
        x = _conv_relu_pool(x, t['conv2.weight'], t['conv2.bias'])
        x = np.maximum(x.reshape(len(x), -1) @ t['fc1.weight'].T + t['fc1.bias'], 0.0)
        logit = (x @ t['fc2.weight'].T + t['fc2.bias'])[:, 0]
        p = 1.0 / (1.0 + np.exp(-np.clip(logit, -60.0, 60.0)))
        return p[0] if single else p


def save_classifier(path: Union[str, Path], tensors: Dict[str, np.ndarray], cube_mm: float,
                    threshold: float, record: dict) -> None:
    """Write a classifier file (safetensors with its metadata).

    :param record: how it was trained and calibrated (kept as JSON in the metadata)
    """
    from safetensors.numpy import save_file
    arrays = {name: np.ascontiguousarray(tensors[name], np.float32) for name in TENSORS}
    save_file(arrays, str(path), metadata={'format': FORMAT_NAME, 'cube_mm': str(cube_mm),
                                           'threshold': str(threshold),
                                           'record': json.dumps(record)})


def load_classifier(path: Union[str, Path]) -> HandClassifier:
    """Read a classifier file.

    :raises HandClassifierError: missing, foreign or misshapen
    """
    from safetensors import safe_open
    path = Path(path)
    if not path.is_file():
        raise HandClassifierError(f'hand classifier {path}: no such file')
    try:
        with safe_open(str(path), framework='numpy') as reader:
            metadata = reader.metadata() or {}
            tensors = {name: reader.get_tensor(name) for name in reader.keys()}
    except Exception as error:  # safetensors raises its own types for a damaged file
        raise HandClassifierError(f'hand classifier {path}: unreadable ({error})') from None
    if metadata.get('format') != FORMAT_NAME:
        raise HandClassifierError(f'hand classifier {path}: format is '
                                  f'{metadata.get("format")!r}, expected {FORMAT_NAME!r}')
    shapes = {name: tuple(array.shape) for name, array in tensors.items()}
    if shapes != TENSORS:
        raise HandClassifierError(f'hand classifier {path}: tensors {shapes} do not fit '
                                  f'{TENSORS}')
    threshold = float(metadata.get('threshold', 'nan'))
    if not 0.0 < threshold < 1.0:
        raise HandClassifierError(f'hand classifier {path}: threshold {threshold} not in (0, 1)')
    return HandClassifier({k: v.astype(np.float32) for k, v in tensors.items()},
                          float(metadata.get('cube_mm', 'nan')), threshold)
