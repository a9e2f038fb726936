"""Synthetic training data rendered on the fly: an endless, reproducible sample stream.

An "epoch" of synthetic data is ``size`` renders with fresh indices: epoch ``e`` uses sample
indices ``e * size .. (e + 1) * size - 1`` of the data-set seed, so no render repeats across
epochs and every sample depends only on ``(seed, index)`` (``training.synth.render_crop``).
Validation uses a different seed and fixed indices, so it is never seen in training.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from training.datasets.sample import Sample
from training.synth import SynthConfig, convert_joints, render_crop
from training.synth.scene import LAYOUT as SYNTH_LAYOUT

# Added to the training seed to get the validation seed (a disjoint random stream).
VALIDATION_SEED_OFFSET = 7919


class SyntheticSamples:
    """Indexable view of ``size`` synthetic crops of one epoch (a 'samples' sequence).

    :param seed: data-set seed of ``render_crop``
    :param size: samples per epoch
    :param config: the data distribution (cube, clutter, sensor noise, ...)
    :param layout: joint layout of the yielded joints (converted from HANDS2017)
    :param fresh_per_epoch: True: each epoch renders new indices; False: a fixed pool
    """

    def __init__(self, seed: int, size: int, config: Optional[SynthConfig] = None,
                 layout: str = SYNTH_LAYOUT, fresh_per_epoch: bool = True) -> None:
        self.seed = int(seed)
        self.size = int(size)
        self.config = config or SynthConfig()
        self.layout = layout
        self.fresh_per_epoch = fresh_per_epoch
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose indices the next items render.

        :param epoch: epoch number (0-based)
        """
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> Sample:
        if not 0 <= index < self.size:
            raise IndexError(f'synthetic sample {index} out of range for {self.size}')
        offset = self.epoch * self.size if self.fresh_per_epoch else 0
        sample = render_crop(self.seed, offset + int(index), self.config)
        if self.layout != SYNTH_LAYOUT:
            sample.joints_mm = convert_joints(sample.joints_mm, self.layout)
            sample.layout = self.layout
        return sample


def validation_seed(seed: int) -> int:
    """The held-out seed paired with training seed ``seed``."""
    return int(seed) + VALIDATION_SEED_OFFSET


def synth_config(cube_mm: float) -> SynthConfig:
    """The renderer's default distribution (noise and clutter on) with cube side ``cube_mm``."""
    return SynthConfig(cube_mm=float(cube_mm))


def sample_indices(size: int, seed: int, epoch: int) -> np.ndarray:
    """Shuffled order of one epoch's items; depends only on ``(seed, epoch)`` (resumable)."""
    return np.random.default_rng((int(seed), int(epoch), 0x5EED)).permutation(int(size))
