"""Moving hands for streams: smooth random trajectories rendered as full frames at a rate.

A trajectory is a chain of random key states (pose, forearm direction and roll, wrist angles,
palm-centre position) a random 0.7-1.8 s apart; consecutive keys differ by bounded steps, and
every parameter follows a C1 cubic Hermite spline through the keys (tangents from the
neighbouring keys, Catmull-Rom style, in time), so joints move smoothly at any frame rate. The
hand's shape and the static clutter stay fixed for the whole stream; the upper arm follows the
elbow. A stream that draws a grasp (``SynthConfig.grasp_prob``) holds the same object with the
same closed fingers throughout while the arm moves; wrist wear and webbing follow the wrist and
fingers of each frame.

Streams draw their randomness from ``SeedSequence([seed, STREAM_TAG, ...])``, separate from the
single samples of the same seed, and are deterministic for a seed.
"""

from dataclasses import dataclass, field, replace
from typing import Iterator, List, Tuple

import numpy as np

from training.datasets.sample import Sample
from training.synth.clutter import sample_clutter
from training.synth.kinematics import touch_thumb_to_index
from training.synth.placement import Placement, keep_in_front, palm_center, sample_placement
from training.synth.poses import clip_pose, sample_pose
from training.synth.scene import (HandState, Scene, SynthConfig, attach, draw_side,
                                  mirror_scene, pose_hand, render_scene)
from training.synth.skeleton import sample_shape

STREAM_TAG = 0x5354524D  # 'STRM': keeps stream seeds apart from single-sample seeds


@dataclass(frozen=True)
class MotionConfig:
    """How the hand moves in a stream."""

    key_interval_s: Tuple[float, float] = (0.7, 1.8)  # time between key states, uniform
    depth_range_mm: Tuple[float, float] = (300.0, 750.0)  # palm-centre depth (demo distance)
    max_step_mm: float = 150.0  # largest palm-centre move between two keys
    max_turn_deg: float = 50.0  # largest change of the forearm direction between two keys
    max_roll_deg: float = 90.0  # largest forearm roll between two keys


@dataclass(frozen=True)
class _Key:
    time_s: float  # when the key is reached
    values: np.ndarray  # pose (21), elbow direction (3), roll, flex, dev (deg), centre (3)


def _pack(pose: np.ndarray, placement: Placement, roll_deg: float) -> np.ndarray:
    return np.concatenate([pose, placement.elbow_direction,
                           [roll_deg, placement.wrist_flex_deg, placement.wrist_dev_deg],
                           placement.center_mm])


def _limit_turn(previous: np.ndarray, new: np.ndarray, max_deg: float) -> np.ndarray:
    """Direction at most ``max_deg`` away from ``previous``, towards ``new`` (unit vectors)."""
    angle = np.arccos(np.clip(np.dot(previous, new), -1.0, 1.0))
    limit = np.radians(max_deg)
    if angle <= limit:
        return new
    side = new - np.dot(previous, new) * previous
    side /= max(np.linalg.norm(side), 1e-9)
    return np.cos(limit) * previous + np.sin(limit) * side


