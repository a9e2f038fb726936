"""PyTorch view of any loader: samples -> augmented tensors, reproducible with workers.

Each item's random draws come from ``numpy.random.default_rng((seed, epoch, index))``, so an
item depends only on those three numbers: the same on every run, in any worker, in any order.
Call :meth:`AugmentedDataset.set_epoch` before each epoch's DataLoader iteration (with the
default ``persistent_workers=False`` the workers receive the updated dataset every epoch).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from training.augment import AugmentConfig, TrainItem, augment_sample, plain_item
from training.datasets.sample import Sample


class AugmentedDataset(Dataset):
    """Map a sequence of :class:`Sample` to dicts of tensors for training or evaluation.

    Keys: ``depth`` (1, 96, 96) float32, ``joints`` (A, 3) float32 normalised, ``heatmaps``
    (A, 24, 24) float32, ``joints_mm`` (A, 3) float64, ``center_mm`` (3,) float64, ``cube_mm``
    () float64, ``transform`` (3, 3) float64, ``index`` () int64, ``mode`` str.
    """

    def __init__(self, samples: Sequence[Sample], config: AugmentConfig | None = None,
                 seed: int = 0, augment: bool = True) -> None:
        """Wrap a loader.

        :param samples: any indexable sequence of samples (a dataset loader, the renderer)
        :param config: augmentation settings; defaults when None
        :param seed: base seed of the per-item random draws
        :param augment: False yields the plain crop of every sample (evaluation)
        """
        self.samples = samples
        self.config = config or AugmentConfig()
        self.seed = int(seed)
        self.augment = augment
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose draws the next items use.

        :param epoch: epoch number (0-based)
        """
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.samples)

    def item(self, index: int) -> TrainItem:
        """The augmented (or plain) :class:`TrainItem` of ``index`` for the current epoch.

        :param index: sample index
        """
        sample = self.samples[index]
        if not self.augment:
            return plain_item(sample, self.config)
        rng = np.random.default_rng((self.seed, self.epoch, self._index(index)))
        return augment_sample(sample, self.config, rng)

    def _index(self, index: int) -> int:
        """Non-negative form of ``index`` (the seed and the 'index' key need it)."""
        index = int(index)
        return index + len(self) if index < 0 else index

    def __getitem__(self, index: int) -> dict:
        index = self._index(index)
        item = self.item(index)
        return {
            'depth': torch.from_numpy(item.depth),
            'joints': torch.from_numpy(item.joints),
            'heatmaps': torch.from_numpy(item.heatmaps),
            'joints_mm': torch.from_numpy(item.joints_mm),
            'center_mm': torch.from_numpy(item.center_mm),
            'cube_mm': torch.tensor(item.cube_mm, dtype=torch.float64),
            'transform': torch.from_numpy(item.transform),
            'index': torch.tensor(index, dtype=torch.int64),
            'mode': item.mode,
        }
