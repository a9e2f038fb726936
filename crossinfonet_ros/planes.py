"""Find the dominant plane of a depth frame (a table, a wall, the floor) so the detector can
ignore it (ROS-free).

A nearest-object detector takes a table's near edge for the hand whenever the camera looks down
at a hand above a table: the table reaches closer to the camera than the hand. Planes are the
one kind of clutter that is easy to recognise, so they are removed before the nearest object is
searched: RANSAC on a fixed sub-sample of the in-band points (planes through three random points,
scored by their inliers), then a least-squares refit on the inliers.

A plane is only accepted when it is large: it holds at least ``min_fraction`` of the in-band
points and spans at least ``min_extent_mm`` along both of its in-plane axes, so a flat hand held
close to the camera (which can fill much of the frame, but spans ~100 x 200 mm) is never removed.
Draws come from a fixed seed: the same frame gives the same plane.
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class PlaneConfig:
    """Parameters of :func:`dominant_plane`."""

    enabled: bool = True  # False: never remove a plane
    # Points within this distance of the plane are on it, mm: above a depth sensor's noise at
    # 1 m (~5-10 mm for structured light / stereo) and below a resting hand's thickness.
    inlier_mm: float = 12.0
    # A plane must hold this fraction of the in-band points ...
    min_fraction: float = 0.15
    # ... and span this much along both in-plane axes (5th-95th percentile), mm: a hand is
    # ~100 x 200 mm, a table or wall in view is larger.
    min_extent_mm: float = 350.0
    # Candidate planes drawn per frame.
    hypotheses: int = 64
    # Points the candidates are scored on (a fixed-stride sub-sample of the in-band points) ...
    score_points: int = 1024
    # ... and the best one is refitted and measured on: a frame has ~20,000 in-band points at
    # the detector's working resolution; a sub-sample keeps this ~1 ms.
    fit_points: int = 4096


@dataclass(frozen=True, eq=False)  # eq would compare arrays ambiguously
class Plane:
    """A plane ``normal . p = offset`` (unit normal, mm) and how many points it holds."""

    normal: np.ndarray  # (3,) unit normal
    offset: float  # mm
    inliers: int  # points of the fitted sub-sample within ``inlier_mm``

    def distance(self, points: np.ndarray) -> np.ndarray:
        """Absolute distance (mm) of (N, 3) points to the plane."""
        return np.abs(points @ self.normal - self.offset)


def dominant_plane(points: np.ndarray, config: PlaneConfig = PlaneConfig()) -> Optional[Plane]:
    """The largest plane among ``points``, or None when there is no large one.

    :param points: (N, 3) float points in mm (the in-band readings); at most
        ``config.fit_points`` of them, evenly strided, are used
    :param config: thresholds
    :returns: the refined plane, or None
    """
    if not config.enabled or len(points) < 3:
        return None
    points = np.asarray(points, dtype=np.float64)
    points = points[::max(1, len(points) // config.fit_points)]
    scored = points[::max(1, len(points) // config.score_points)]
    rng = np.random.default_rng(0x91A7E)
    triples = scored[rng.integers(0, len(scored), (config.hypotheses, 3))]
    normals = np.cross(triples[:, 1] - triples[:, 0], triples[:, 2] - triples[:, 0])
    lengths = np.linalg.norm(normals, axis=1)
    usable = lengths > 1e-6
    if not usable.any():
        return None
    normals = normals[usable] / lengths[usable, None]
    offsets = np.einsum('ij,ij->i', normals, triples[usable, 0])
    counts = (np.abs(scored @ normals.T - offsets) <= config.inlier_mm).sum(axis=0)
    best = int(np.argmax(counts))
    if counts[best] < config.min_fraction * len(scored):
        return None
    plane = _refit(points, normals[best], offsets[best], config.inlier_mm)
    if plane is None or plane.inliers < config.min_fraction * len(points):
        return None
    if min(_extents(points[plane.distance(points) <= config.inlier_mm])) < config.min_extent_mm:
        return None
    return plane


def _refit(points: np.ndarray, normal: np.ndarray, offset: float,
           inlier_mm: float) -> Optional[Plane]:
    """Least-squares plane through the inliers of a candidate (total least squares)."""
    inliers = points[np.abs(points @ normal - offset) <= inlier_mm]
    if len(inliers) < 3:
        return None
    mean = inliers.mean(axis=0)
    _, _, vt = np.linalg.svd(inliers - mean, full_matrices=False)
    refined = vt[2]
    plane = Plane(refined, float(refined @ mean), 0)
    count = int((plane.distance(points) <= inlier_mm).sum())
    return Plane(refined, plane.offset, count)


def _extents(points: np.ndarray) -> tuple:
    """Spread (5th-95th percentile, mm) of points along their two main in-plane axes."""
    centred = points - points.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    spreads = []
    for axis in vt[:2]:
        low, high = np.percentile(centred @ axis, [5, 95])
        spreads.append(float(high - low))
    return tuple(spreads)
