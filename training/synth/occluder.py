"""An object passing in front of the hand: a pole, a pen, a forearm, a card or a ball between
the camera and the hand, on the ray to a random point of the hand, clear of the hand.

Sizes are drawn as seen at the hand's depth and shrunk with perspective when the object is
nearer the camera, so it hides part of the hand (up to about half), not the whole image.
"""

import numpy as np

from training.synth.raster import Primitives, boxes, ellipsoids, round_cones

TAG_OCCLUDER = 8  # an object between the camera and the hand
NEAREST_MM = 100.0  # the occluder stays this far from the camera plane
HAND_CLEARANCE_MM = 25.0  # joints sit up to ~20 mm under the hand's front surface


def _shape(rng: np.random.Generator, kind: int, across: np.ndarray):
    """Unscaled (at the hand's depth) shape: (half axis, radius, box half-edge axes)."""
    if kind == 0:  # a pole, pen or arm, roughly across the view
        return rng.uniform(60.0, 250.0) * across, rng.uniform(4.0, 25.0), None
    if kind == 1:  # a card, book or board edge-on to the view
        half_edges = np.array([rng.uniform(30.0, 100.0), rng.uniform(12.0, 40.0),
                               rng.uniform(2.0, 10.0)])
        side = np.cross(across, [0.0, 0.0, 1.0])
        side /= max(np.linalg.norm(side), 1e-9)
        return None, 0.0, np.stack([across, side, np.cross(across, side)], axis=1) * half_edges
    return None, rng.uniform(12.0, 40.0), None  # a ball


def sample_occluder(rng: np.random.Generator, joints_mm: np.ndarray) -> Primitives:
    """Draw an occluder in the camera frame (empty when the hand is too near the camera).

    :param rng: the occluder's own random stream
    :param joints_mm: (21, 3) hand joints, camera frame, mm
    """
    target = joints_mm[rng.integers(len(joints_mm))] + rng.normal(0.0, 15.0, 3)
    front = float(joints_mm[:, 2].min()) - HAND_CLEARANCE_MM
    kind = int(rng.integers(3))
    angle = rng.uniform(0.0, 2.0 * np.pi)
    across = np.array([np.cos(angle), np.sin(angle), rng.uniform(-0.3, 0.3)])
    across /= np.linalg.norm(across)
    half, radius, axes = _shape(rng, kind, across)
    extent = (abs(half[2]) + radius if half is not None
              else float(np.abs(axes[2]).sum()) if axes is not None else radius)
    # Unscaled extents bound the scaled ones (the scale is at most 1).
    depth = max(front - extent - rng.uniform(0.0, 150.0), NEAREST_MM + extent)
    if depth + extent > front or target[2] <= 0.0:
        return Primitives()
    scale = depth / max(target[2], 1e-9)
    center = target * scale
    if kind == 0:
        return round_cones((center - scale * half)[None], [scale * radius],
                           (center + scale * half)[None], [scale * radius], TAG_OCCLUDER)
    if kind == 1:
        return boxes(center[None], (scale * axes)[None], TAG_OCCLUDER)
    return ellipsoids(center[None], (np.eye(3) * scale * radius)[None], TAG_OCCLUDER)
