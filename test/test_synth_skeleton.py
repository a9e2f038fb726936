"""Hand anthropometry, joint limits, poses and forward kinematics (training/synth)."""

import numpy as np
import pytest

from crossinfonet_ros.layouts import get_layout
from training.synth.kinematics import hand_joints, touch_thumb_to_index
from training.synth.placement import Placement, hand_rotation
from training.synth.poses import (LOWER, NAMED_POSES, NUM_DOFS, UPPER, PoseConfig, pose_by_name,
                                  sample_pose)
from training.synth.skeleton import (CHAINS, SEGMENT_LENGTHS_MM, ShapeConfig, bone_length_bounds,
                                     reference_shape, sample_shape, segment_lengths)


def _draws(count, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        shape = sample_shape(rng)
        pose, touch = sample_pose(rng)
        if touch:
            pose = touch_thumb_to_index(shape, pose)
        yield shape, pose, touch


def test_chains_follow_the_hands2017_layout():
    layout = get_layout('hands2017')
    assert tuple(CHAINS[:, 0]) == layout.mcps
    edges = {(int(p), int(c)) for chain in CHAINS for p, c in zip(chain[:-1], chain[1:])}
    assert edges <= set(layout.edges)
    assert layout.joint_names[CHAINS[0, 3]] == 'thumb_tip'
    assert layout.joint_names[CHAINS[4, 1]] == 'pinky_pip'


def test_reference_hand_has_adult_proportions():
    joints = hand_joints(reference_shape(), NAMED_POSES['open'])
    palm_length = np.linalg.norm(joints[3] - joints[0])  # wrist to middle MCP
    middle_finger = np.sum(segment_lengths(joints)[2])
    assert 85.0 <= palm_length <= 105.0
    assert 80.0 <= middle_finger <= 95.0
    # Finger order of lengths: middle > ring > index > pinky.
    totals = segment_lengths(joints).sum(axis=1)
    assert totals[2] > totals[3] > totals[1] > totals[4]


def test_sampled_bone_lengths_stay_in_the_anthropometric_range():
    low, high = bone_length_bounds()
    lengths = np.stack([segment_lengths(hand_joints(shape, pose)) for shape, pose, _ in
                        _draws(300)])
    assert np.all(lengths >= low - 1e-6) and np.all(lengths <= high + 1e-6)
    # The global scale really varies (0.85..1.15), not just the per-bone noise.
    ratio = lengths[:, 2].sum(axis=1) / SEGMENT_LENGTHS_MM[2].sum()
    assert ratio.min() < 0.9 and ratio.max() > 1.1
    with pytest.raises(AssertionError):
        assert np.all(lengths[:, 2, 0] == lengths[0, 2, 0])


def test_sampled_poses_respect_the_joint_limits():
    poses = np.stack([pose for _, pose, _ in _draws(400, seed=1)])
    assert poses.shape[1] == NUM_DOFS
    assert np.all(poses >= LOWER - 1e-9) and np.all(poses <= UPPER + 1e-9)
    # Both natural and random poses reach well into the flexion range.
    assert poses[:, 6].max() > 90.0 and poses[:, 6].min() < 10.0  # index PIP


def _bend(a, b, c):
    """Angle (deg) between the bones a->b and b->c."""
    first, second = b - a, c - b
    cosine = first @ second / (np.linalg.norm(first) * np.linalg.norm(second))
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def test_measured_joint_angles_stay_within_limits():
    # Bending at PIP and DIP measured from the joint positions alone.
    for shape, pose, _ in _draws(200, seed=2):
        joints = hand_joints(shape, pose)
        for finger in range(1, 5):
            root, pip, dip, tip = joints[CHAINS[finger]]
            pip_limit = max(abs(LOWER[4 * finger + 2]), UPPER[4 * finger + 2])
            dip_limit = max(abs(LOWER[4 * finger + 3]), UPPER[4 * finger + 3])
            assert _bend(root, pip, dip) <= pip_limit + 1e-6
            assert _bend(pip, dip, tip) <= dip_limit + 1e-6


def test_open_fingers_are_straight_and_fist_tips_come_back_to_the_palm():
    shape = reference_shape()
    open_hand = hand_joints(shape, NAMED_POSES['open'])
    fist = hand_joints(shape, NAMED_POSES['fist'])
    for finger in range(1, 5):
        root, pip, dip, tip = open_hand[CHAINS[finger]]
        assert _bend(root, pip, dip) < 1e-3 and _bend(pip, dip, tip) < 1e-3
    wrist = open_hand[0]
    tips = CHAINS[1:, 3]
    assert np.all(np.linalg.norm(fist[tips] - wrist, axis=1)
                  < 0.7 * np.linalg.norm(open_hand[tips] - wrist, axis=1))
    # Flexion bends towards the palm side (-z of the hand frame).
    assert np.all(fist[tips, 2] < open_hand[tips, 2] - 20.0)


def test_thumb_has_its_own_cmc_kinematics():
    shape = reference_shape()
    base = NAMED_POSES['open'].copy()
    palmar = base.copy()
    palmar[0] += 40.0  # CMC palmar abduction: the thumb leaves the palm plane (volar, -z)
    across = base.copy()
    across[1] += 30.0  # CMC flexion: the thumb sweeps across the palm (ulnar, -y)
    tip = lambda pose: hand_joints(shape, pose)[CHAINS[0, 3]]  # noqa: E731
    assert tip(palmar)[2] < tip(base)[2] - 20.0
    assert tip(across)[1] < tip(base)[1] - 20.0
    # The open thumb points away from the fingers (its own rest direction).
    joints = hand_joints(shape, base)
    thumb_axis = joints[CHAINS[0, 1]] - joints[CHAINS[0, 0]]
    index_axis = joints[CHAINS[1, 1]] - joints[CHAINS[1, 0]]
    assert _bend(np.zeros(3), thumb_axis, thumb_axis + index_axis) > 25.0


def test_pinch_and_ok_bring_the_tips_together():
    rng = np.random.default_rng(4)
    for name in ('pinch', 'ok'):
        for _ in range(20):
            shape = sample_shape(rng)
            pose = pose_by_name(name) + rng.normal(0.0, 6.0, NUM_DOFS)
            touched = touch_thumb_to_index(shape, np.clip(pose, LOWER, UPPER))
            joints = hand_joints(shape, touched)
            gap = np.linalg.norm(joints[CHAINS[0, 3]] - joints[CHAINS[1, 3]])
            assert gap == pytest.approx(shape.radii[0, 3] + shape.radii[1, 3], abs=6.0)
            assert np.all(touched >= LOWER - 1e-9) and np.all(touched <= UPPER + 1e-9)


def test_it_is_a_right_hand():
    # Palm towards the camera, fingers up: a right hand shows its thumb on the image's right.
    placement = Placement(np.array([0.0, 1.0, 0.0]), 0.0, 0.0, 0.0, np.zeros(3))
    rotation = hand_rotation(placement)
    joints = hand_joints(reference_shape(), NAMED_POSES['spread']) @ rotation.T
    palm_normal = rotation @ np.array([0.0, 0.0, -1.0])  # the palm faces -z of the hand frame
    fingers = joints[CHAINS[2, 3]] - joints[0]
    if palm_normal[2] > 0:  # palm facing away: turn the hand 180 degrees about the fingers
        rotation = hand_rotation(Placement(placement.elbow_direction, 180.0, 0.0, 0.0,
                                           np.zeros(3)))
        joints = hand_joints(reference_shape(), NAMED_POSES['spread']) @ rotation.T
        palm_normal = rotation @ np.array([0.0, 0.0, -1.0])
        fingers = joints[CHAINS[2, 3]] - joints[0]
    assert palm_normal[2] < -0.9 and fingers[1] < 0  # palm at the camera, fingers up (-y)
    assert joints[CHAINS[0, 3], 0] > joints[CHAINS[4, 3], 0]  # thumb right of the pinky


def test_named_poses_are_within_limits_and_unknown_names_fail_clearly():
    for name, pose in NAMED_POSES.items():
        assert pose.shape == (NUM_DOFS,), name
        assert np.all(pose >= LOWER) and np.all(pose <= UPPER), name
    with pytest.raises(ValueError, match="unknown hand pose 'wave'.*fist"):
        pose_by_name('wave')


def test_shape_config_controls_the_scale():
    rng = np.random.default_rng(6)
    small = [sample_shape(rng, ShapeConfig(scale_range=(0.9, 0.9))).scale for _ in range(5)]
    assert small == pytest.approx([0.9] * 5)
    assert not np.allclose([sample_pose(rng, PoseConfig())[0] for _ in range(2)], 0.0)
