"""Anthropometry of the synthetic right hand: joint order, bone lengths, widths, shape sampling.

Hand frame (right hand): origin at the wrist joint, x distal (wrist towards the middle-finger
MCP), y radial (towards the thumb), z dorsal (out of the back of the hand); the palm faces -z.

Joint order is HANDS2017 / BigHand (spec 5.2): 0 wrist, 1-5 the roots of thumb, index, middle,
ring, pinky, then PIP, DIP, TIP of the thumb (6-8), index (9-11), middle (12-14), ring (15-17),
pinky (18-20). As in BigHand, the thumb's "MCP" (joint 1) is its carpometacarpal (CMC) root, its
"PIP" (6) the anatomical MCP and its "DIP" (7) the interphalangeal joint.
"""

from dataclasses import dataclass
from typing import Tuple

import numpy as np

NUM_JOINTS = 21
FINGERS = ('thumb', 'index', 'middle', 'ring', 'pinky')
WRIST = 0
# Per finger (thumb first): the root joint then the three joints outwards (spec 5.2).
CHAINS = np.array([(1 + f, 6 + 3 * f, 7 + 3 * f, 8 + 3 * f) for f in range(5)])

# Reference adult right hand, mm. Bone lengths are the mean metacarpal / phalanx lengths of
# Buryanov & Kotiuk, "Proportions of hand segments", Int. J. Morphol. 28(3):755-758, 2010
# (rounded): joint-to-joint distances of the skeleton equal bone lengths to within a few mm.
# The fingertip joint sits at the end of the distal phalanx; the tip sphere adds the pad.
# Rows thumb..pinky; columns root->PIP, PIP->DIP, DIP->TIP (thumb: metacarpal, proximal,
# distal phalanx).
SEGMENT_LENGTHS_MM = np.array([
    [46.2, 31.6, 21.7],
    [39.8, 22.4, 15.8],
    [44.6, 26.3, 17.4],
    [41.4, 25.7, 17.3],
    [32.7, 18.1, 16.0],
])
# Roots in the hand frame. Wrist-to-middle-MCP is the middle metacarpal (64.6 mm, same source)
# plus the carpal row (~28 mm): a palm length of ~93 mm between joint centres (~100 mm from
# wrist crease to MCP crease, the usual palm-length figure). MCP spacing ~17-19 mm gives a palm
# breadth of ~80-85 mm with soft tissue; ring and pinky MCPs sit proximal of the middle one.
# The thumb root (trapeziometacarpal joint) is distal-radial of the wrist and volar of the palm.
ROOTS_MM = np.array([
    [24.0, 20.0, -13.0],
    [90.0, 23.0, 0.0],
    [93.0, 4.0, 0.0],
    [88.0, -14.0, -1.0],
    [79.0, -30.0, -3.0],
])
# Radius of the finger volume at root, PIP, DIP and TIP (mm): finger breadth at the PIP joint
# ~18-21 mm and at the DIP joint ~16-18 mm (U.S. Army hand anthropometry, Greiner 1991,
# Natick TR-92/011, men and women pooled, rounded); the thumb is wider, its root radius is the
# metacarpal inside the thenar eminence.
RADII_MM = np.array([
    [14.0, 11.0, 10.0, 8.5],
    [10.0, 9.3, 8.0, 7.0],
    [10.2, 9.5, 8.2, 7.1],
    [9.6, 9.0, 7.8, 6.8],
    [8.8, 8.2, 7.2, 6.3],
])
# Rest direction of each finger in the palm plane, degrees towards the thumb (fingers fan out);
# the thumb's entry is unused (it has its own rest frame, see kinematics).
FINGER_SPLAY_DEG = np.array([0.0, 6.0, 0.0, -6.0, -14.0])
PALM_HALF_THICKNESS_MM = 13.0  # palm ~26 mm thick between the metacarpals (heel and thenar more)
# Forearm as two side-by-side round cones (elliptic cross-section): wrist breadth ~60 mm and
# thickness ~38 mm growing to ~82 x 54 mm at 250 mm (upper-forearm girth ~25-27 cm).
FOREARM_RADII_MM = (19.0, 27.0)  # each cone's radius at the wrist and at the far end
FOREARM_HALF_SPREAD_MM = (11.0, 14.0)  # radial offset of each cone's axis at wrist / far end
FOREARM_LENGTH_MM = 250.0  # rendered forearm length (spec: 150+ mm; reaches out of any cube)


