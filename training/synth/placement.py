"""Where the hand is: forearm direction, roll, wrist angles and palm-centre position.

Orientation is built the way an arm holds a hand: the forearm comes from the elbow, which lies
"behind" the hand (away from the camera, or to the side) in most samples; the forearm can roll
freely about its axis (pronation/supination plus shoulder rotation: palm, back or side of the
hand towards the camera); the wrist then flexes and deviates within its limits. Fingers
pointing at the camera happen when the forearm points straight away from it.
"""

from dataclasses import dataclass
from typing import Tuple

import numpy as np

from crossinfonet_ros.camera import Intrinsics
from crossinfonet_ros.layouts import get_layout
from training.synth.kinematics import rot_x, wrist_rotation

HANDS2017 = get_layout('hands2017')
# Forearm frame when the elbow lies straight behind the hand on the optical axis: x (elbow to
# wrist) points at the camera, y (radial) along camera x, z (dorsal) up in the image.
_CANONICAL_FOREARM = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]])


@dataclass(frozen=True)
class PlacementConfig:
    """Distribution of the hand's pose in the camera frame."""

    depth_range_mm: Tuple[float, float] = (200.0, 900.0)  # palm-centre depth, uniform
    image_margin: float = 0.1  # share of the image width/height kept free around the centre
    max_elbow_angle_deg: float = 100.0  # max angle of wrist->elbow from the optical axis
    elbow_spread_deg: float = 70.0  # spread of the elbow's image direction around 'down'
    wrist_flex_sigma_deg: float = 25.0  # wrist flexion spread (normal, clipped to the limits)
    wrist_flex_limits_deg: Tuple[float, float] = (-70.0, 75.0)  # extension .. flexion
    wrist_dev_sigma_deg: float = 10.0  # wrist deviation spread (normal, clipped to the limits)
    wrist_dev_limits_deg: Tuple[float, float] = (-30.0, 20.0)  # ulnar .. radial deviation
    min_joint_depth_mm: float = 150.0  # hands nearer than this are pushed back along the ray


@dataclass(frozen=True)
class Placement:
    """One hand placement in the camera frame."""

    elbow_direction: np.ndarray  # (3,) unit vector from the wrist towards the elbow
    roll_deg: float  # forearm roll about its own axis, degrees
    wrist_flex_deg: float  # wrist flexion (negative: extension), degrees
    wrist_dev_deg: float  # radial (positive) / ulnar deviation, degrees
    center_mm: np.ndarray  # (3,) palm centre (mean of wrist and finger roots), mm


def palm_center(joints: np.ndarray) -> np.ndarray:
    """Palm centre of HANDS2017-order joints (..., 21, 3): the layout's shared definition.

    :param joints: (..., 21, 3) joints in HANDS2017 order
    """
    return HANDS2017.palm_center(joints)


def forearm_frame(elbow_direction: np.ndarray, roll_deg: float) -> np.ndarray:
    """Forearm frame (3, 3 columns x, y, z) in the camera frame.

    The canonical frame (elbow on the optical axis behind the hand) is turned by the smallest
    rotation that brings the optical axis onto ``elbow_direction`` (smooth everywhere except
    an elbow pointing straight at the camera), then rolled about the forearm axis.

    :param elbow_direction: (3,) unit vector wrist -> elbow, camera frame
    :param roll_deg: roll about the forearm axis, degrees
    """
    e = np.asarray(elbow_direction, dtype=np.float64)
    e = e / np.linalg.norm(e)
    axis = np.array([-e[1], e[0], 0.0])  # z x e
    sine, cosine = np.linalg.norm(axis), e[2]
    if sine < 1e-9:
        align = np.eye(3) if cosine > 0 else np.diag([1.0, -1.0, -1.0])
    else:
        k = axis / sine
        cross = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        align = np.eye(3) + sine * cross + (1.0 - cosine) * cross @ cross
    return align @ _CANONICAL_FOREARM @ rot_x(np.array(np.radians(roll_deg)))


def hand_rotation(placement: Placement) -> np.ndarray:
    """Hand-to-camera rotation (3, 3) of a placement.

    :param placement: the placement
    """
    return (forearm_frame(placement.elbow_direction, placement.roll_deg)
            @ wrist_rotation(placement.wrist_flex_deg, placement.wrist_dev_deg))


def _elbow_direction(rng: np.random.Generator, config: PlacementConfig) -> np.ndarray:
    # Uniform over the spherical cap around +z (away from the camera), azimuth around the
    # image's 'down' direction: arms mostly enter from below or the sides.
    cos_max = np.cos(np.radians(config.max_elbow_angle_deg))
    cos_theta = rng.uniform(cos_max, 1.0)
    sin_theta = np.sqrt(max(0.0, 1.0 - cos_theta * cos_theta))
    azimuth = np.radians(rng.normal(0.0, config.elbow_spread_deg))
    return np.array([sin_theta * np.sin(azimuth), sin_theta * np.cos(azimuth), cos_theta])


def sample_placement(rng: np.random.Generator, config: PlacementConfig,
                     intrinsics: Intrinsics) -> Placement:
    """Draw a placement whose palm centre projects inside the image (with a margin).

    :param rng: random generator
    :param config: the distribution
    :param intrinsics: the full-frame camera
    """
    depth = rng.uniform(*config.depth_range_mm)
    margin = config.image_margin
    u = rng.uniform(margin, 1.0 - margin) * intrinsics.width
    v = rng.uniform(margin, 1.0 - margin) * intrinsics.height
    center = intrinsics.backproject(np.array([u, v, depth]))
    flex = np.clip(rng.normal(0.0, config.wrist_flex_sigma_deg), *config.wrist_flex_limits_deg)
    dev = np.clip(rng.normal(0.0, config.wrist_dev_sigma_deg), *config.wrist_dev_limits_deg)
    return Placement(_elbow_direction(rng, config), float(rng.uniform(-180.0, 180.0)),
                     float(flex), float(dev), center)


def keep_in_front(placement: Placement, joints_cam: np.ndarray, min_depth_mm: float
                  ) -> Placement:
    """Move the placement back along its centre's ray until every joint is at min depth.

    Scaling the centre by f moves every joint by (f - 1) times the centre (the rotation is
    unchanged), so one step is exact.

    :param placement: the placement
    :param joints_cam: (21, 3) joints it produces, camera frame, mm
    :param min_depth_mm: nearest allowed joint depth
    """
    nearest = float(joints_cam[:, 2].min())
    if nearest >= min_depth_mm:
        return placement
    center = placement.center_mm
    center = center * (1.0 + (min_depth_mm - nearest) / center[2])
    return Placement(placement.elbow_direction, placement.roll_deg, placement.wrist_flex_deg,
                     placement.wrist_dev_deg, center)
