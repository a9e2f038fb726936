"""Optional scene clutter around the hand: the user's arm and body, a table, an object, a wall.

Every element is drawn with its own probability, placed relative to the hand so that it does
not intersect the hand itself (it may occlude parts of it, as real objects do).
"""

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from training.synth.kinematics import rot_x, rot_y, rot_z
from training.synth.raster import Primitives, boxes, ellipsoids, planes, round_cones

TAG_BODY = 3  # torso, head, upper arm
TAG_BACKGROUND = 4  # table plane, back wall
TAG_OBJECT = 5  # a box or a bottle-like capsule near the hand


@dataclass(frozen=True)
class ClutterConfig:
    """Which clutter appears and where; every range is sampled uniformly per frame."""

    enabled: bool = True  # False renders the hand and forearm alone
    arm_prob: float = 0.9  # upper arm from the elbow to a shoulder farther from the camera
    body_prob: float = 0.5  # torso and head at that shoulder
    table_prob: float = 0.35  # a table plane below the hand and elbow
    table_gap_mm: Tuple[float, float] = (5.0, 200.0)  # table below the lowest hand point, mm
    table_pitch_deg: Tuple[float, float] = (0.0, 60.0)  # camera looking down at the table
    object_prob: float = 0.35  # a box or capsule near the hand
    object_size_mm: Tuple[float, float] = (25.0, 90.0)  # half-size (box) / radius scale, mm
    object_distance_mm: Tuple[float, float] = (20.0, 160.0)  # gap between object and hand, mm
    wall_prob: float = 0.6  # a back wall
    wall_distance_mm: Tuple[float, float] = (900.0, 3500.0)  # wall distance along the optical axis
    # Direction elbow -> shoulder before normalising: two uniform ranges and a constant, along
    # the camera's x, y, z ('camera') or sideways, towards the camera, along the forearm
    # ('forearm': the arm goes on past the elbow, as over a table).
    shoulder_frame: str = 'camera'
    shoulder_ranges: Tuple[Tuple[float, float], Tuple[float, float], float] = (
        (-0.6, 0.6), (-0.2, 0.8), 1.0)


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    angles = rng.uniform(-np.pi, np.pi, 3)
    return rot_z(angles[0]) @ rot_y(angles[1] / 2) @ rot_x(angles[2])


@dataclass(frozen=True)
class Clutter:
    """The clutter of one scene: static primitives and, maybe, the upper arm's shoulder end.

    The upper arm joins the forearm's far end (the elbow) to a fixed shoulder, so a moving hand
    drags it along while the torso stays put.
    """

    static: Primitives  # body, table, object, wall: camera frame
    shoulder_mm: Optional[np.ndarray] = None  # (3,) shoulder, or None without an upper arm
    arm_radii_mm: Tuple[float, float] = (38.0, 47.0)  # upper arm radius at elbow / shoulder

    def primitives(self, elbow_mm: np.ndarray) -> Primitives:
        """All clutter primitives for the current elbow position.

        :param elbow_mm: (3,) far end of the forearm, camera frame, mm
        """
        if self.shoulder_mm is None:
            return self.static
        arm = round_cones(np.asarray(elbow_mm)[None], [self.arm_radii_mm[0]],
                          self.shoulder_mm[None], [self.arm_radii_mm[1]], TAG_BODY)
        return Primitives.concatenate([self.static, arm])


def _shoulder(rng: np.random.Generator, config: ClutterConfig, elbow: np.ndarray,
              wrist: np.ndarray) -> np.ndarray:
    """A shoulder about one upper-arm length from the elbow (third person: away from the
    camera)."""
    first, second, third = config.shoulder_ranges
    weights = np.array([rng.uniform(*first), rng.uniform(*second), third])
    if config.shoulder_frame == 'forearm':
        along = (elbow - wrist) / max(float(np.linalg.norm(elbow - wrist)), 1e-9)
        sideways = np.cross(along, [0.0, 0.0, 1.0])
        sideways /= max(float(np.linalg.norm(sideways)), 1e-9)
        weights = weights @ np.stack([sideways, [0.0, 0.0, -1.0], along])
    elif config.shoulder_frame != 'camera':
        raise ValueError(f"shoulder_frame must be 'camera' or 'forearm', got "
                         f'{config.shoulder_frame!r}')
    return elbow + rng.uniform(260.0, 320.0) * weights / np.linalg.norm(weights)