@dataclass(frozen=True)
class ShapeConfig:
    """Per-sample variation of the hand's size and proportions."""

    scale_range: Tuple[float, float] = (0.85, 1.15)  # global size factor, uniform
    bone_sigma: float = 0.04  # per-bone relative length noise (std), clipped at bone_clip
    bone_clip: float = 0.10  # max relative deviation of one bone from the scaled reference
    width_range: Tuple[float, float] = (0.9, 1.12)  # radius factor on top of the scale
    palm_width_sigma: float = 0.04  # relative noise of the MCP spread across the palm
    # Share of hands with webbing between the fingers (shape.webbing), drawn from the scene's
    # attachment stream: 0 (the default) leaves every earlier sample as it was.
    webbing_prob: float = 0.0


@dataclass(frozen=True)
class HandShape:
    """One individual hand, all lengths in mm."""

    scale: float  # global size factor applied to the reference hand
    roots: np.ndarray  # (5, 3) root joints (thumb CMC, finger MCPs) in the hand frame
    lengths: np.ndarray  # (5, 3) segment lengths, rows thumb..pinky
    radii: np.ndarray  # (5, 4) volume radius at root, PIP, DIP, TIP
    palm_half_thickness: float  # half the palm's thickness
    forearm_radii: Tuple[float, float]  # forearm cone radius at the wrist / far end
    forearm_half_spread: Tuple[float, float]  # forearm cone axis offset at the wrist / far end
    forearm_length: float  # rendered forearm length


def reference_shape() -> HandShape:
    """The reference hand (scale 1, no variation)."""
    return HandShape(1.0, ROOTS_MM.copy(), SEGMENT_LENGTHS_MM.copy(), RADII_MM.copy(),
                     PALM_HALF_THICKNESS_MM, FOREARM_RADII_MM, FOREARM_HALF_SPREAD_MM,
                     FOREARM_LENGTH_MM)


def sample_shape(rng: np.random.Generator, config: ShapeConfig = ShapeConfig()) -> HandShape:
    """Draw one hand: a global scale, small per-bone length noise and a width factor.

    :param rng: random generator
    :param config: variation ranges
    """
    scale = rng.uniform(*config.scale_range)
    noise = np.clip(rng.normal(0.0, config.bone_sigma, SEGMENT_LENGTHS_MM.shape),
                    -config.bone_clip, config.bone_clip)
    lengths = SEGMENT_LENGTHS_MM * scale * (1.0 + noise)
    spread = 1.0 + np.clip(rng.normal(0.0, config.palm_width_sigma), -0.1, 0.1)
    root_noise = np.clip(rng.normal(0.0, config.bone_sigma, 5), -config.bone_clip,
                         config.bone_clip)
    roots = ROOTS_MM * scale
    roots[:, 0] *= 1.0 + root_noise
    roots[:, 1] *= spread
    width = rng.uniform(*config.width_range)
    radii = RADII_MM * scale * width
    forearm_width = scale * rng.uniform(0.9, 1.1)
    return HandShape(
        scale, roots, lengths, radii, PALM_HALF_THICKNESS_MM * scale * width,
        (FOREARM_RADII_MM[0] * forearm_width, FOREARM_RADII_MM[1] * forearm_width),
        (FOREARM_HALF_SPREAD_MM[0] * forearm_width, FOREARM_HALF_SPREAD_MM[1] * forearm_width),
        FOREARM_LENGTH_MM)


def bone_length_bounds(config: ShapeConfig = ShapeConfig()) -> Tuple[np.ndarray, np.ndarray]:
    """Lowest and highest length (mm) each finger segment can be drawn with, (5, 3) each.

    :param config: the variation ranges used by :func:`sample_shape`
    """
    low = SEGMENT_LENGTHS_MM * config.scale_range[0] * (1.0 - config.bone_clip)
    high = SEGMENT_LENGTHS_MM * config.scale_range[1] * (1.0 + config.bone_clip)
    return low, high


def segment_lengths(joints: np.ndarray) -> np.ndarray:
    """Measured finger segment lengths (..., 5, 3) of joints (..., 21, 3) in this order.

    :param joints: joints in HANDS2017 order
    """
    chain = joints[..., CHAINS, :]
    return np.linalg.norm(np.diff(chain, axis=-2), axis=-1)
