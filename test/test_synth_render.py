"""Synthetic samples: determinism, ground truth on the rendered hand, crop resolution vs codec."""

from dataclasses import replace

import numpy as np
import pytest

from crossinfonet_ros.codec import crop_hand, joints_to_crop_uv
from training.datasets.sample import Sample
from training.synth.clutter import Clutter, ClutterConfig
from training.synth.placement import Placement, palm_center
from training.synth.poses import pose_by_name
from training.synth.raster import Primitives
from training.synth.scene import (HandState, Scene, SynthConfig, crop_window, pose_hand,
                                  render_crop, render_frame, render_scene)
from training.synth.sensor import SensorConfig
from training.synth.skeleton import reference_shape

CLEAN = SynthConfig(sensor=SensorConfig(enabled=False))
HAND_ONLY = replace(CLEAN, clutter=ClutterConfig(enabled=False))
WRIST_TOLERANCE_MM = 40.0  # the wrist is ~60 mm wide: seen from the side its surface is ~30 mm off
JOINT_TOLERANCE_MM = 25.0  # finger and palm joints sit a few mm to ~20 mm under the surface


def test_same_seed_gives_identical_bytes_in_any_order():
    first = [render_crop(7, index).depth_mm.tobytes() for index in (0, 1, 2)]
    again = [render_crop(7, index).depth_mm.tobytes() for index in (2, 0, 1)]
    assert first == [again[1], again[2], again[0]]
    assert render_frame(7, 1).depth_mm.tobytes() == render_frame(7, 1).depth_mm.tobytes()
    assert len(set(first)) == 3
    assert render_crop(8, 0).depth_mm.tobytes() != first[0]


def test_clutter_and_noise_switches_keep_the_hand():
    noisy = render_crop(3, 4)
    clean = render_crop(3, 4, HAND_ONLY)
    assert np.array_equal(noisy.joints_mm, clean.joints_mm)
    assert np.array_equal(noisy.center_mm, clean.center_mm)
    assert not np.array_equal(noisy.depth_mm, clean.depth_mm)


def test_sample_fields_follow_the_shared_sample_type():
    config = SynthConfig()
    sample = render_crop(5, 9, config)
    assert isinstance(sample, Sample)
    assert sample.layout == 'hands2017' and sample.name == 'synth/5/9'
    assert sample.joints_mm.shape == (21, 3) and sample.depth_mm.dtype == np.float32
    assert sample.depth_mm.shape == (sample.intrinsics.height, sample.intrinsics.width)
    assert sample.cube_mm == config.cube_mm
    jitter = sample.center_mm - palm_center(sample.joints_mm)
    assert np.all(np.abs(jitter) < 5 * config.center_jitter_mm)
    depth = sample.depth_mm[sample.depth_mm > 0]
    assert np.all(depth == np.round(depth))  # 1 mm quantisation
    # The window spans about crop_pixels * crop_margin pixels at the crop resolution.
    scale = sample.intrinsics.fx / config.intrinsics.fx
    cube_px = config.cube_mm * sample.intrinsics.fx / sample.center_mm[2]
    assert scale <= 1.0 and (scale == 1.0 or cube_px == pytest.approx(config.crop_pixels))
    assert max(sample.depth_mm.shape) <= np.ceil(config.crop_margin * cube_px) + 2


def test_full_frames_have_the_configured_camera():
    sample = render_frame(2, 3)
    assert sample.intrinsics == SynthConfig().intrinsics
    assert sample.depth_mm.shape == (480, 640)
    assert 0 < np.count_nonzero(sample.depth_mm) < sample.depth_mm.size


def _surface_near_joints(sample: Sample):
    """Per joint in view: (nearest rendered depth within 2 px, smallest |depth - z| there, z)."""
    camera, depth = sample.intrinsics, sample.depth_mm
    rows = []
    for u, v, z in camera.project(sample.joints_mm):
        row, col = int(round(v)), int(round(u))
        if 2 <= row < camera.height - 2 and 2 <= col < camera.width - 2:
            near = depth[row - 2:row + 3, col - 2:col + 3]
            hit = near[near > 0]
            rows.append((hit.min() if hit.size else 0.0,
                         np.abs(hit - z).min() if hit.size else np.inf, z))
    return np.array(rows)


def test_every_joint_lies_inside_the_rendered_hand():
    """The ray through each joint hits the hand at or before the joint (never background); most
    joints have their surface within a finger's radius, the rest are hidden by another part."""
    rows = np.concatenate([_surface_near_joints(render_frame(11, index, HAND_ONLY))
                           for index in range(500)])
    nearest, gap, z = rows.T
    assert len(rows) > 9000
    assert np.all(nearest > 0), 'background at a joint'
    assert np.all(nearest <= z + 1.0), 'a joint outside the hand volume'
    assert np.mean(gap <= JOINT_TOLERANCE_MM) > 0.75  # the rest are self-occluded


