"""Hands holding objects, wrist wear, occluders and hand sizes in the synthetic renderer."""

from dataclasses import replace

import numpy as np
import pytest

from training.synth.__main__ import parse_args
from training.synth.clutter import ClutterConfig
from training.synth.grasp import GraspConfig, HeldObject, TAG_HELD, sample_grasp
from training.synth.kinematics import hand_joints, touch_thumb_to_index
from training.synth.motion import stream_frames
from training.synth.occluder import TAG_OCCLUDER
from training.synth.poses import LOWER, UPPER, pose_by_name, sample_pose
from training.synth.raster import render_depth
from training.synth.scene import (HandState, SynthConfig, pose_hand, render_crop, render_frame,
                                  sample_scene)
from training.synth.sensor import SensorConfig
from training.synth.placement import Placement
from training.synth.shape import TAG_FOREARM, TAG_HAND, webbing
from training.synth.skeleton import (CHAINS, ShapeConfig, reference_shape, sample_shape,
                                     segment_lengths)
from training.synth.wear import TAG_WEAR

from render_digest import render_digest

# render_digest of samples rendered by the code before grasps, wear and occluders existed
# (commit 0ca9f01): the default distribution must not move.
FROZEN_CROPS = {0: '2212feee53c74f85', 1: '89a260aa37a1ad24', 2: 'dd518544d8fd2363',
                3: '190e1d04b5f086b8'}
FROZEN_FRAME = '4e7044233ea6afa1'  # render_frame(5, 2)
FROZEN_STREAM = ['3bd731498fd3ab85', 'f467aa1788e36fef', 'dc25ba3638023509',
                 '15cedf7768b4554c']  # stream_frames(3, 4, 30.0)
CLEAN = SynthConfig(clutter=ClutterConfig(enabled=False), sensor=SensorConfig(enabled=False))
CONTACT_TOLERANCE_MM = 3.0


def test_defaults_render_the_same_bytes_as_before_grasps_existed():
    zero = SynthConfig(grasp_prob=0.0, occluder_prob=0.0, wrist_wear_prob=0.0)
    for config in (SynthConfig(), zero):
        assert {i: render_digest([render_crop(3, i, config)])
                for i in FROZEN_CROPS} == FROZEN_CROPS
    assert render_digest([render_frame(5, 2)]) == FROZEN_FRAME
    assert [render_digest([sample]) for _, sample in stream_frames(3, 4, 30.0)] == FROZEN_STREAM


def test_batched_kinematics_equals_one_pose_at_a_time():
    shape = reference_shape()
    poses = np.stack([pose_by_name(name) for name in ('grasp', 'fist', 'open', 'pinch')])
    batch = hand_joints(shape, poses.reshape(2, 2, -1))
    assert batch.shape == (2, 2, 21, 3)
    for k, pose in enumerate(poses):
        assert np.array_equal(batch.reshape(4, 21, 3)[k], hand_joints(shape, pose))


def test_touch_with_a_gap_leaves_room_for_an_object():
    shape = reference_shape()
    gap = shape.radii[0, 3] + shape.radii[1, 3] + 20.0
    joints = hand_joints(shape, touch_thumb_to_index(shape, pose_by_name('pinch'), gap_mm=gap))
    assert np.linalg.norm(joints[CHAINS[0, 3]] - joints[CHAINS[1, 3]]) == pytest.approx(
        gap, abs=1.0)


def _link_gaps(shape, joints, held: HeldObject) -> np.ndarray:
    """(5, 3) surface gaps of the finger links, measured densely (41 spheres per link) with the
    test's own point-to-capsule / point-to-box distance."""
    t = np.linspace(0.0, 1.0, 41)[:, None]
    chain = joints[CHAINS]
    gaps = np.empty((5, 3))
    for f in range(5):
        for k in range(3):
            points = chain[f, k] + t * (chain[f, k + 1] - chain[f, k])
            radii = shape.radii[f, k] + t[:, 0] * (shape.radii[f, k + 1] - shape.radii[f, k])
            offset = points - held.center
            if held.radius == 0.0:
                frame = held.axes / np.linalg.norm(held.axes, axis=0)
                q = np.abs(offset @ frame) - np.linalg.norm(held.axes, axis=0)
                distance = (np.linalg.norm(np.maximum(q, 0.0), axis=1)
                            + np.minimum(q.max(axis=1), 0.0))
            else:
                half = held.axes[:, 0]
                s = np.clip(offset @ half / max(half @ half, 1e-9), -1.0, 1.0)
                distance = np.linalg.norm(offset - s[:, None] * half, axis=1) - held.radius
            gaps[f, k] = (distance - radii).min()
    gaps[0, 0] = np.inf  # the thumb's metacarpal is inside the thenar (palm)
    return gaps


