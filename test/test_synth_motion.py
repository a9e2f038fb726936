"""Smooth hand trajectories for streams (training/synth/motion.py)."""

from dataclasses import replace

import numpy as np
import pytest

from training.synth.clutter import ClutterConfig
from training.synth.motion import HandTrajectory, MotionConfig, stream_frames
from training.synth.placement import palm_center
from training.synth.poses import LOWER, UPPER
from training.synth.scene import SynthConfig, pose_hand
from training.synth.sensor import SensorConfig

QUIET = SynthConfig(clutter=ClutterConfig(enabled=False), sensor=SensorConfig(enabled=False))


def _joints(trajectory, times):
    return np.stack([pose_hand(trajectory.state_at(t)).joints_mm for t in times])


def test_motion_is_smooth_and_stays_within_limits():
    trajectory = HandTrajectory(seed=3, duration_s=12.0, config=QUIET)
    times = np.arange(0.0, 12.0, 1 / 60)
    joints = _joints(trajectory, times)
    speed = np.linalg.norm(np.diff(joints, axis=0), axis=2) * 60  # mm/s
    assert np.percentile(speed, 99) < 1500.0 and speed.max() < 3000.0
    assert np.median(speed) > 20.0  # it does move
    # Second differences stay small: no jumps in position or velocity (C1 in time).
    jerk = np.linalg.norm(np.diff(joints, 2, axis=0), axis=2).max()
    assert jerk < 3.0  # mm per frame^2 at 60 Hz
    for time_s in times[::30]:
        state = trajectory.state_at(time_s)
        assert np.all(state.pose >= LOWER - 1e-9) and np.all(state.pose <= UPPER + 1e-9)
        assert pose_hand(state).joints_mm[:, 2].min() >= \
            QUIET.placement.min_joint_depth_mm - 1e-6
    depth = palm_center(joints)[:, 2]
    assert depth.min() > 200.0 and depth.max() < 900.0


def test_trajectory_is_deterministic_and_seeded():
    times = np.linspace(0.0, 3.0, 7)
    first = _joints(HandTrajectory(5, 3.0, QUIET), times)
    assert np.array_equal(first, _joints(HandTrajectory(5, 3.0, QUIET), times))
    assert not np.allclose(first, _joints(HandTrajectory(6, 3.0, QUIET), times))


def test_key_steps_are_bounded():
    motion = MotionConfig(max_step_mm=40.0, key_interval_s=(0.5, 0.5))
    trajectory = HandTrajectory(2, 6.0, QUIET, motion)
    centres = np.stack([trajectory.state_at(t).placement.center_mm
                        for t in np.arange(0.0, 6.0, 0.5)])
    assert np.linalg.norm(np.diff(centres, axis=0), axis=1).max() <= 40.0 + 1e-6


def test_stream_frames_have_timestamps_and_one_hand():
    config = replace(SynthConfig(), sensor=SensorConfig(enabled=False))
    frames = list(stream_frames(1, 5, 25.0, config))
    assert [t for t, _ in frames] == pytest.approx([0.0, 0.04, 0.08, 0.12, 0.16])
    shapes = {sample.depth_mm.shape for _, sample in frames}
    assert shapes == {(480, 640)}
    first, last = frames[0][1].joints_mm, frames[-1][1].joints_mm
    # Same hand: identical bone lengths in every frame.
    bones = lambda j: np.linalg.norm(j[9] - j[2])  # noqa: E731 (index MCP -> PIP)
    assert bones(first) == pytest.approx(bones(last))
    again = list(stream_frames(1, 5, 25.0, config))
    assert all(a[1].depth_mm.tobytes() == b[1].depth_mm.tobytes() for a, b in zip(frames, again))
    with pytest.raises(ValueError, match='count > 0'):
        list(stream_frames(1, 0, 25.0))


def test_a_left_stream_is_the_right_one_mirrored_in_one_fixed_plane():
    config = SynthConfig(sensor=SensorConfig(enabled=False), left_hand_prob=1.0)
    right = [s for _, s in stream_frames(3, 3, 10.0, replace(config, left_hand_prob=0.0))]
    left = [s for _, s in stream_frames(3, 3, 10.0, config)]
    assert [s.side for s in left] == ['left'] * 3 and [s.side for s in right] == ['right'] * 3
    # One plane for the whole stream (the first palm centre's), so the clutter stays put.
    plane_x = (left[0].joints_mm[0, 0] + right[0].joints_mm[0, 0]) / 2
    for r, l in zip(right, left):
        np.testing.assert_allclose((l.joints_mm[:, 0] + r.joints_mm[:, 0]) / 2, plane_x,
                                   atol=1e-9)
        np.testing.assert_allclose(l.joints_mm[:, 1:], r.joints_mm[:, 1:], atol=1e-12)