@pytest.mark.parametrize('pose', ['open', 'spread', 'point', 'relaxed'])
def test_joints_of_a_hand_facing_the_camera_are_just_under_its_surface(pose):
    placement = Placement(np.array([0.0, 1.0, 0.2]) / np.hypot(1.0, 0.2), 0.0, -10.0, 0.0,
                          np.array([0.0, 0.0, 450.0]))
    for roll in (0.0, 180.0):  # palm and back of the hand towards the camera
        state = HandState(reference_shape(), pose_by_name(pose),
                          replace(placement, roll_deg=roll))
        hand = pose_hand(state)
        sample = render_scene(Scene(hand, Clutter(Primitives()), palm_center(hand.joints_mm),
                                    np.random.SeedSequence(0), 'test'),
                              HAND_ONLY.intrinsics, HAND_ONLY)
        nearest, gap, z = _surface_near_joints(sample).T
        assert len(z) == 21
        tolerance = np.full(21, JOINT_TOLERANCE_MM)
        tolerance[0] = WRIST_TOLERANCE_MM
        if pose == 'point':  # folded fingers and the thumb cover each other's joints
            tolerance[:] = 60.0
        assert np.all(gap <= tolerance), f'{pose} roll {roll}: {np.round(gap, 1)}'
        assert np.all(nearest <= z + 1.0)


@pytest.mark.parametrize('index', range(12))
def test_crop_resolution_equals_the_codec_cut_of_the_full_frame(index):
    full = render_frame(21, index, HAND_ONLY)
    patch = render_crop(21, index, HAND_ONLY)
    assert patch.depth_mm.size < full.depth_mm.size
    cut_full = crop_hand(full.depth_mm, full.center_mm, full.cube_mm, full.intrinsics)
    cut_patch = crop_hand(patch.depth_mm, patch.center_mm, patch.cube_mm, patch.intrinsics)
    a, b = cut_full.depth, cut_patch.depth
    # Nearest-neighbour resampling differs at silhouette pixels only: every pixel matches
    # the other crop within one pixel, bar a few on thin slivers.
    padded = np.pad(b, 1, constant_values=1.0)
    shifted = [np.abs(a - padded[1 + dy:97 + dy, 1 + dx:97 + dx])
               for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    assert np.count_nonzero(np.min(shifted, axis=0) > 0.05) <= 20
    assert np.mean(np.abs(a - b) <= 0.05) > 0.95
    # Same geometry: the hand's pixels have the same centroid, and the joints land on the same
    # crop pixels up to the rounding of the crop box to whole (coarser) patch pixels.
    hand_a, hand_b = np.argwhere(a < 1.0), np.argwhere(b < 1.0)
    assert np.abs(hand_a.mean(0) - hand_b.mean(0)).max() < 1.0
    uv_full = joints_to_crop_uv(full.joints_mm, cut_full, full.intrinsics)
    uv_patch = joints_to_crop_uv(patch.joints_mm, cut_patch, patch.intrinsics)
    assert np.abs(uv_full - uv_patch).max() < 1.0


def test_crop_window_is_clipped_to_the_frame():
    config = SynthConfig()
    corner = config.intrinsics.backproject(np.array([2.0, 3.0, 400.0]))
    window = crop_window(corner, 250.0, config.intrinsics, 104, 1.25)
    scale = window.fx / config.intrinsics.fx
    # The window starts at the frame's first column and row (principal point not shifted).
    assert window.cx == pytest.approx((config.intrinsics.cx + 0.5) * scale - 0.5)
    assert window.cy == pytest.approx((config.intrinsics.cy + 0.5) * scale - 0.5)
    with pytest.raises(ValueError, match='in front of the camera'):
        crop_window(np.array([0.0, 0.0, -5.0]), 250.0, config.intrinsics, 104, 1.25)


def test_negative_seeds_are_rejected():
    with pytest.raises(ValueError, match='non-negative'):
        render_crop(-1, 0)


def test_crops_of_windows_are_not_shifted_against_full_frames():
    # The window's rays compensate the codec's flooring (scene.sampling_camera): on average
    # the hand lands on the same crop pixels as in the full frame.
    offsets = []
    for index in range(16):
        full = render_frame(23, index, HAND_ONLY)
        patch = render_crop(23, index, HAND_ONLY)
        a = crop_hand(full.depth_mm, full.center_mm, full.cube_mm, full.intrinsics).depth
        b = crop_hand(patch.depth_mm, patch.center_mm, patch.cube_mm, patch.intrinsics).depth
        offsets.append(np.argwhere(a < 1.0).mean(0) - np.argwhere(b < 1.0).mean(0))
    assert np.all(np.abs(np.mean(offsets, axis=0)) < 0.2)
