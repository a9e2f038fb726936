"""Viewpoints: where the camera sits relative to the user's hand and arm.

* ``third_person``: a camera facing the user (the original renderer): the elbow lies behind
  the hand or to its side (:func:`~training.synth.placement.sample_placement`).
* ``egocentric``: a camera on the head or chest: the forearm comes from the camera's side and
  the bottom of the image, the elbow nearer the camera than the hand, the back of the hand
  mostly towards the camera, the palm 200-600 mm away in the lower part of the image. A head
  camera pitched down sees the forearm steeply (up to 75 degrees off the optical axis), a chest
  camera less so (from 20 degrees): the range covers both. No torso (the camera is on it); the
  upper arm runs to a shoulder beside and above the camera.
* ``overhead``: a camera above a table looking down (a robot's): the table plane lies behind
  the hand (300-900 mm), the hand above it palm down or side on (grasping), the forearm nearly
  parallel to the table and entering from any image edge.

A mixture (``SynthConfig.viewpoint_mix``) draws each frame's viewpoint from its own random
stream, so every frame that draws ``third_person`` is the frame a pure third-person config
renders.
"""

from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from crossinfonet_ros.camera import Intrinsics
from training.synth.placement import (Placement, PlacementConfig, forearm_frame,
                                      sample_placement)
from training.synth.skeleton import FOREARM_LENGTH_MM

VIEWPOINTS = ('third_person', 'egocentric', 'overhead')
RADIAL, DORSAL = 1, 2  # forearm-frame axes (x elbow to wrist, y radial, z dorsal)


@dataclass(frozen=True)
class ViewPlacement:
    """Distribution of the hand's placement seen from a viewpoint other than third person."""

    depth_range_mm: Tuple[float, float]  # palm-centre depth, uniform
    u_range: Tuple[float, float]  # palm-centre column, shares of the image width, uniform
    v_range: Tuple[float, float]  # palm-centre row, shares of the image height, uniform
    elbow_polar_deg: Tuple[float, float]  # angle of wrist->elbow from +z (>90: towards camera)
    elbow_azimuth_deg: float  # mean image direction of the elbow (0: down, 90: right)
    elbow_azimuth_sigma_deg: Optional[float]  # its normal spread; None: uniform all round
    dorsal_share: float  # share facing the camera with the back of the hand, else the radial side
    roll_sigma_deg: float  # spread of the roll around the facing one
    min_elbow_depth_mm: float  # steeper forearms are turned so the elbow stays this far away


VIEW_PLACEMENTS: Dict[str, ViewPlacement] = {
    'egocentric': ViewPlacement((200.0, 600.0), (0.2, 0.9), (0.45, 0.92), (105.0, 160.0),
                                20.0, 30.0, 1.0, 30.0, 60.0),
    'overhead': ViewPlacement((240.0, 680.0), (0.15, 0.85), (0.15, 0.85), (65.0, 105.0),
                              0.0, None, 0.65, 20.0, 0.0),
}
# ClutterConfig fields each viewpoint changes (third person: none).
VIEW_CLUTTER: Dict[str, dict] = {
    'third_person': {},
    'egocentric': {'body_prob': 0.0, 'shoulder_frame': 'camera',
                   'shoulder_ranges': ((0.2, 0.9), (-0.6, 0.2), -1.0)},
    'overhead': {'body_prob': 0.0, 'table_prob': 1.0, 'table_pitch_deg': (65.0, 90.0),
                 'table_gap_mm': (5.0, 120.0), 'shoulder_frame': 'forearm',
                 'shoulder_ranges': ((-0.4, 0.4), (0.2, 0.9), 1.0)},
}


def check_viewpoints(viewpoint: str, mix: Sequence[Tuple[str, float]]) -> None:
    """Raise ValueError naming the problem when a viewpoint or mixture is not usable.

    :param viewpoint: the single viewpoint (used when ``mix`` is empty)
    :param mix: (name, share) pairs, shares >= 0 with a positive sum, or empty
    """
    for name in [viewpoint] + [name for name, _ in mix]:
        if name not in VIEWPOINTS:
            raise ValueError(f'unknown viewpoint {name!r}; valid: {", ".join(VIEWPOINTS)}')
    shares = [share for _, share in mix]
    if mix and (min(shares) < 0 or not sum(shares) > 0):
        raise ValueError(f'viewpoint shares must be >= 0 with a positive sum, got {shares}')


