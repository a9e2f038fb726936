"""The camera-x mirror (crossinfonet_ros.mirror) and the renderer's left hands."""

from dataclasses import replace

import numpy as np
import pytest

from crossinfonet_ros.camera import Intrinsics
from crossinfonet_ros.codec import crop_hand, joints_to_crop_uv
from crossinfonet_ros.layouts import get_layout
from crossinfonet_ros.mirror import (crop_side, mirror_box, mirror_frame, mirror_intrinsics,
                                     mirror_points, side_points)
from training.synth.clutter import ClutterConfig
from training.synth.scene import (SynthConfig, mirror_scene, render_frame, render_scene,
                                  sample_scene)
from training.synth.sensor import SensorConfig

LAYOUT = get_layout('hands2017')
# Clean renders: no sensor effects (their noise and one-sided shadow are not mirror images).
CLEAN = SynthConfig(sensor=SensorConfig(enabled=False))


def test_point_and_box_mirrors_are_their_own_inverse():
    points = np.random.default_rng(1).normal(size=(5, 21, 3))
    np.testing.assert_array_equal(mirror_points(mirror_points(points)), points)
    np.testing.assert_array_equal(mirror_points(points)[..., 1:], points[..., 1:])
    np.testing.assert_array_equal(side_points(points, 'right'), points)
    assert mirror_box(mirror_box((3, 4, 50, 60), 640), 640) == (3, 4, 50, 60)
    # Columns 3..49 of the reversed image are columns 590..636 of the original.
    assert mirror_box((3, 4, 50, 60), 640) == (590, 4, 637, 60)
    with pytest.raises(ValueError, match='side'):
        side_points(points, 'both')


def test_a_reflected_scene_renders_as_the_reversed_image():
    # Any principal point: the reflected scene through the mirrored camera is the original
    # image with its columns reversed, depth values untouched.
    camera = Intrinsics(383.0, 383.0, 331.7, 240.0, 640, 480)
    config = replace(CLEAN, intrinsics=camera)
    scene = sample_scene(5, 3, config)
    right = render_scene(scene, camera, config).depth_mm
    mirrored = mirror_scene(scene, 0.0)
    left = render_scene(mirrored, mirror_intrinsics(camera), config).depth_mm
    reversed_right, _ = mirror_frame(right, camera)
    differs = np.abs(left - reversed_right) > 0.5
    assert (right > 0).mean() > 0.05
    assert differs.mean() < 1e-3  # ray casting in float32: a few edge pixels at most
    assert mirrored.side == 'left'


def test_mirrored_crop_is_the_crop_of_the_mirrored_scene_and_joints_map_back():
    camera = CLEAN.intrinsics
    scene = sample_scene(7, 2, CLEAN)
    frame = render_scene(scene, camera, CLEAN)
    # The left-view crop of the right hand's frame is the crop the right hand's reflection
    # gives through the mirrored camera, to the pixel.
    reflected = render_scene(mirror_scene(scene, 0.0), mirror_intrinsics(camera), CLEAN)
    crop = crop_side(frame.depth_mm, frame.center_mm, 250.0, camera, 'left')
    expected = crop_hand(reflected.depth_mm, reflected.center_mm, 250.0,
                         mirror_intrinsics(camera))
    assert np.mean(np.abs(crop.depth - expected.depth) > 1e-3) < 2e-3
    np.testing.assert_allclose(crop.center_mm, reflected.center_mm)
    # Joints mapped into the mirrored view land where the reflected joints project.
    view = side_points(frame.joints_mm, 'left')
    np.testing.assert_allclose(view, reflected.joints_mm, atol=1e-9)
    np.testing.assert_allclose(joints_to_crop_uv(view, crop, mirror_intrinsics(camera)),
                               joints_to_crop_uv(reflected.joints_mm, expected,
                                                 mirror_intrinsics(camera)), atol=1e-9)


def test_left_renders_are_mirror_images_of_the_right_ones_with_the_same_names():
    for index in range(4):
        right = render_frame(11, index, CLEAN)
        left = render_frame(11, index, replace(CLEAN, left_hand_prob=1.0))
        assert (right.side, left.side) == ('right', 'left')
        # Reflected (a mirror image: a left hand) in the vertical plane through the palm
        # centre, so it stays where it was; the joints keep their names and order.
        palm = LAYOUT.palm_center(right.joints_mm)
        expected = mirror_points(right.joints_mm) + [2 * palm[0], 0.0, 0.0]
        np.testing.assert_allclose(left.joints_mm, expected, atol=1e-9)
    mix = [render_frame(11, i, replace(CLEAN, left_hand_prob=0.5)).side for i in range(12)]
    assert set(mix) == {'right', 'left'}


@pytest.mark.parametrize('prob', [0.0, 1.0])
def test_every_joint_of_either_hand_projects_onto_its_surface(prob):
    # A joint lies inside the hand's volume, so the ray through its pixel meets the hand at
    # or before the joint's depth (hand alone, clean sensor).
    config = replace(CLEAN, clutter=ClutterConfig(enabled=False), left_hand_prob=prob)
    for index in range(3):
        sample = render_frame(21, index, config)
        uvd = sample.intrinsics.project(sample.joints_mm)
        u, v = np.round(uvd[:, 0]).astype(int), np.round(uvd[:, 1]).astype(int)
        inside = (u >= 0) & (u < sample.intrinsics.width) & (v >= 0) & \
            (v < sample.intrinsics.height)
        depth = sample.depth_mm[v[inside], u[inside]]
        assert np.all(depth > 0)
        assert np.all(depth <= uvd[inside, 2] + 3.0)