@pytest.mark.parametrize('kind', ['cylinder', 'handle', 'box', 'sphere', 'pinch'])
def test_fingers_close_onto_the_object_without_going_into_it(kind):
    rng = np.random.default_rng(11)
    config = GraspConfig(kinds=(kind,))
    touching, thumb_index = [], []
    for _ in range(12):
        shape = sample_shape(rng, ShapeConfig(scale_range=(0.75, 1.25)))
        grasp = sample_grasp(rng, shape, config)
        assert grasp is not None and grasp.held.kind == kind
        assert np.all(grasp.pose >= LOWER - 1e-6) and np.all(grasp.pose <= UPPER + 1e-6)
        gaps = _link_gaps(shape, hand_joints(shape, grasp.pose), grasp.held)
        assert gaps.min() > -CONTACT_TOLERANCE_MM - 0.5  # no link deep inside the object
        in_contact = gaps.min(axis=1) <= CONTACT_TOLERANCE_MM
        touching.append(in_contact.sum())
        thumb_index.append(in_contact[0] and in_contact[1])
    if kind == 'pinch':  # thumb and index hold it; the other fingers are free
        assert all(thumb_index)
    else:  # power grasps: nearly every chain closes onto the object
        assert np.mean(touching) >= 4.0 and min(touching) >= 2


def test_fingertips_of_a_hand_around_a_ball_rest_on_its_surface():
    rng = np.random.default_rng(3)
    resting = []
    for _ in range(8):
        shape = sample_shape(rng)
        grasp = sample_grasp(rng, shape, GraspConfig(kinds=('sphere',)))
        tips = hand_joints(shape, grasp.pose)[CHAINS[:, 3]]
        gaps = (np.linalg.norm(tips - grasp.held.center, axis=1) - grasp.held.radius
                - shape.radii[:, 3])
        # A tip stops on the ball, or (its DIP at the limit) short of it: never inside.
        assert np.all(gaps > -CONTACT_TOLERANCE_MM)
        # A short pinky may stop on a link nearer the palm before its tip reaches the ball.
        resting.append(np.sum(gaps < CONTACT_TOLERANCE_MM + 1.0))
    assert min(resting) >= 3 and np.mean(resting) >= 4.0


def _tags(scene, config):
    prims = type(scene.hand.primitives).concatenate(
        [scene.hand.primitives, scene.clutter.primitives(scene.hand.elbow_mm)])
    return render_depth(prims, config.intrinsics, with_tags=True)


def _rendered(seed: int, count: int, config: SynthConfig):
    """(index, scene, depth, tags) of the first ``count`` samples of ``seed``."""
    for index in range(count):
        scene = sample_scene(seed, index, config)
        yield (index, scene) + _tags(scene, config)


def test_held_object_is_rendered_with_the_hand_and_hides_some_joints():
    config = replace(CLEAN, grasp_prob=1.0)
    hidden, visible = 0, []
    for _, scene, depth, tags in _rendered(4, 8, config):
        visible.append(np.count_nonzero(tags == TAG_HELD))
        uvz = config.intrinsics.project(scene.hand.joints_mm)
        for u, v, z in uvz:
            col, row = int(round(u)), int(round(v))
            if 0 <= row < tags.shape[0] and 0 <= col < tags.shape[1]:
                hidden += tags[row, col] == TAG_HELD and depth[row, col] < z - 5.0
    # Seen in most frames (a pinched ball far away covers a few dozen pixels; seen from the
    # back of the hand it may be hidden altogether).
    assert sum(count > 10 for count in visible) >= 5 and sum(visible) > 5000
    assert hidden >= 8  # across 8 grasps, the object covers joints behind it


