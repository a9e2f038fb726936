"""Something worn at the wrist: a watch (band and case) or a sleeve ending near the wrist.

Both are built in the hand frame around the forearm's two side-by-side cones (see
:func:`training.synth.shape.forearm_cones`), so they follow the forearm's direction for any
wrist flexion and deviation. Band and cuff are flat ellipsoids around the forearm's stadium
cross-section: a round cone's end sphere would bulge far past the edge of a band.
"""

from dataclasses import dataclass
from typing import Tuple

import numpy as np

from training.synth.raster import Primitives, boxes, ellipsoids, round_cones
from training.synth.skeleton import HandShape

TAG_WEAR = 7  # a watch or sleeve


@dataclass(frozen=True)
class WearConfig:
    """What is worn (only read when ``SynthConfig.wrist_wear_prob`` > 0); sizes in mm."""

    watch_share: float = 0.4  # share of watches (the rest are sleeves)
    watch_distance_mm: Tuple[float, float] = (15.0, 40.0)  # wrist joint to the band's middle
    sleeve_distance_mm: Tuple[float, float] = (20.0, 90.0)  # wrist joint to the cuff
    sleeve_slack_mm: Tuple[float, float] = (3.0, 15.0)  # cloth around the forearm at the cuff


def _forearm_section(shape: HandShape, distance: float) -> Tuple[float, float]:
    """Cone radius and axis offset of the forearm at ``distance`` mm from the wrist."""
    share = distance / shape.forearm_length
    r0, r1 = shape.forearm_radii
    s0, s1 = shape.forearm_half_spread
    return r0 + share * (r1 - r0), s0 + share * (s1 - s0)


def _ring(frame: np.ndarray, center: np.ndarray, section: Tuple[float, float],
          slack: float, half_width: float) -> Primitives:
    """A flat ellipsoid around the forearm's stadium section, ``slack`` mm off its surface."""
    radius, spread = section
    # Semi-axes around the stadium (two circles of ``radius`` at +-``spread``): 1.2x radius
    # dorsally keeps its rounded corners inside.
    semi = np.array([half_width, spread + radius + slack, 1.2 * radius + slack])
    return ellipsoids(center[None], (frame * semi)[None], TAG_WEAR)


def sample_wear(rng: np.random.Generator, shape: HandShape, wrist_rotation: np.ndarray,
                config: WearConfig = WearConfig()) -> Primitives:
    """A watch or a sleeve at the wrist, hand frame.

    :param rng: the wear's own random stream
    :param shape: the hand (forearm size, scale)
    :param wrist_rotation: (3, 3) hand frame relative to the forearm frame
    :param config: kinds and sizes
    """
    axes = np.asarray(wrist_rotation).T  # forearm x (towards the wrist), y radial, z dorsal
    frame = np.stack([-axes[:, 0], axes[:, 1], axes[:, 2]], axis=1)  # x towards the elbow
    if rng.random() < config.watch_share:
        distance = rng.uniform(*config.watch_distance_mm) * shape.scale
        section = _forearm_section(shape, distance)
        center = frame[:, 0] * distance
        slack = rng.uniform(1.5, 4.0)
        band = _ring(frame, center, section, slack, rng.uniform(9.0, 12.0))
        case = np.array([rng.uniform(17.0, 23.0), rng.uniform(15.0, 21.0),
                         rng.uniform(4.0, 7.0)])
        lift = section[0] + slack + case[2] - 2.0
        return Primitives.concatenate([band, boxes((center + frame[:, 2] * lift)[None],
                                                   (frame * case)[None], TAG_WEAR)])
    distance = rng.uniform(*config.sleeve_distance_mm) * shape.scale
    slack = rng.uniform(*config.sleeve_slack_mm)
    radius, spread = _forearm_section(shape, distance)
    cuff = _ring(frame, frame[:, 0] * distance, (radius, spread), slack,
                 0.4 * (radius + slack))
    # The cones start one radius behind the cuff, so their end spheres stay inside it.
    start = distance + radius + slack
    far_radius, far_spread = _forearm_section(shape, shape.forearm_length)
    starts = frame[:, 0] * start + np.outer([1.0, -1.0], frame[:, 1] * spread)
    ends = (frame[:, 0] * shape.forearm_length
            + np.outer([1.0, -1.0], frame[:, 1] * far_spread))
    grow = slack + rng.uniform(0.0, 10.0)  # loose cloth widens towards the elbow
    return Primitives.concatenate([cuff, round_cones(starts, [radius + slack] * 2, ends,
                                                     [far_radius + grow] * 2, TAG_WEAR)])