def _body(rng: np.random.Generator, shoulder: np.ndarray) -> Primitives:
    """Torso and head next to the shoulder, roughly facing the camera."""
    width = rng.uniform(150.0, 200.0)
    height = rng.uniform(240.0, 300.0)
    depth = rng.uniform(95.0, 130.0)
    side = 1.0 if rng.random() < 0.8 else -1.0  # a right arm: the torso is usually on +x
    frame = rot_y(rng.uniform(-0.5, 0.5))
    torso = shoulder + frame @ np.array([side * 0.8 * width, 0.8 * height, 0.4 * depth])
    head = torso + frame @ np.array([0.0, -height - 110.0, 0.0])
    return ellipsoids(np.stack([torso, head]),
                      np.stack([frame * np.array([width, height, depth]),
                                frame * np.array([78.0, 105.0, 95.0])]), TAG_BODY)


def _table(rng: np.random.Generator, config: ClutterConfig, points: np.ndarray) -> Primitives:
    pitch = np.radians(rng.uniform(*config.table_pitch_deg))
    normal = rot_z(np.array(rng.uniform(-0.2, 0.2))) @ np.array(
        [0.0, -np.cos(pitch), -np.sin(pitch)])
    offset = float(np.min(points @ normal)) - rng.uniform(*config.table_gap_mm)
    if offset >= -50.0:  # the camera would be (nearly) under the table
        return Primitives()
    return planes(normal[None], [offset], TAG_BACKGROUND)


def _object(rng: np.random.Generator, config: ClutterConfig, joints: np.ndarray) -> Primitives:
    center = joints.mean(axis=0)
    reach = float(np.max(np.linalg.norm(joints - center, axis=1)))
    size = rng.uniform(*config.object_size_mm)
    is_box = rng.random() < 0.5
    rotation = _random_rotation(rng)
    if is_box:
        half = size * rng.uniform(0.5, 1.5, 3)
        radius = float(np.linalg.norm(half))
    else:
        half_length = size * rng.uniform(0.5, 2.0)
        thickness = size * rng.uniform(0.35, 0.7)
        radius = half_length + thickness
    angle = rng.uniform(0.0, 2.0 * np.pi)
    lateral = np.array([np.cos(angle), np.sin(angle), rng.uniform(-0.3, 1.2)])
    distance = reach + radius + rng.uniform(*config.object_distance_mm)
    position = center + distance * lateral / np.linalg.norm(lateral)
    if np.min(np.linalg.norm(joints - position, axis=1)) < radius + 15.0:
        return Primitives()
    if is_box:
        return boxes(position[None], (rotation * half[None, :])[None], TAG_OBJECT)
    axis = rotation[:, 0] * half_length
    return round_cones((position - axis)[None], [thickness], (position + axis)[None],
                       [thickness], TAG_OBJECT)


def _wall(rng: np.random.Generator, config: ClutterConfig, farthest: float) -> Primitives:
    distance = max(rng.uniform(*config.wall_distance_mm), farthest + 150.0)
    tilt = rng.uniform(-0.5, 0.5, 2)
    normal = rot_y(np.array(tilt[0])) @ rot_x(np.array(tilt[1])) @ np.array([0.0, 0.0, -1.0])
    return planes(normal[None], [-distance * np.cos(tilt[0]) * np.cos(tilt[1])],
                  TAG_BACKGROUND)


def sample_clutter(rng: np.random.Generator, config: ClutterConfig, joints_mm: np.ndarray,
                   elbow_mm: np.ndarray) -> Clutter:
    """Draw the clutter of one scene in the camera frame (the hand's upper arm included).

    :param rng: random generator of the scene's clutter
    :param config: which elements and where
    :param joints_mm: (..., 21, 3) hand joints, camera frame, mm; several hand poses (a
        stream's key poses) keep the object clear of all of them
    :param elbow_mm: (3,) far end of the forearm (of the first pose), camera frame, mm
    """
    if not config.enabled:
        return Clutter(Primitives())
    joints = np.asarray(joints_mm).reshape(-1, 3)
    draws = rng.random(5)
    parts = []
    shoulder = None
    if draws[0] < config.arm_prob and elbow_mm[2] > 100.0:
        shoulder = _shoulder(rng, config, elbow_mm, joints[0])
        if draws[4] < config.body_prob and elbow_mm[2] > joints[:, 2].mean():
            parts.append(_body(rng, shoulder))
    if draws[1] < config.table_prob:
        parts.append(_table(rng, config, np.vstack([joints, elbow_mm[None]])))
    if draws[2] < config.object_prob:
        parts.append(_object(rng, config, joints))
    if draws[3] < config.wall_prob:
        farthest = max(float(elbow_mm[2]), float(joints[:, 2].max())) + 500.0
        parts.append(_wall(rng, config, farthest))
    return Clutter(Primitives.concatenate(parts) if parts else Primitives(), shoulder,
                   (rng.uniform(34.0, 42.0), rng.uniform(42.0, 52.0)))