@pytest.mark.parametrize('left_hand_prob', [0.0, 1.0])
def test_object_moves_with_the_hand_and_touches_its_fingertips(left_hand_prob):
    config = replace(CLEAN, grasp_prob=1.0, grasp=GraspConfig(kinds=('sphere',)),
                     left_hand_prob=left_hand_prob)
    for index in range(4):
        scene = sample_scene(6, index, config)
        held = scene.hand.primitives.cone_tags == TAG_HELD
        assert held.sum() == 1
        ball = scene.hand.primitives.cones[held][0]
        tips = scene.hand.joints_mm[CHAINS[:, 3]]
        gaps = np.linalg.norm(tips - ball[0:3], axis=1) - ball[3]
        assert np.sum(gaps < 12.0) >= 4  # tip joint ~7-10 mm inside the fingertip surface


def test_grasps_keep_the_individual_hand_and_wear_and_occluders_keep_the_joints():
    base = render_crop(9, 1, CLEAN)
    grasped = render_crop(9, 1, replace(CLEAN, grasp_prob=1.0))
    assert np.allclose(segment_lengths(grasped.joints_mm), segment_lengths(base.joints_mm))
    assert not np.array_equal(grasped.joints_mm, base.joints_mm)
    for extra in ({'wrist_wear_prob': 1.0}, {'occluder_prob': 1.0}):
        other = render_crop(9, 1, replace(CLEAN, **extra))
        assert np.array_equal(other.joints_mm, base.joints_mm)
        assert not np.array_equal(other.depth_mm, base.depth_mm)


def test_wear_sits_on_the_forearm_next_to_the_wrist():
    config = replace(CLEAN, wrist_wear_prob=1.0)
    for index in range(6):
        scene = sample_scene(2, index, config)
        prims = scene.hand.primitives
        centres = np.concatenate([prims.ellipsoid_centers[prims.ellipsoid_tags == TAG_WEAR],
                                  prims.box_centers[prims.box_tags == TAG_WEAR]])
        assert len(centres) >= 1
        wrist, elbow = scene.hand.joints_mm[0], scene.hand.elbow_mm
        axis = (elbow - wrist) / np.linalg.norm(elbow - wrist)
        along = (centres - wrist) @ axis
        assert np.all((along > 5.0) & (along < 130.0))  # on the forearm, near the wrist
        _, tags = _tags(scene, config)
        assert np.count_nonzero(tags == TAG_WEAR) > 0


def test_occluder_lies_between_the_camera_and_the_hand_and_hides_part_of_it():
    config = replace(CLEAN, occluder_prob=1.0)
    covered = 0
    for index, scene, depth, tags in _rendered(8, 6, config):
        plain = sample_scene(8, index, CLEAN)
        _, plain_tags = _tags(plain, CLEAN)
        seen = tags == TAG_OCCLUDER
        if not seen.any():
            continue
        assert depth[seen].max() < scene.hand.joints_mm[:, 2].min()
        hand = np.isin(plain_tags, (TAG_HAND, TAG_FOREARM))
        share = np.count_nonzero(hand & seen) / np.count_nonzero(hand)
        covered += share > 0.02
        assert share < 1.0
    assert covered >= 3


def test_child_and_adult_sizes_scale_the_skeleton():
    def hand(scale):
        shape = sample_shape(np.random.default_rng(1), ShapeConfig(scale_range=(scale, scale)))
        pose, _ = sample_pose(np.random.default_rng(2))
        return shape, hand_joints(shape, pose)
    (child, small), (adult, large) = hand(0.75), hand(1.25)
    assert np.allclose(segment_lengths(small) / segment_lengths(large), 0.6)
    assert np.allclose(child.radii / adult.radii, 0.6)
    _, config = parse_args(['--out', '/tmp/unused-synth-out', '--num', '1',
                            '--hand-scale', '0.75', '1.25', '--finger-width', '0.8', '1.2'])
    assert config.shape.scale_range == (0.75, 1.25) and config.shape.width_range == (0.8, 1.2)


