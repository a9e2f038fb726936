"""hand_fit: the crop's surface points and the skeleton's distance to them."""

import numpy as np

from crossinfonet_ros.codec import crop_hand
from crossinfonet_ros.hand_fit import crop_points, surface_distance
from crossinfonet_ros.layouts import get_layout
from training.synth.clutter import ClutterConfig
from training.synth.scene import SynthConfig, render_frame
from training.synth.sensor import SensorConfig

LAYOUT = get_layout('hands2017')
HAND_ONLY = SynthConfig(sensor=SensorConfig(enabled=False), clutter=ClutterConfig(enabled=False))


def test_surface_points_are_the_pixels_the_crop_sampled():
    sample = render_frame(2, 4, HAND_ONLY)
    crop = crop_hand(sample.depth_mm, sample.center_mm, 250.0, sample.intrinsics)
    points = crop_points(crop, sample.intrinsics)
    assert 100 < len(points) <= 1024
    uvd = sample.intrinsics.project(points)
    u, v = np.round(uvd[:, 0]).astype(int), np.round(uvd[:, 1]).astype(int)
    np.testing.assert_allclose(uvd[:, :2], np.stack([u, v], axis=1), atol=1e-6)
    np.testing.assert_allclose(uvd[:, 2], sample.depth_mm[v, u], atol=1e-3)


def test_the_true_skeleton_lies_nearer_the_surface_than_a_moved_or_mirrored_one():
    sample = render_frame(2, 4, HAND_ONLY)
    crop = crop_hand(sample.depth_mm, sample.center_mm, 250.0, sample.intrinsics)
    joints = sample.joints_mm
    true = surface_distance(crop, joints, sample.intrinsics, LAYOUT.edges)
    # Bones run inside fingers about 8 mm thick, so the surface is a few mm away.
    assert 2.0 < true < 15.0
    moved = surface_distance(crop, joints + [0.0, 0.0, 30.0], sample.intrinsics, LAYOUT.edges)
    assert moved > true + 15.0
    palm = LAYOUT.palm_center(joints)
    mirrored = joints.copy()
    mirrored[:, 0] = 2 * palm[0] - joints[:, 0]
    assert surface_distance(crop, mirrored, sample.intrinsics, LAYOUT.edges) > true
    assert surface_distance(crop, joints, sample.intrinsics, []) == float('inf')
