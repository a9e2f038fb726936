"""Cut a found hand out of a depth frame, so that the search for another hand cannot find it
again: capsules around its estimated bones and around its forearm (a forearm is one hand with
its own hand, not a second one). The other hand is looked for in what is left
(:mod:`crossinfonet_ros.hands`). Capsules, not the crop cube: a cube 250 mm across also takes
the fingers of a second hand held next to the first."""

from typing import Sequence, Tuple

import numpy as np

from crossinfonet_ros.camera import Intrinsics

# Around each bone: a finger's half-width plus the estimate's typical error (15-25 mm on
# renders); the palm is covered by the wrist-to-knuckle bones.
BONE_RADIUS_MM = 35.0
# The forearm, from the wrist away from the palm: long and wide enough for an adult's (the
# renderer's are 0.75-1.25x 250 mm long, 25-45 mm in radius).
FOREARM_LENGTH_MM = 320.0
FOREARM_RADIUS_MM = 60.0


def cut_out_hand(depth_mm: np.ndarray, intrinsics: Intrinsics, joints_mm: np.ndarray,
                 edges: Sequence[Tuple[int, int]], wrist: int, palm_mm: np.ndarray) -> None:
    """Zero, in place, the pixels of ``depth_mm`` whose point lies near the hand's bones or
    in its forearm's capsule.

    :param depth_mm: (H, W) depth in mm, changed in place
    :param intrinsics: its camera
    :param joints_mm: (J, 3) the hand's estimated joints, camera frame, mm
    :param edges: its bones, joint index pairs
    :param wrist: the wrist joint's index
    :param palm_mm: (3,) its palm centre, mm (the forearm points from it through the wrist)
    """
    joints = np.asarray(joints_mm, dtype=np.float64)
    axis = joints[wrist] - np.asarray(palm_mm, dtype=np.float64)
    norm = np.linalg.norm(axis)
    elbow = joints[wrist] + (FOREARM_LENGTH_MM * axis / norm if norm > 1e-6 else 0.0)
    starts = np.vstack([joints[[a for a, _ in edges]], joints[wrist]])
    ends = np.vstack([joints[[b for _, b in edges]], elbow])
    radii = np.append(np.full(len(edges), BONE_RADIUS_MM), FOREARM_RADIUS_MM)
    # Capsule by capsule, each over its own pixel box and depth range: 23 -> 14 ms a hand
    # against every capsule over the whole hand's box (2 busy cores).
    for start, end, radius in zip(starts, ends, radii):
        _cut_capsule(depth_mm, intrinsics, start, end, radius)


def _cut_capsule(depth_mm: np.ndarray, intrinsics: Intrinsics, start: np.ndarray,
                 end: np.ndarray, radius: float) -> None:
    """Zero the pixels whose point lies within ``radius`` of the segment start-end."""
    box = _image_box(intrinsics, np.stack([start, end]), np.array([radius, radius]))
    if box is None:
        return
    x0, y0, x1, y1 = box
    window = depth_mm[y0:y1, x0:x1]
    near_z = max(min(start[2], end[2]) - radius, 0.0)
    far_z = max(start[2], end[2]) + radius
    rows, cols = np.nonzero((window > near_z) & (window < far_z))  # not NaN
    if not len(rows):
        return
    z = window[rows, cols].astype(np.float64)
    points = np.stack([(cols + x0 - intrinsics.cx) / intrinsics.fx * z,
                       (rows + y0 - intrinsics.cy) / intrinsics.fy * z, z], axis=1)
    bone = end - start
    t = np.clip((points - start) @ bone / max(float(bone @ bone), 1e-9), 0.0, 1.0)
    gap = points - start - t[:, None] * bone
    near = np.einsum('ij,ij->i', gap, gap) <= radius * radius
    window[rows[near], cols[near]] = 0


def _image_box(intrinsics: Intrinsics, points: np.ndarray, radii: np.ndarray):
    """The pixel box (x0, y0, x1, y1) around ``points`` padded by ``radii`` at their depth,
    clipped to the image; None when it is empty."""
    z = np.maximum(points[:, 2] - radii, 1.0)  # a capsule's nearest depth: its widest view
    u = intrinsics.fx * points[:, 0] / z + intrinsics.cx
    v = intrinsics.fy * points[:, 1] / z + intrinsics.cy
    du, dv = intrinsics.fx * radii / z, intrinsics.fy * radii / z
    x0 = int(np.clip(np.floor(np.min(u - du)), 0, intrinsics.width))
    x1 = int(np.clip(np.ceil(np.max(u + du)) + 1, 0, intrinsics.width))
    y0 = int(np.clip(np.floor(np.min(v - dv)), 0, intrinsics.height))
    y1 = int(np.clip(np.ceil(np.max(v + dv)) + 1, 0, intrinsics.height))
    return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None
