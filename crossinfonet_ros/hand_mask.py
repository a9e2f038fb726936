"""Cut a found hand out of a depth frame, so that the search for another hand cannot find it
again: capsules around its estimated bones and around its forearm (a forearm is one hand with
its own hand, not a second one). The other hand is looked for in what is left
(:mod:`crossinfonet_ros.hands`). Capsules, not the crop cube: a cube 250 mm across also takes
the fingers of a second hand held next to the first.

Each capsule is drawn into the image as a thick line (its outline) that
carries its depth range; a pixel goes when its reading lies in the range of a line covering it.
That is the capsule's silhouette extruded over its depth range (piece by piece), a little more
than the capsule itself, at ~1 ms a hand where the exact test per pixel and capsule took ~10 ms."""

from typing import Sequence, Tuple

import cv2
import numpy as np

from crossinfonet_ros.camera import Intrinsics

# Around each bone: a finger's half-width plus the estimate's typical error (15-25 mm on
# renders); the palm is covered by the wrist-to-knuckle bones.
BONE_RADIUS_MM = 35.0
# The forearm, from the wrist away from the palm: long and wide enough for an adult's (the
# renderer's are 0.75-1.25x 250 mm long, 25-45 mm in radius). Its direction comes from the
# estimated palm and wrist, a few degrees off the arm's (more on a hand seen edge-on): the
# capsule widens towards the elbow to keep the arm's far end inside.
FOREARM_LENGTH_MM = 320.0
FOREARM_RADIUS_MM = 60.0  # at the wrist
ELBOW_RADIUS_MM = 100.0  # at the far end
# Capsule ends nearer the camera than this are moved along the capsule to it (a forearm
# pointing at the camera would project to infinity).
NEAREST_MM = 50.0


def cut_out_hand(depth_mm: np.ndarray, intrinsics: Intrinsics, joints_mm: np.ndarray,
                 edges: Sequence[Tuple[int, int]], wrist: int, palm_mm: np.ndarray) -> None:
    """Zero, in place, the pixels of ``depth_mm`` whose reading lies near the hand's bones or
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
    radii = np.vstack([np.full((len(edges), 2), BONE_RADIUS_MM),
                       [FOREARM_RADIUS_MM, ELBOW_RADIUS_MM]])  # at the start and the end
    keep = np.all(np.isfinite(starts) & np.isfinite(ends), axis=1) & \
        (np.maximum(starts[:, 2], ends[:, 2]) > NEAREST_MM)
    starts, ends, radii = _pieces(*_clip_near(starts[keep], ends[keep]), radii[keep])
    if not len(radii):
        return
    near_z = np.maximum(np.minimum(starts[:, 2], ends[:, 2]) - radii, 0.0)
    far_z = np.maximum(starts[:, 2], ends[:, 2]) + radii
    focal = max(intrinsics.fx, intrinsics.fy)
    # A sphere of radius r at depth z spans f r / sqrt(z^2 - r^2) pixels: ~f r / z.
    middle_z = np.maximum((starts[:, 2] + ends[:, 2]) / 2, radii + 1.0)
    radius_px = focal * radii / np.sqrt(middle_z ** 2 - radii ** 2)
    u0, v0 = _project(intrinsics, starts)
    u1, v1 = _project(intrinsics, ends)
    x0 = _clip(np.floor(np.minimum(u0, u1) - radius_px).min(), intrinsics.width)
    x1 = _clip(np.ceil(np.maximum(u0, u1) + radius_px).max() + 1, intrinsics.width)
    y0 = _clip(np.floor(np.minimum(v0, v1) - radius_px).min(), intrinsics.height)
    y1 = _clip(np.ceil(np.maximum(v0, v1) + radius_px).max() + 1, intrinsics.height)
    if x0 >= x1 or y0 >= y1:
        return
    # Where capsules overlap, the lines drawn last win: nearest starts drawn last give each
    # pixel the smallest near depth, farthest ends drawn last the largest far depth.
    near = np.full((y1 - y0, x1 - x0), np.inf, np.float32)
    far = np.zeros_like(near)
    lines = list(zip(_pixels(u0 - x0), _pixels(v0 - y0), _pixels(u1 - x0), _pixels(v1 - y0),
                     np.maximum(np.rint(2 * radius_px), 1).astype(int).tolist()))
    for image, values, order in ((near, near_z, np.argsort(-near_z)),
                                 (far, far_z, np.argsort(far_z))):
        for i in order.tolist():
            a, b, c, d, thickness = lines[i]
            cv2.line(image, (a, b), (c, d), float(values[i]), thickness=thickness)
    window = depth_mm[y0:y1, x0:x1]
    window[(window > near) & (window < far)] = 0  # (NaN compares false: kept)


def _clip_near(starts: np.ndarray, ends: np.ndarray):
    """The segments with an end nearer than NEAREST_MM moved along them to that depth."""
    starts, ends = starts.copy(), ends.copy()
    for a, b in ((starts, ends), (ends, starts)):
        low = a[:, 2] < NEAREST_MM
        t = (NEAREST_MM - a[low, 2]) / (b[low, 2] - a[low, 2])
        a[low] += t[:, None] * (b[low] - a[low])
    return starts, ends


def _pieces(starts: np.ndarray, ends: np.ndarray, radii: np.ndarray):
    """Each capsule (radii at its start and end, (N, 2)) cut into pieces no longer than its
    smaller radius, so that a piece's depth range stays near the capsule's own depth there (a
    whole forearm's would span 300 mm); a piece's radius: the larger at its ends."""
    lengths = np.linalg.norm(ends - starts, axis=1)
    counts = np.maximum(np.ceil(lengths / radii.min(axis=1)), 1).astype(int)
    index = np.repeat(np.arange(len(radii)), counts)
    step = np.concatenate([np.arange(n) for n in counts])
    t0, t1 = step / counts[index], (step + 1) / counts[index]
    bone = ends[index] - starts[index]
    r0, r1 = radii[index, 0], radii[index, 1]
    return (starts[index] + t0[:, None] * bone, starts[index] + t1[:, None] * bone,
            r0 + t1 * (r1 - r0))  # (the radius grows along the capsule)


def _project(intrinsics: Intrinsics, points: np.ndarray):
    z = points[:, 2]
    return (intrinsics.fx * points[:, 0] / z + intrinsics.cx,
            intrinsics.fy * points[:, 1] / z + intrinsics.cy)


def _clip(value: float, size: int) -> int:
    return int(np.clip(value, 0, size))


def _pixels(values: np.ndarray) -> list:
    """Pixel coordinates for cv2: ints, far outside ones clipped (cv2 clips the line itself)."""
    return np.rint(np.clip(values, -1e5, 1e5)).astype(int).tolist()
