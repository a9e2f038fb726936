"""crossinfonet_ros.visuals: bone segments, skeleton drawing, the debug crop image."""

import numpy as np

from crossinfonet_ros.codec import crop_hand, joints_to_crop_uv
from crossinfonet_ros.camera import D435_640X480
from crossinfonet_ros.visuals import DEBUG_SIZE, bone_points, draw_debug, draw_skeleton

EDGES = ((0, 1), (1, 2))


def test_bone_points_are_consecutive_endpoint_pairs():
    joints = np.arange(9.0).reshape(3, 3)
    points = bone_points(joints, EDGES)
    np.testing.assert_array_equal(points, joints[[0, 1, 1, 2]])
    assert bone_points(joints, ()).shape == (0, 3)


def test_skeleton_is_drawn_in_its_colours_and_skips_non_finite_joints():
    image = np.zeros((100, 100, 3), np.uint8)
    points = np.array([[10.0, 10.0], [50.0, 10.0], [np.nan, 80.0]])
    draw_skeleton(image, points, EDGES, (0, 0, 255), (255, 0, 0), joint_radius=3)
    assert tuple(image[10, 30]) == (0, 0, 255)  # on the bone 0-1
    assert tuple(image[10, 10]) == (255, 0, 0)  # a joint disc
    # The bone to the NaN joint is not drawn: nothing below the first row of joints.
    assert not image[20:].any()


def test_debug_image_shows_the_crop_and_the_skeleton():
    depth = np.zeros((480, 640), np.float32)
    depth[200:280, 280:360] = 500.0
    center = D435_640X480.backproject(np.array([320.0, 240.0, 500.0]))
    crop = crop_hand(depth, center, 250.0, D435_640X480)
    joints_mm = center + np.array([[0.0, 0.0, 0.0], [40.0, 0.0, 0.0], [40.0, 40.0, 0.0]])
    image = draw_debug(crop, joints_to_crop_uv(joints_mm, crop, D435_640X480), EDGES)
    assert image.shape == (DEBUG_SIZE, DEBUG_SIZE, 3) and image.dtype == np.uint8
    middle = DEBUG_SIZE // 2
    assert image[middle, middle, 2] == 255 and image[middle, middle, 0] == 0  # joint 0, red
    assert image[5, 5].max() < 10  # background stays dark
