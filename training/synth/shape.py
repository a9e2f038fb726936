"""The hand's volume as analytic primitives, built around the kinematic joints.

Fingers are tapered round cones between consecutive joints (radius shrinking to the tip, a
rounded fingertip); the palm is a rounded slab: one round cone along each metacarpal, a bar
across the knuckles, a flattened ellipsoid filling the palm and one for the hypothenar; the
thumb's metacarpal sits in a thenar-eminence ellipsoid; a wrist bar and a tapered forearm of
two side-by-side cones (elliptic cross-section) extend from the wrist away from the fingers.
Every joint lies inside the volume, a few mm under its surface. Optional webbing
(:func:`webbing`) fills the skin folds between the fingers' roots and the thumb-index web.
"""

from typing import Tuple

import numpy as np

from training.synth.raster import Primitives, ellipsoids
from training.synth.skeleton import CHAINS, HandShape

TAG_HAND = 1  # primitives of the hand (palm, fingers, thumb)
TAG_FOREARM = 2  # primitives of the forearm


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2],
                     a[0] * b[1] - a[1] * b[0]])


def _frame(axis: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Right-handed orthonormal frame (3, 3 columns) with x along ``axis``, z near ``up``."""
    x = axis / np.linalg.norm(axis)
    z = up - np.dot(up, x) * x
    z /= np.linalg.norm(z)
    return np.stack([x, _cross(z, x), z], axis=1)


def _cone_rows(starts, start_radii, ends, end_radii) -> np.ndarray:
    """Round-cone rows (N, 8) as :class:`Primitives` stores them."""
    starts = np.asarray(starts, dtype=np.float64).reshape(-1, 3)
    rows = np.empty((len(starts), 8))
    rows[:, 0:3] = starts
    rows[:, 3] = start_radii
    rows[:, 4:7] = np.asarray(ends, dtype=np.float64).reshape(-1, 3)
    rows[:, 7] = end_radii
    return rows


def finger_cones(joints: np.ndarray, shape: HandShape) -> np.ndarray:
    """Round cones (15, 8) for the 15 finger segments (thumb metacarpal included).

    :param joints: (21, 3) joints, hand frame, mm
    :param shape: the individual hand (radii)
    """
    chain = joints[CHAINS]  # (5, 4, 3)
    return _cone_rows(chain[:, :3], shape.radii[:, :3].ravel(), chain[:, 1:],
                      shape.radii[:, 1:].ravel())


def palm_shapes(joints: np.ndarray, shape: HandShape) -> Tuple[np.ndarray, np.ndarray,
                                                                np.ndarray]:
    """The palm slab, knuckle bar, wrist bar, and palm / hypothenar / thenar ellipsoids.

    :param joints: (21, 3) joints, hand frame, mm (the wrist at the origin)
    :param shape: the individual hand
    :returns: round cones (8, 8), ellipsoid centres (3, 3), ellipsoid axes (3, 3, 3)
    """
    half = shape.palm_half_thickness
    mcps = joints[CHAINS[1:, 0]]  # index..pinky MCPs
    # Metacarpals: from the carpus (near the wrist, converging) to each MCP.
    bases = mcps * np.array([0.22, 0.55, 0.3])
    bases[:, 2] -= 0.15 * half
    knuckle = np.maximum(shape.radii[1:, 0] * 1.08, 0.85 * half)
    # Wrist bar: the heel of the hand and the carpus.
    wrist_half_width = 0.3 * (mcps[0, 1] - mcps[3, 1])
    wrist = np.array([[6.0, wrist_half_width, -0.2 * half], [6.0, -wrist_half_width, -0.2 * half]])
    cones = np.concatenate([
        _cone_rows(bases, half, mcps, knuckle),
        _cone_rows(mcps[:-1], knuckle[:-1], mcps[1:], knuckle[1:]),
        _cone_rows(wrist[0], half, wrist[1], half)])
    # Palm body: fills the grooves between the metacarpal cones on both faces.
    length = mcps[1, 0]
    palm_width = mcps[0, 1] - mcps[3, 1]
    identity = np.eye(3)
    palm_center = np.array([0.52 * length, 0.5 * (mcps[0, 1] + mcps[3, 1]), -0.2 * half])
    palm_axes = identity * np.array([0.42 * length, 0.55 * palm_width, 0.95 * half])
    # Hypothenar: along the ulnar border, from the wrist towards the pinky MCP.
    pinky = mcps[3]
    hypo_frame = _frame(pinky - np.array([0.1 * length, pinky[1] * 0.6, 0.0]), identity[2])
    hypo_center = np.array([0.42 * length, 0.85 * pinky[1], -0.3 * half])
    hypo_axes = hypo_frame * np.array([0.36 * length, 0.9 * half, 0.85 * half])
    # Thenar: along the thumb metacarpal, bulging volar and towards the palm centre.
    thumb_root, thumb_mcp = joints[CHAINS[0, 0]], joints[CHAINS[0, 1]]
    metacarpal = thumb_mcp - thumb_root
    thenar_frame = _frame(metacarpal, identity[2])
    to_palm = palm_center - thumb_root
    to_palm -= np.dot(to_palm, thenar_frame[:, 0]) * thenar_frame[:, 0]
    to_palm /= max(np.linalg.norm(to_palm), 1e-9)
    thenar_center = thumb_root + 0.4 * metacarpal + 0.45 * half * to_palm
    thenar_axes = thenar_frame * np.array([0.62 * np.linalg.norm(metacarpal), 1.3 * half, half])
    return (cones, np.stack([palm_center, hypo_center, thenar_center]),
            np.stack([palm_axes, hypo_axes, thenar_axes]))


def forearm_cones(shape: HandShape, wrist_rotation: np.ndarray) -> np.ndarray:
    """Tapered forearm (2, 8) from the wrist away from the hand, in the hand frame.

    :param shape: the individual hand (forearm size)
    :param wrist_rotation: (3, 3) hand frame relative to the forearm frame
        (:func:`training.synth.kinematics.wrist_rotation`)
    """
    forearm_axes = np.asarray(wrist_rotation).T  # forearm x, y, z in hand coordinates
    toward_elbow = -forearm_axes[:, 0]
    radial = forearm_axes[:, 1]
    r0, r1 = shape.forearm_radii
    s0, s1 = shape.forearm_half_spread
    ends = toward_elbow * shape.forearm_length
    return _cone_rows([radial * s0, -radial * s0], r0, [ends + radial * s1, ends - radial * s1],
                      r1)


def hand_primitives(joints: np.ndarray, shape: HandShape, wrist_rotation: np.ndarray
                    ) -> Primitives:
    """All primitives of hand and forearm in the hand frame.

    :param joints: (21, 3) joints, hand frame, mm
    :param shape: the individual hand
    :param wrist_rotation: (3, 3) hand frame relative to the forearm frame
    """
    palm_cones, centers, axes = palm_shapes(joints, shape)
    cones = np.concatenate([finger_cones(joints, shape), palm_cones,
                            forearm_cones(shape, wrist_rotation)])
    tags = np.full(len(cones), TAG_HAND, np.uint8)
    tags[-2:] = TAG_FOREARM
    return Primitives(cones=cones, cone_tags=tags, ellipsoid_centers=centers,
                      ellipsoid_axes=axes, ellipsoid_tags=np.full(len(centers), TAG_HAND,
                                                                  np.uint8))


def webbing(joints: np.ndarray, shape: HandShape) -> Primitives:
    """Flat ellipsoids for the webs between neighbouring fingers and between thumb and index,
    hand frame: where spread fingers leave a V between separate cones, skin joins them up to
    about a third of the proximal phalanx (hidden inside the fingers when they are together).

    :param joints: (21, 3) joints, hand frame, mm
    :param shape: the individual hand
    """
    chain = joints[CHAINS]
    centers, axes = [], []
    for finger in (1, 2, 3):
        roots = chain[finger:finger + 2, 0]
        along = chain[finger:finger + 2, 1] - roots
        reach = 0.3 * np.linalg.norm(along, axis=1).mean()
        direction = along.sum(axis=0) / np.linalg.norm(along.sum(axis=0))
        ends = roots + 0.15 * along
        across = ends[1] - ends[0]
        frame = _frame(direction, _cross(direction, across))
        centers.append(ends.mean(axis=0))
        axes.append(frame * np.array([reach, 0.5 * np.linalg.norm(across),
                                      0.55 * shape.radii[finger, 0]]))
    # The first web: from the thumb's MCP (joint 6) to the index root, on the palm's level.
    thumb_mcp, index_root = chain[0, 1], chain[1, 0]
    span = index_root - thumb_mcp
    frame = _frame(span, np.array([0.0, 0.0, 1.0]))
    centers.append(thumb_mcp + 0.5 * span - 0.2 * np.linalg.norm(span) * frame[:, 1])
    axes.append(frame * np.array([0.5 * np.linalg.norm(span), 0.25 * np.linalg.norm(span),
                                  0.5 * shape.palm_half_thickness]))
    return ellipsoids(np.stack(centers), np.stack(axes), TAG_HAND)
