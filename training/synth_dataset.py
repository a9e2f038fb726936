"""Training data sources: synthetic renders on the fly, or a real dataset with a held-out part.

An "epoch" of synthetic data is ``size`` renders with fresh indices: epoch ``e`` uses sample
indices ``e * size .. (e + 1) * size - 1`` of the data-set seed, so no render repeats across
epochs and every sample depends only on ``(seed, index)`` (``training.synth.render_crop``).
Validation uses a different seed and fixed indices, so it is never seen in training.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from training.augment import AugmentConfig
from training.datasets import open_dataset
from training.datasets.common import DatasetError
from training.datasets.sample import Sample
from training.datasets.torch_dataset import AugmentedDataset
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


def synth_config(cube_mm: float, left_hand_prob: float = 0.0, viewpoint: str = 'third_person',
                 viewpoint_mix: Sequence[Tuple[str, float]] = (), grasp_prob: float = 0.0,
                 occluder_prob: float = 0.0) -> SynthConfig:
    """The renderer's default distribution (noise and clutter on) with cube side ``cube_mm``,
    a share of left hands, a viewpoint or viewpoint mixture (:mod:`training.synth.viewpoints`)
    and shares of hands holding an object and of objects in front of the hand.
    """
    return SynthConfig(cube_mm=float(cube_mm), left_hand_prob=float(left_hand_prob),
                       viewpoint=viewpoint,
                       viewpoint_mix=tuple((name, float(share)) for name, share in viewpoint_mix),
                       grasp_prob=float(grasp_prob), occluder_prob=float(occluder_prob))


class DataError(ValueError):
    """The training data cannot be opened as asked (wrong root, layout mismatch, ...)."""


class IndexSubset:
    """The items ``indices`` of a sample sequence, re-indexed from 0."""

    def __init__(self, samples: Sequence[Sample], indices: Sequence[int]) -> None:
        self.samples = samples
        self.indices = [int(i) for i in indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Sample:
        return self.samples[self.indices[index]]


@dataclass
class TrainData:
    """What a training run consumes."""

    train: AugmentedDataset  # augmented training items
    val: AugmentedDataset  # plain validation items (never the test split)
    layout: str  # joint layout of the targets
    cube_mm: float  # crop cube side the model is trained for, mm

    def set_epoch(self, epoch: int) -> None:
        """Select the renders (synthetic) and augmentation draws of ``epoch``."""
        self.train.set_epoch(epoch)
        if hasattr(self.train.samples, 'set_epoch'):
            self.train.samples.set_epoch(epoch)


def build_data(args: Any) -> TrainData:
    """Training and validation sets for the parsed ``training.train`` arguments.

    :param args: namespace with dataset, root, layout, cube, seed, train_size, val_size,
        fixed_pool, augment (the augmentation modes)
    :raises DataError: one line naming the problem
    """
    augment = AugmentConfig(modes=tuple(args.augment))
    if args.dataset == 'synthetic':
        config = synth_config(args.cube, args.left_hand_prob, args.viewpoint, args.viewpoint_mix,
                              args.grasp_prob, args.occluder_prob)
        train = SyntheticSamples(args.seed, args.train_size, config, args.layout,
                                 fresh_per_epoch=not args.fixed_pool)
        val = SyntheticSamples(validation_seed(args.seed), args.val_size, config, args.layout,
                               fresh_per_epoch=False)
        return TrainData(AugmentedDataset(train, augment, seed=args.seed),
                         AugmentedDataset(val, augment=False), args.layout, float(args.cube))
    options = {'cube': args.cube} if args.cube else {}
    try:
        dataset = open_dataset(args.dataset, args.root, split='train', **options)
    except (DatasetError, OSError, ValueError) as error:
        raise DataError(f'cannot open {args.dataset} training data at {args.root}: {error}') \
            from None
    if args.layout and args.layout != dataset.layout:
        raise DataError(f'--layout {args.layout} differs from the {args.dataset} layout'
                        f' {dataset.layout} (real joints are not converted)')
    if len(dataset) < 2:
        raise DataError(f'{args.dataset} at {args.root} has {len(dataset)} training frames')
    # Validation: a fixed random part of the TRAINING split (5 %, at most 2000 frames).
    val_size = args.val_size or min(2000, max(1, len(dataset) // 20))
    order = np.random.default_rng((int(args.seed), 7)).permutation(len(dataset))
    val_indices, train_indices = order[:val_size], np.sort(order[val_size:])
    cube = dataset.cube if not isinstance(dataset.cube, (tuple, list)) \
        else 0.5 * (dataset.cube[0] + dataset.cube[1])
    return TrainData(AugmentedDataset(IndexSubset(dataset, train_indices), augment,
                                      seed=args.seed),
                     AugmentedDataset(IndexSubset(dataset, np.sort(val_indices)),
                                      augment=False), dataset.layout, float(cube))