@dataclass
class HandTrajectory:
    """Smooth motion of one hand over ``duration_s`` seconds (keys drawn up front)."""

    seed: int  # stream seed (non-negative)
    duration_s: float  # length of the trajectory, seconds
    config: SynthConfig = field(default_factory=SynthConfig)  # data distribution
    motion: MotionConfig = field(default_factory=MotionConfig)  # key spacing and step limits

    def __post_init__(self) -> None:
        if self.seed < 0 or not self.duration_s >= 0:
            raise ValueError(f'stream seed must be non-negative and duration >= 0, got '
                             f'seed={self.seed} duration={self.duration_s}')
        shape_seed, key_seed, self.clutter_seed = np.random.SeedSequence(
            [self.seed, STREAM_TAG]).spawn(3)
        self.shape = sample_shape(np.random.default_rng(shape_seed), self.config.shape)
        self._keys = self._draw_keys(np.random.default_rng(key_seed))

    def _draw_keys(self, rng: np.random.Generator) -> List[_Key]:
        placement_config = replace(self.config.placement,
                                   depth_range_mm=self.motion.depth_range_mm)
        keys: List[_Key] = []
        time_s = 0.0
        while len(keys) < 4 or keys[-3].time_s <= self.duration_s:
            pose, touch = sample_pose(rng, self.config.pose)
            if touch:
                pose = touch_thumb_to_index(self.shape, pose)
            placement = sample_placement(rng, placement_config, self.config.intrinsics)
            roll = placement.roll_deg
            if keys:
                before = keys[-1].values
                step = placement.center_mm - before[-3:]
                length = np.linalg.norm(step)
                center = before[-3:] + step * min(1.0, self.motion.max_step_mm / max(length, 1e-9))
                elbow = _limit_turn(before[21:24], placement.elbow_direction,
                                    self.motion.max_turn_deg)
                turn = (roll - before[24] + 180.0) % 360.0 - 180.0  # unwrapped roll
                roll = before[24] + np.clip(turn, -self.motion.max_roll_deg,
                                            self.motion.max_roll_deg)
                placement = Placement(elbow, roll, placement.wrist_flex_deg,
                                      placement.wrist_dev_deg, center)
            keys.append(_Key(time_s, _pack(pose, placement, roll)))
            time_s += rng.uniform(*self.motion.key_interval_s)
        return keys

    def _values_at(self, time_s: float) -> np.ndarray:
        keys = self._keys
        times = np.array([key.time_s for key in keys])
        k = int(np.clip(np.searchsorted(times, time_s, side='right') - 1, 0, len(keys) - 2))

        def tangent(i: int) -> np.ndarray:
            lo, hi = max(i - 1, 0), min(i + 1, len(keys) - 1)
            return (keys[hi].values - keys[lo].values) / (times[hi] - times[lo])

        span = times[k + 1] - times[k]
        u = np.clip((time_s - times[k]) / span, 0.0, 1.0)
        h00, h10 = 2 * u ** 3 - 3 * u ** 2 + 1, u ** 3 - 2 * u ** 2 + u
        h01, h11 = -2 * u ** 3 + 3 * u ** 2, u ** 3 - u ** 2
        return (h00 * keys[k].values + h10 * span * tangent(k)
                + h01 * keys[k + 1].values + h11 * span * tangent(k + 1))

    def state_at(self, time_s: float) -> HandState:
        """The hand at ``time_s`` seconds (clipped to the joint and wrist limits).

        :param time_s: time since the start of the stream
        """
        values = self._values_at(time_s)
        limits = self.config.placement
        elbow = values[21:24] / np.linalg.norm(values[21:24])
        placement = Placement(elbow, float(values[24]),
                              float(np.clip(values[25], *limits.wrist_flex_limits_deg)),
                              float(np.clip(values[26], *limits.wrist_dev_limits_deg)),
                              values[27:30].copy())
        pose = clip_pose(values[:21])
        # A fresh seed each frame: the same grasp and wear draws for the whole stream.
        attach_seed = np.random.SeedSequence([self.seed, STREAM_TAG]).spawn(5)[4]
        pose, attached = attach(attach_seed, self.shape, pose, placement, self.config)
        state = HandState(self.shape, pose, placement, attached)
        joints = pose_hand(state).joints_mm
        return replace(state, placement=keep_in_front(placement, joints,
                                                      limits.min_joint_depth_mm))

    def key_joints(self) -> np.ndarray:
        """Joints (K, 21, 3) of every key state, camera frame (to keep clutter clear)."""
        return np.stack([pose_hand(self.state_at(key.time_s)).joints_mm for key in self._keys])


def stream_frames(seed: int, count: int, rate_hz: float, config: SynthConfig = SynthConfig(),
                  motion: MotionConfig = MotionConfig()) -> Iterator[Tuple[float, Sample]]:
    """Render ``count`` full frames of one moving hand at ``rate_hz``.

    :param seed: stream seed (non-negative)
    :param count: number of frames (positive)
    :param rate_hz: frame rate, Hz (positive)
    :param config: the data distribution (camera, clutter, sensor)
    :param motion: how the hand moves
    :returns: iterator of (time in seconds since the first frame, full-frame sample); the
        sample's centre is the palm centre (no jitter)
    """
    if count <= 0 or not rate_hz > 0:
        raise ValueError(f'need count > 0 and rate_hz > 0, got count={count} rate={rate_hz}')
    trajectory = HandTrajectory(seed, (count - 1) / rate_hz, config, motion)
    first = pose_hand(trajectory.state_at(0.0))
    clutter = sample_clutter(np.random.default_rng(trajectory.clutter_seed), config.clutter,
                             trajectory.key_joints(), first.elbow_mm)
    # One side per stream, from a fourth stream child (the trajectory uses the first three, the
    # attachments the fifth);
    # a left stream is reflected in one fixed plane, so the clutter stays put.
    side_seed = np.random.SeedSequence([seed, STREAM_TAG]).spawn(4)[3]
    left = draw_side(np.random.default_rng(side_seed), config.left_hand_prob) == 'left'
    plane_x_mm = float(palm_center(first.joints_mm)[0])
    for frame in range(count):
        time_s = frame / rate_hz
        hand = pose_hand(trajectory.state_at(time_s))
        sensor_seed = np.random.SeedSequence([seed, STREAM_TAG, frame])
        scene = Scene(hand, clutter, palm_center(hand.joints_mm), sensor_seed,
                      f'synth-stream/{seed}/{frame}')
        if left:
            scene = mirror_scene(scene, plane_x_mm)
        yield time_s, render_scene(scene, config.intrinsics, config)
