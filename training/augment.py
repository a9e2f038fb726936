"""On-line augmentation of hand samples into network inputs and targets (spec 3.7).

One mode per sample, drawn uniformly from :attr:`AugmentConfig.modes`:

* ``com``  -- move the cube centre in 3D by N(0, 10 mm) per axis and re-crop; labels are
  re-centred (released code). Paper variant: a shift of U(-10, 10) crop pixels per image axis,
  done as a lateral move of the centre at its own depth.
* ``rot``  -- rotate the crop in-plane by U(-180, 180) degrees about the cube centre's pixel
  (nearest sampling, background +1 where the rotated view leaves the cut box); the joints are
  rotated in (u, v) about the same pixel, keep their depth and are back-projected.
* ``sc``   -- cube side times |1 + N(0, 0.05)| (released code) or U(0.9, 1.1) (paper), re-crop;
  labels normalised by the new cube.
* ``none`` -- the plain crop.

Unlike the released code, which warps the cached crop, 'com' and 'sc' re-crop from the full
frame (no content lost at the crop border) and 'rot' samples the rotated view straight from the
frame with the codec (one resampling). Heat-maps are built from the augmented joints projected
into the augmented crop, so they match the image exactly rather than to first order.

Every crop operation is the codec's (:mod:`crossinfonet_ros.codec`); this module only draws the
parameters and combines them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crossinfonet_ros.codec import (INPUT_SIZE, Crop, crop_hand, crop_uv_to_image,
                                    crop_with_transform, joints_to_crop_uv, normalize_joints,
                                    rotation_about, transform_joints_in_image)
from crossinfonet_ros.heatmaps import HEATMAP_SIZE, heatmap_targets
from training.datasets.sample import Sample

AUGMENT_MODES = ('com', 'rot', 'sc', 'none')
VARIANTS = ('code', 'paper')


@dataclass(frozen=True)
class AugmentConfig:
    """How samples are augmented (defaults: the released code, spec 3.7)."""

    modes: tuple[str, ...] = AUGMENT_MODES  # one drawn uniformly per sample; repeat to weight
    variant: str = 'code'  # 'code' (N(0,10mm) shift, |1+N(0,.05)| scale) or 'paper' (spec 8.4)
    com_sigma_mm: float = 10.0  # code 'com': std of the 3D centre shift per axis, mm
    shift_px: float = 10.0  # paper 'com': max shift per image axis, crop pixels
    scale_sigma: float = 0.05  # code 'sc': std of the cube scale factor around 1
    scale_range: tuple[float, float] = (0.9, 1.1)  # paper 'sc': uniform cube scale range
    rot_max_deg: float = 180.0  # 'rot': angle drawn from U(-max, max) degrees (both variants)
    size: int = INPUT_SIZE  # crop side, pixels (spec 1.1)
    heatmap_size: int = HEATMAP_SIZE  # heat-map side (spec 2.3)

    def __post_init__(self) -> None:
        if not self.modes:
            raise ValueError('augmentation needs at least one mode')
        unknown = [mode for mode in self.modes if mode not in AUGMENT_MODES]
        if unknown:
            raise ValueError(f'unknown augmentation mode(s) {unknown}; valid:'
                             f' {", ".join(AUGMENT_MODES)}')
        if self.variant not in VARIANTS:
            raise ValueError(f"augmentation variant must be 'code' or 'paper', got"
                             f' {self.variant!r}')
        low, high = self.scale_range
        if not 0 < low <= high:
            raise ValueError(f'scale_range must satisfy 0 < low <= high, got {self.scale_range}')


@dataclass
class TrainItem:
    """One network input with its targets and the crop geometry that produced it.

    For ``rot`` the item describes the frame as if the hand had been rotated about the cube
    centre's pixel: ``joints_mm`` are the rotated joints and ``transform`` is the (unrotated)
    box transform, so ``codec.joints_to_crop_uv(joints_mm, ...)`` lands where the image shows
    each joint, as in every other mode.
    """

    depth: np.ndarray  # (1, size, size) float32 normalised depth in [-1, 1] (spec 3.5)
    joints: np.ndarray  # (A, 3) float32 normalised joints (j - c) / (S/2) (spec 3.6)
    heatmaps: np.ndarray  # (A, out, out) float32 targets (spec 2.3)
    joints_mm: np.ndarray  # (A, 3) float64 augmented joints, mm, optical frame
    center_mm: np.ndarray  # (3,) float64 centre the joints are normalised around, mm
    cube_mm: float  # cube side the joints are normalised by, mm
    transform: np.ndarray  # (3, 3) float64 affine: frame pixel -> crop pixel
    mode: str  # augmentation mode applied ('com', 'rot', 'sc' or 'none')
    name: str = ''  # the sample's name


def plain_item(sample: Sample, config: AugmentConfig | None = None) -> TrainItem:
    """The unaugmented item of a sample: its plain crop (evaluation and validation).

    :param sample: the sample
    :param config: only ``size`` and ``heatmap_size`` are used; defaults when None
    """
    config = config or AugmentConfig()
    crop = crop_hand(sample.depth_mm, sample.center_mm, sample.cube_mm, sample.intrinsics,
                     size=config.size)
    return _item(sample, crop, crop, sample.joints_mm, 'none', config)


def augment_sample(sample: Sample, config: AugmentConfig, rng: np.random.Generator) -> TrainItem:
    """Augment one sample with a mode drawn uniformly from ``config.modes``.

    :param sample: the sample (full frame, joints and centre in mm)
    :param config: augmentation settings
    :param rng: the random source; all draws come from it (seed it per sample for determinism)
    """
    mode = config.modes[int(rng.integers(len(config.modes)))]
    return apply_mode(sample, mode, config, rng)


def apply_mode(sample: Sample, mode: str, config: AugmentConfig,
               rng: np.random.Generator) -> TrainItem:
    """Apply one named augmentation mode (parameters drawn from ``rng``).

    :param sample: the sample
    :param mode: 'com', 'rot', 'sc' or 'none'
    :param config: augmentation settings
    :param rng: the random source
    """
    if mode == 'none':
        return plain_item(sample, config)
    if mode == 'com':
        return _recrop(sample, _shifted_center(sample, config, rng), sample.cube_mm, mode, config)
    if mode == 'sc':
        return _recrop(sample, sample.center_mm, sample.cube_mm * _scale(config, rng), mode,
                       config)
    if mode == 'rot':
        angle = rng.uniform(-config.rot_max_deg, config.rot_max_deg)
        return rotate_sample(sample, angle, config)
    raise ValueError(f'unknown augmentation mode {mode!r}; valid: {", ".join(AUGMENT_MODES)}')


def rotate_sample(sample: Sample, angle_deg: float, config: AugmentConfig) -> TrainItem:
    """In-plane rotation of the crop and joints about the cube centre's pixel (spec 3.7 'rot').

    :param sample: the sample
    :param angle_deg: rotation angle, degrees (counter-clockwise on screen)
    :param config: crop and heat-map sizes
    """
    crop = crop_hand(sample.depth_mm, sample.center_mm, sample.cube_mm, sample.intrinsics,
                     size=config.size)
    pivot = joints_to_crop_uv(sample.center_mm, crop, sample.intrinsics)
    rotation = rotation_about(angle_deg, pivot)
    rotated = crop_with_transform(sample.depth_mm, sample.center_mm, sample.cube_mm,
                                  rotation @ crop.transform, size=config.size, box=crop.roi)
    in_image = np.linalg.inv(crop.transform) @ rotation @ crop.transform
    joints = transform_joints_in_image(sample.joints_mm, in_image, sample.intrinsics)
    return _item(sample, rotated, crop, joints, 'rot', config)


def _recrop(sample: Sample, center_mm: np.ndarray, cube_mm: float, mode: str,
            config: AugmentConfig) -> TrainItem:
    crop = crop_hand(sample.depth_mm, center_mm, cube_mm, sample.intrinsics, size=config.size)
    return _item(sample, crop, crop, sample.joints_mm, mode, config)


def _shifted_center(sample: Sample, config: AugmentConfig,
                    rng: np.random.Generator) -> np.ndarray:
    center = np.asarray(sample.center_mm, dtype=np.float64)
    if config.variant == 'code':
        return center + rng.normal(0.0, config.com_sigma_mm, size=3)
    # Paper: translate the crop window by (du, dv) crop pixels = move the centre's pixel there.
    crop = crop_hand(sample.depth_mm, center, sample.cube_mm, sample.intrinsics,
                     size=config.size)
    pivot = joints_to_crop_uv(center, crop, sample.intrinsics)
    shift = rng.uniform(-config.shift_px, config.shift_px, size=2)
    u, v = crop_uv_to_image(pivot + shift, crop)
    return sample.intrinsics.backproject(np.array([u, v, center[2]]))


def _scale(config: AugmentConfig, rng: np.random.Generator) -> float:
    if config.variant == 'code':
        # spec 3.7: abs(1 + N(0, 0.05)), unclipped; a zero draw would make an empty cube.
        return max(abs(1.0 + rng.normal(0.0, config.scale_sigma)), 1e-3)
    return float(rng.uniform(*config.scale_range))


def _item(sample: Sample, crop: Crop, geometry: Crop, joints_mm: np.ndarray, mode: str,
          config: AugmentConfig) -> TrainItem:
    """Assemble an item: ``crop`` gives the pixels, ``geometry`` the frame -> crop transform."""
    joints_mm = np.asarray(joints_mm, dtype=np.float64)
    uv = joints_to_crop_uv(joints_mm, geometry, sample.intrinsics)
    return TrainItem(
        depth=crop.depth[None].astype(np.float32),
        joints=normalize_joints(joints_mm, crop.center_mm, crop.cube_mm).astype(np.float32),
        heatmaps=heatmap_targets(uv, size=config.size, out=config.heatmap_size),
        joints_mm=joints_mm, center_mm=np.array(crop.center_mm, dtype=np.float64),
        cube_mm=float(crop.cube_mm), transform=np.array(geometry.transform, dtype=np.float64),
        mode=mode, name=sample.name)