def parse_viewpoint_mix(text: str) -> Tuple[Tuple[str, float], ...]:
    """``'third_person=0.5,egocentric=0.3'`` -> ``(('third_person', 0.5), ('egocentric', 0.3))``.

    :param text: comma-separated ``name=share`` pairs
    :raises ValueError: a malformed pair, an unknown name or unusable shares
    """
    pairs = []
    for item in text.split(','):
        name, equals, share = item.strip().partition('=')
        try:
            pairs.append((name.strip(), float(share)))
        except ValueError:
            raise ValueError(f'viewpoint mix entries are name=share, got {item!r}') from None
        if not equals:
            raise ValueError(f'viewpoint mix entries are name=share, got {item!r}')
    mix = tuple(pairs)
    check_viewpoints(VIEWPOINTS[0], mix)
    return mix


def draw_viewpoint(rng_seed: np.random.SeedSequence, viewpoint: str,
                   mix: Sequence[Tuple[str, float]]) -> str:
    """The viewpoint of one frame: ``viewpoint`` when ``mix`` is empty, else a draw.

    :param rng_seed: the frame's viewpoint stream (used only for a mixture)
    :param viewpoint: the single viewpoint
    :param mix: (name, share) pairs
    """
    check_viewpoints(viewpoint, mix)
    if not mix:
        return viewpoint
    shares = np.array([share for _, share in mix], dtype=np.float64)
    index = np.random.default_rng(rng_seed).choice(len(mix), p=shares / shares.sum())
    return mix[int(index)][0]


def facing_roll(elbow_direction: np.ndarray, toward: np.ndarray, axis: int) -> float:
    """Forearm roll (degrees) that turns forearm axis ``axis`` (1 radial, 2 dorsal) as far
    towards ``toward`` as the forearm direction allows.

    The rolled axis is cos(roll) times its roll-0 direction plus sin(roll) times its 90-degree
    direction, so its projection on ``toward`` peaks at the angle of those two projections.

    :param elbow_direction: (3,) unit vector wrist -> elbow, camera frame
    :param toward: (3,) direction to face, camera frame
    :param axis: forearm-frame column
    """
    at_0 = forearm_frame(elbow_direction, 0.0)[:, axis] @ toward
    at_90 = forearm_frame(elbow_direction, 90.0)[:, axis] @ toward
    return float(np.degrees(np.arctan2(at_90, at_0)))


def _elbow_direction(rng: np.random.Generator, view: ViewPlacement,
                     center_z_mm: float) -> np.ndarray:
    polar = np.radians(rng.uniform(*view.elbow_polar_deg))
    # A forearm of FOREARM_LENGTH_MM from (about) the palm centre: keep the elbow in front.
    cos_limit = (view.min_elbow_depth_mm - center_z_mm) / FOREARM_LENGTH_MM
    if view.min_elbow_depth_mm > 0 and np.cos(polar) < cos_limit:
        polar = np.arccos(min(1.0, cos_limit))
    if view.elbow_azimuth_sigma_deg is None:
        azimuth = rng.uniform(-np.pi, np.pi)
    else:
        azimuth = np.radians(rng.normal(view.elbow_azimuth_deg, view.elbow_azimuth_sigma_deg))
    return np.array([np.sin(polar) * np.sin(azimuth), np.sin(polar) * np.cos(azimuth),
                     np.cos(polar)])


def sample_view_placement(rng: np.random.Generator, viewpoint: str, config: PlacementConfig,
                          intrinsics: Intrinsics) -> Placement:
    """Draw a placement as seen from ``viewpoint``.

    ``third_person`` is :func:`~training.synth.placement.sample_placement` itself (same draws);
    the others take the wrist angles' spread from ``config`` and the rest from
    :data:`VIEW_PLACEMENTS`.

    :param rng: random generator of the hand
    :param viewpoint: one of :data:`VIEWPOINTS`
    :param config: the third-person distribution (and the wrist limits of every viewpoint)
    :param intrinsics: the full-frame camera
    """
    if viewpoint == 'third_person':
        return sample_placement(rng, config, intrinsics)
    view = VIEW_PLACEMENTS[viewpoint]
    depth = rng.uniform(*view.depth_range_mm)
    u = rng.uniform(*view.u_range) * intrinsics.width
    v = rng.uniform(*view.v_range) * intrinsics.height
    center = intrinsics.backproject(np.array([u, v, depth]))
    elbow = _elbow_direction(rng, view, depth)
    axis = DORSAL if rng.random() < view.dorsal_share else RADIAL
    roll = facing_roll(elbow, -center / np.linalg.norm(center), axis)
    roll += rng.normal(0.0, view.roll_sigma_deg)
    flex = np.clip(rng.normal(0.0, config.wrist_flex_sigma_deg), *config.wrist_flex_limits_deg)
    dev = np.clip(rng.normal(0.0, config.wrist_dev_sigma_deg), *config.wrist_dev_limits_deg)
    return Placement(elbow, float((roll + 180.0) % 360.0 - 180.0), float(flex), float(dev),
                     center)