def test_bad_probabilities_and_kinds_are_rejected_clearly(capsys):
    for argv in (['--grasp-prob', '1.5'], ['--occluder-prob', '-0.1'],
                 ['--occluder-prob', '0.5', '--stream'], ['--hand-scale', '1.2', '0.8'],
                 ['--webbing-prob', '2']):
        with pytest.raises(SystemExit) as exit_info:
            parse_args(['--out', '/tmp/unused-synth-out', '--num', '1'] + argv)
        assert exit_info.value.code != 0
        assert capsys.readouterr().err.strip().count('\n') == 0
    with pytest.raises(ValueError, match='grasp_prob'):
        sample_scene(0, 0, SynthConfig(grasp_prob=2.0))
    with pytest.raises(ValueError, match='grasp kinds'):
        GraspConfig(kinds=('cup',))
    _, config = parse_args(['--out', '/tmp/unused-synth-out', '--num', '1', '--grasp-prob',
                            '0.3', '--occluder-prob', '0.2', '--wrist-wear-prob', '0.1',
                            '--webbing-prob', '0.4'])
    assert (config.grasp_prob, config.occluder_prob, config.wrist_wear_prob,
            config.shape.webbing_prob) == (0.3, 0.2, 0.1, 0.4)


def test_webbing_fills_the_gaps_between_spread_finger_roots_only():
    shape = reference_shape()
    pose = pose_by_name('spread')
    joints = hand_joints(shape, pose)
    elbow = np.array([0.0, 1.0, 0.15]) / np.linalg.norm([0.0, 1.0, 0.15])  # palm to camera
    placement = Placement(elbow, 0.0, 0.0, 0.0, np.array([0.0, 0.0, 450.0]))
    plain = pose_hand(HandState(shape, pose, placement))
    webbed = pose_hand(HandState(shape, pose, placement, webbing(joints, shape)))
    camera = CLEAN.intrinsics
    bare, _ = render_depth(plain.primitives, camera)
    full, _ = render_depth(webbed.primitives, camera)
    added = (full > 0) & (bare == 0)
    assert np.count_nonzero(added) > 100  # the webs show between spread fingers
    assert np.array_equal(webbed.joints_mm, plain.joints_mm)
    # Every added pixel lies near the finger roots (MCPs, the thumb's MCP), not out at the tips.
    rows, cols = np.nonzero(added)
    roots = camera.project(plain.joints_mm[np.concatenate([CHAINS[1:, 0], [CHAINS[0, 1]]])])
    spacing = np.linalg.norm(roots[1, :2] - roots[2, :2])
    nearest = np.hypot(cols[:, None] - roots[None, :, 0],
                       rows[:, None] - roots[None, :, 1]).min(axis=1)
    assert nearest.max() < 2.5 * spacing
    sample = render_crop(3, 0, replace(CLEAN, shape=ShapeConfig(webbing_prob=1.0)))
    assert np.array_equal(sample.joints_mm, render_crop(3, 0, CLEAN).joints_mm)


def test_a_grasping_stream_holds_the_same_object_with_the_same_fingers():
    config = replace(CLEAN, grasp_prob=1.0, wrist_wear_prob=1.0)
    frames = [sample for _, sample in stream_frames(5, 3, 5.0, config)]
    plain = [sample for _, sample in stream_frames(5, 3, 5.0, CLEAN)]
    # The fingers keep the grasp while the arm moves: the joints relative to the wrist turn
    # rigidly (equal pairwise distances), unlike the free stream's.
    def pairwise(joints):
        return np.linalg.norm(joints[:, None] - joints[None], axis=-1)
    held = [pairwise(sample.joints_mm) for sample in frames]
    assert np.allclose(held[0], held[1], atol=1e-6) and np.allclose(held[0], held[2], atol=1e-6)
    free = [pairwise(sample.joints_mm) for sample in plain]
    assert not np.allclose(free[0], free[2], atol=1.0)
    assert not np.array_equal(frames[0].joints_mm, frames[2].joints_mm)  # the hand moves
