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
from typing import Optional, Tuple

import numpy as np

from crossinfonet_ros.frame_buffers import FrameBuffers

# Cells of the pooled scoring matrix: the default 64 hypotheses x up to 2 x 1024 points.
_POOLED_CELLS = 64 * 2048
# The RANSAC draws' seed, its hashing done once (a fresh default_rng costs ~35 us a frame).
_SEED = np.random.SeedSequence(0x91A7E)

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


def dominant_plane(points: np.ndarray, config: PlaneConfig = PlaneConfig(),
                   buffers: Optional[FrameBuffers] = None) -> Optional[Plane]:
    """The largest plane among ``points``, or None when there is no large one.

    :param points: (N, 3) float points in mm (the in-band readings); at most
        ``config.fit_points`` of them, evenly strided, are used
    :param config: thresholds
    :param buffers: where to keep the hypotheses' scoring matrix (~0.5 MB) from one frame to
        the next; None: a new one
    :returns: the refined plane, or None
    """
    if not config.enabled or len(points) < 3:
        return None
    points = np.asarray(points, dtype=np.float64)
    # Coordinates as rows (3, N): every reduction below then runs along contiguous memory
    # (means and extremes along the columns of an (N, 3) array cost ~10x more).
    coords = np.ascontiguousarray(points[::max(1, len(points) // config.fit_points)].T)
    count = coords.shape[1]
    scored = np.ascontiguousarray(coords[:, ::max(1, count // config.score_points)])
    rng = np.random.Generator(np.random.PCG64(_SEED))
    draws = rng.integers(0, scored.shape[1], (config.hypotheses, 3))
    first, second, third = (scored[:, column] for column in draws.T)  # 3 x (3, K)
    normals = _cross(second - first, third - first)
    lengths = np.sqrt(np.einsum('ij,ij->j', normals, normals))
    usable = lengths > 1e-6
    if not usable.any():
        return None
    normals = normals[:, usable] / lengths[usable]
    offsets = np.einsum('ij,ij->j', normals, first[:, usable])
    shape = (normals.shape[1], scored.shape[1])  # (K, S): every hypothesis, every point
    residuals = _scratch(buffers, 'plane_residuals', shape, np.float64)
    np.matmul(normals.T, scored, out=residuals)
    np.subtract(residuals, offsets[:, None], out=residuals)
    np.abs(residuals, out=residuals)
    counts = np.less_equal(residuals, config.inlier_mm,
                           out=_scratch(buffers, 'plane_inliers', shape, bool)).sum(axis=1)
    best = int(np.argmax(counts))
    if counts[best] < config.min_fraction * scored.shape[1]:
        return None
    refit = _refit(coords, normals[:, best], offsets[best], config.inlier_mm)
    if refit is None or refit[0].inliers < config.min_fraction * count:
        return None
    plane, on_plane = refit
    if not _spans(np.compress(on_plane, coords, axis=1), config.min_extent_mm):
        return None
    return plane


def _scratch(buffers: Optional[FrameBuffers], role: str, shape: tuple, dtype) -> np.ndarray:
    """A (rows, columns) scratch array; from ``buffers``, cut from one flat array of the
    role so that the varying number of points per frame does not allocate a new one."""
    if buffers is None:
        return np.empty(shape, dtype)
    size = shape[0] * shape[1]
    flat = buffers.take(role, (_POOLED_CELLS,), dtype)
    return flat[:size].reshape(shape) if size <= flat.size else np.empty(shape, dtype)


def _cross(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Cross products of the columns of (3, K) arrays: np.cross's arithmetic, no overhead."""
    a0, a1, a2 = first
    b0, b1, b2 = second
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0])


def _refit(coords: np.ndarray, normal: np.ndarray, offset: float,
           inlier_mm: float) -> Optional[Tuple[Plane, np.ndarray]]:
    """Least-squares plane through the inliers of a candidate (total least squares) among the
    points of ``coords`` (3, N), and the mask of those within ``inlier_mm`` of it."""
    # np.compress: ~5x faster than a boolean index along the second axis.
    inliers = np.compress(np.abs(normal @ coords - offset) <= inlier_mm, coords, axis=1)
    if inliers.shape[1] < 3:
        return None
    mean = inliers.mean(axis=1)
    inliers -= mean[:, None]  # a copy of its own: centred in place
    refined = _principal_axes(inliers)[2]
    offset = float(refined @ mean)
    on_plane = np.abs(refined @ coords - offset) <= inlier_mm
    return Plane(refined, offset, int(np.count_nonzero(on_plane))), on_plane


def _principal_axes(centred: np.ndarray) -> np.ndarray:
    """(3, 3) unit rows, the main axis of the centred points (3, N) first: their principal
    directions, from the 3x3 scatter matrix (an SVD of all N points costs ~10x more; the axes
    agree to ~1e-12)."""
    _, vectors = np.linalg.eigh(centred @ centred.T)
    return vectors.T[::-1]


def _spans(coords: np.ndarray, extent_mm: float) -> bool:
    """Whether the points (3, N) spread at least ``extent_mm`` (5th-95th percentile) along
    both of their two main in-plane axes; ``coords`` is centred in place."""
    coords -= coords.mean(axis=1)[:, None]
    along = _principal_axes(coords)[:2] @ coords  # (2, N)
    if (along.max(axis=1) - along.min(axis=1)).min() < extent_mm:
        return False  # the full range bounds the percentile range: no need to sort
    low, high = _percentiles(along, (0.05, 0.95))
    return bool((high - low).min() >= extent_mm)


def _percentiles(rows: np.ndarray, fractions: tuple) -> np.ndarray:
    """Percentiles of each row (linear interpolation between order statistics, numpy's
    default), one partial sort for all: (len(fractions), rows) values."""
    size = rows.shape[1]
    where = (size - 1) * np.asarray(fractions, dtype=np.float64)
    below = np.floor(where).astype(np.intp)
    above = np.minimum(below + 1, size - 1)
    ordered = np.partition(rows, np.concatenate([below, above]), axis=1)
    low, high = ordered[:, below], ordered[:, above]
    return (low + (high - low) * (where - below)).T
