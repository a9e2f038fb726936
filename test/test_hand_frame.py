"""Wrist pose: x to the middle MCP, z out of the palm, y = z x x, for both hands."""

import numpy as np
import pytest

from crossinfonet_ros.hand_frame import hand_rotation, quaternion_from_matrix, wrist_pose
from crossinfonet_ros.layouts import get_layout

LAYOUT = get_layout('hands2017')


def _right_hand_palm_towards_camera():
    """Right hand 40 cm in front of the camera (optical frame: x right, y down, z forward),
    fingers up, palm facing the camera ('stop' gesture): the thumb points to the owner's left,
    which is the camera's right (+x), since the owner faces the camera."""
    joints = np.zeros((21, 3))
    joints[:, 2] = 400.0
    wrist = np.array([0.0, 0.0, 400.0])
    up = np.array([0.0, -1.0, 0.0])
    towards_thumb = np.array([1.0, 0.0, 0.0])
    joints[LAYOUT.wrist] = wrist
    for k, joint in enumerate(LAYOUT.mcps):  # thumb, index, middle, ring, pinky
        joints[joint] = wrist + 80 * up + (2 - k) * 20 * towards_thumb
    joints[LAYOUT.mcps[0]] = wrist + 30 * up + 45 * towards_thumb
    return joints


def test_right_hand_axes():
    joints = _right_hand_palm_towards_camera()
    rotation = hand_rotation(joints, LAYOUT, 'right')
    x, y, z = rotation.T
    np.testing.assert_allclose(x, [0, -1, 0], atol=1e-9)
    # Palm faces the camera: out of the palm is towards the camera, -z of the optical frame.
    np.testing.assert_allclose(z, [0, 0, -1], atol=1e-9)
    np.testing.assert_allclose(y, np.cross(z, x), atol=1e-12)
    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rotation) == pytest.approx(1.0)


def test_left_hand_mirror_keeps_z_out_of_the_palm():
    joints = _right_hand_palm_towards_camera()
    joints[:, 0] *= -1  # mirror: a left hand, palm still facing the camera
    x, _, z = hand_rotation(joints, LAYOUT, 'left').T
    np.testing.assert_allclose(x, [0, -1, 0], atol=1e-9)
    np.testing.assert_allclose(z, [0, 0, -1], atol=1e-9)


def test_rotation_follows_the_hand():
    joints = _right_hand_palm_towards_camera()
    angle = 0.7
    turn = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0],
                     [-np.sin(angle), 0, np.cos(angle)]])
    moved = (joints - joints[0]) @ turn.T + joints[0]
    np.testing.assert_allclose(hand_rotation(moved, LAYOUT), turn @ hand_rotation(joints, LAYOUT),
                               atol=1e-9)


def test_quaternion_matches_the_matrix():
    rng = np.random.default_rng(3)
    for _ in range(20):
        q = rng.standard_normal(4)
        q /= np.linalg.norm(q)
        x, y, z, w = q
        matrix = np.array([
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
        got = np.array(quaternion_from_matrix(matrix))
        np.testing.assert_allclose(got, q if w >= 0 else -q, atol=1e-9)


def test_wrist_pose_position_and_degenerate_identity():
    joints = _right_hand_palm_towards_camera() / 1000.0
    position, orientation = wrist_pose(joints, LAYOUT)
    assert position == pytest.approx(tuple(joints[0]))
    assert np.linalg.norm(orientation) == pytest.approx(1.0)
    flat = np.zeros((21, 3))
    assert wrist_pose(flat, LAYOUT)[1] == (0.0, 0.0, 0.0, 1.0)
    assert hand_rotation(np.full((21, 3), np.nan), LAYOUT) is None
    with pytest.raises(ValueError, match='handedness'):
        hand_rotation(joints, LAYOUT, 'both')
