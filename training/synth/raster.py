"""Depth rendering of analytic primitives by ray casting through a pinhole camera.

The scene is a :class:`Primitives` set: round cones (two spheres and the cone tangent to both;
a capsule when the radii are equal, a sphere when the ends coincide), ellipsoids, boxes and
planes. Each primitive is ray cast only over the pixels that may see it (round cones: per-row
column spans of their bounding capsule; ellipsoids and boxes: their projected bounding box;
planes: every pixel); all primitives of one type are processed in a single vectorised numpy
pass over the concatenated pixel lists (float32), and a z-buffer keeps the nearest hit. Depth
is the camera-frame z (mm), which is the ray parameter ``t`` of the ray ``t * (x, y, 1)``
through a pixel.

Every primitive carries a small integer tag (e.g. hand, forearm, clutter) so the renderer can
also return which kind of surface each pixel shows.
"""

from dataclasses import dataclass, field
from typing import Iterable, Optional, Tuple

import numpy as np

from crossinfonet_ros.camera import Intrinsics

NEAR_MM = 10.0  # primitives closer than this to the camera plane are not ray cast
TAG_NONE = 0  # label of pixels where no primitive was hit


def _empty(*shape: int) -> np.ndarray:
    return np.zeros((0,) + shape, dtype=np.float64)


@dataclass
class Primitives:
    """A set of primitives in one frame (mm), grouped by type for vectorised ray casting."""

    cones: np.ndarray = field(default_factory=lambda: _empty(8))  # (N, 8) ax ay az ra bx by bz rb
    cone_tags: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))  # (N,)
    ellipsoid_centers: np.ndarray = field(default_factory=lambda: _empty(3))  # (E, 3)
    ellipsoid_axes: np.ndarray = field(default_factory=lambda: _empty(3, 3))  # (E, 3, 3) columns
    ellipsoid_tags: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))  # (E,)
    box_centers: np.ndarray = field(default_factory=lambda: _empty(3))  # (B, 3)
    box_axes: np.ndarray = field(default_factory=lambda: _empty(3, 3))  # (B, 3, 3) half-edges
    box_tags: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))  # (B,)
    planes: np.ndarray = field(default_factory=lambda: _empty(4))  # (P, 4) n, e with n.p = e
    plane_tags: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))  # (P,)

    def transformed(self, rotation: np.ndarray, translation: np.ndarray) -> 'Primitives':
        """Return the set moved by the rigid motion ``p -> rotation @ p + translation``.

        :param rotation: (3, 3) rotation matrix
        :param translation: (3,) translation, mm
        """
        rot = np.asarray(rotation, dtype=np.float64)
        shift = np.asarray(translation, dtype=np.float64)
        cones = self.cones.copy()
        cones[:, 0:3] = self.cones[:, 0:3] @ rot.T + shift
        cones[:, 4:7] = self.cones[:, 4:7] @ rot.T + shift
        normals = self.planes[:, :3] @ rot.T
        planes = np.concatenate([normals, (self.planes[:, 3] + normals @ shift)[:, None]], axis=1)
        return Primitives(
            cones, self.cone_tags, self.ellipsoid_centers @ rot.T + shift,
            np.einsum('ij,njk->nik', rot, self.ellipsoid_axes), self.ellipsoid_tags,
            self.box_centers @ rot.T + shift, np.einsum('ij,njk->nik', rot, self.box_axes),
            self.box_tags, planes, self.plane_tags)

    @staticmethod
    def concatenate(parts: Iterable['Primitives']) -> 'Primitives':
        """Join several sets into one.

        :param parts: the sets
        """
        parts = list(parts)
        names = [f.name for f in Primitives.__dataclass_fields__.values()]  # type: ignore
        return Primitives(**{name: np.concatenate([getattr(p, name) for p in parts])
                             for name in names})


def round_cones(starts: np.ndarray, start_radii: np.ndarray, ends: np.ndarray,
                end_radii: np.ndarray, tag: int) -> Primitives:
    """Primitives holding round cones (sphere-swept segments with linearly varying radius).

    :param starts: (N, 3) first sphere centres, mm
    :param start_radii: (N,) first sphere radii, mm
    :param ends: (N, 3) second sphere centres, mm
    :param end_radii: (N,) second sphere radii, mm
    :param tag: label of these primitives
    """
    starts = np.asarray(starts, dtype=np.float64).reshape(-1, 3)
    count = len(starts)
    cones = np.empty((count, 8))
    cones[:, 0:3] = starts
    cones[:, 3] = start_radii
    cones[:, 4:7] = np.asarray(ends, dtype=np.float64).reshape(-1, 3)
    cones[:, 7] = end_radii
    return Primitives(cones=cones, cone_tags=np.full(count, tag, np.uint8))


def ellipsoids(centers: np.ndarray, axes: np.ndarray, tag: int) -> Primitives:
    """Primitives holding ellipsoids.

    :param centers: (E, 3) centres, mm
    :param axes: (E, 3, 3) the semi-axis vectors as columns (rotation times diag(semi-axes))
    :param tag: label of these primitives
    """
    centers = np.asarray(centers, dtype=np.float64).reshape(-1, 3)
    return Primitives(ellipsoid_centers=centers,
                      ellipsoid_axes=np.asarray(axes, dtype=np.float64).reshape(-1, 3, 3),
                      ellipsoid_tags=np.full(len(centers), tag, np.uint8))


def boxes(centers: np.ndarray, axes: np.ndarray, tag: int) -> Primitives:
    """Primitives holding boxes.

    :param centers: (B, 3) centres, mm
    :param axes: (B, 3, 3) half-edge vectors as columns
    :param tag: label of these primitives
    """
    centers = np.asarray(centers, dtype=np.float64).reshape(-1, 3)
    return Primitives(box_centers=centers,
                      box_axes=np.asarray(axes, dtype=np.float64).reshape(-1, 3, 3),
                      box_tags=np.full(len(centers), tag, np.uint8))


def planes(normals: np.ndarray, offsets: np.ndarray, tag: int) -> Primitives:
    """Primitives holding infinite planes ``normal . p = offset``.

    :param normals: (P, 3) unit normals
    :param offsets: (P,) offsets, mm
    :param tag: label of these primitives
    """
    normals = np.asarray(normals, dtype=np.float64).reshape(-1, 3)
    data = np.concatenate([normals, np.asarray(offsets, np.float64).reshape(-1, 1)], axis=1)
    return Primitives(planes=data, plane_tags=np.full(len(normals), tag, np.uint8))


class _Rays:
    """Pixel grid of one image: normalised ray coordinates per column and row."""

    def __init__(self, intrinsics: Intrinsics, far_mm: float) -> None:
        self.k = intrinsics
        self.far = far_mm
        self.width, self.height = intrinsics.width, intrinsics.height
        # Per-element ray math runs in float32: depths of ~1e3 mm keep sub-0.01 mm accuracy.
        self.xs = ((np.arange(self.width) - intrinsics.cx) / intrinsics.fx).astype(np.float32)
        self.ys = ((np.arange(self.height) - intrinsics.cy) / intrinsics.fy).astype(np.float32)

    def pixel_boxes(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Integer pixel boxes (P, 4) u0, u1, v0, v1 (inclusive) covering 3D AABBs.

        x/z over a box with z > 0 is extremal at its corners, so the projected range follows
        from the near and far faces. Boxes reaching behind the near plane get the whole image;
        boxes entirely behind it get an empty box.
        """
        k = self.k
        z_near, z_far = lo[:, 2], hi[:, 2]
        safe_near = np.maximum(z_near, NEAR_MM)
        u_lo = k.cx + k.fx * np.minimum(lo[:, 0] / safe_near, lo[:, 0] / z_far)
        u_hi = k.cx + k.fx * np.maximum(hi[:, 0] / safe_near, hi[:, 0] / z_far)
        v_lo = k.cy + k.fy * np.minimum(lo[:, 1] / safe_near, lo[:, 1] / z_far)
        v_hi = k.cy + k.fy * np.maximum(hi[:, 1] / safe_near, hi[:, 1] / z_far)
        box = np.stack([np.ceil(u_lo), np.floor(u_hi), np.ceil(v_lo), np.floor(v_hi)], axis=1)
        straddling = z_near < NEAR_MM
        box[straddling] = (0, self.width - 1, 0, self.height - 1)
        box[:, 0:2] = np.clip(box[:, 0:2], 0, self.width - 1)
        box[:, 2:4] = np.clip(box[:, 2:4], 0, self.height - 1)
        box[(z_far <= NEAR_MM) | (z_near > self.far)] = (1, 0, 1, 0)
        box[~np.all(np.isfinite(box), axis=1)] = (1, 0, 1, 0)
        return box.astype(np.int64)

    def enumerate(self, box: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """All pixels of all boxes: (primitive index, x, y, flat pixel index) per element."""
        heights = np.maximum(box[:, 3] - box[:, 2] + 1, 0)
        heights[box[:, 1] < box[:, 0]] = 0
        prim, rows = self._rows(box, heights)
        return self._spans(prim, rows, box[prim, 0], box[prim, 1])

    def capsule_pixels(self, a: np.ndarray, b: np.ndarray, radius: np.ndarray
                       ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Pixels that may see capsules (segment a-b, radius): like :meth:`enumerate`.

        Row by row: the rays of a pixel row span a plane through the camera; only the part of
        the segment within ``radius`` of that plane can be seen there, and the box around that
        part (grown by the radius) bounds the row's columns. This hugs slanted limbs far
        tighter than one bounding box.
        """
        reach = radius[:, None]
        box = self.pixel_boxes(np.minimum(a, b) - reach, np.maximum(a, b) + reach)
        heights = np.maximum(box[:, 3] - box[:, 2] + 1, 0)
        heights[box[:, 1] < box[:, 0]] = 0
        prim, rows = self._rows(box, heights)
        y = self.ys[rows]
        norm = np.sqrt(1.0 + y * y)
        pa, pb, r = a[prim], b[prim], radius[prim]
        dist_a = (pa[:, 1] - y * pa[:, 2]) / norm
        slope = (pb[:, 1] - y * pb[:, 2]) / norm - dist_a
        with np.errstate(divide='ignore', invalid='ignore'):
            s1, s2 = (-r - dist_a) / slope, (r - dist_a) / slope
        flat = np.abs(slope) < 1e-9
        inside = np.abs(dist_a) <= r
        s_lo = np.where(flat, np.where(inside, 0.0, 1.0), np.clip(np.fmin(s1, s2), 0.0, 1.0))
        s_hi = np.where(flat, np.where(inside, 1.0, 0.0), np.clip(np.fmax(s1, s2), 0.0, 1.0))
        seen = s_lo <= s_hi
        axis = pb - pa
        p0 = pa + s_lo[:, None] * axis
        p1 = pa + s_hi[:, None] * axis
        lo = np.minimum(p0, p1) - r[:, None]
        hi = np.maximum(p0, p1) + r[:, None]
        k = self.k
        z_near = np.maximum(lo[:, 2], NEAR_MM)
        u_lo = k.cx + k.fx * np.minimum(lo[:, 0] / z_near, lo[:, 0] / hi[:, 2])
        u_hi = k.cx + k.fx * np.maximum(hi[:, 0] / z_near, hi[:, 0] / hi[:, 2])
        u0 = np.clip(np.ceil(u_lo), 0, self.width - 1)
        u1 = np.clip(np.floor(u_hi), 0, self.width - 1)
        u0[lo[:, 2] < NEAR_MM] = 0
        u1[lo[:, 2] < NEAR_MM] = self.width - 1
        u1[~seen | (u_hi < 0) | (u_lo > self.width - 1)] = -1
        return self._spans(prim, rows, u0.astype(np.int64), u1.astype(np.int64))

    @staticmethod
    def _rows(box: np.ndarray, heights: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(primitive, row) pairs for the rows of each box."""
        prim = np.repeat(np.arange(len(box)), heights)
        first = np.repeat(np.cumsum(heights) - heights, heights)
        return prim, box[prim, 2] + np.arange(len(prim)) - first

    def _spans(self, prim: np.ndarray, rows: np.ndarray, u0: np.ndarray, u1: np.ndarray
               ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Expand per-row column spans [u0, u1] into elements."""
        counts = np.maximum(u1 - u0 + 1, 0)
        first = np.repeat(np.cumsum(counts) - counts, counts)
        u = np.repeat(u0, counts) + np.arange(len(first)) - first
        v = np.repeat(rows, counts)
        return (np.repeat(prim, counts), self.xs[u], np.repeat(self.ys[rows], counts),
                v * self.width + u)


def _gather(columns, prim: np.ndarray):
    """Per-primitive constants (k, P) as float32 rows (k, n) for the elements' primitives.

    Elements come grouped by primitive in ascending order (see ``_Rays._rows``), so repeating
    each primitive's column by its element count equals (and is much faster than) indexing.
    """
    table = np.stack(columns).astype(np.float32)
    return np.repeat(table, np.bincount(prim, minlength=table.shape[1]), axis=1)


def _round_cone_hits(rays: _Rays, cones: np.ndarray):
    """Nearest hits on round cones: the lateral surface and both end spheres, in one pass.

    With axis w = (b - a)/L, k = (ra - rb)/L and h the axial coordinate from a, the surface
    tangent to both spheres is rho * sqrt(1 - k^2) = ra - k h for h in [k ra, L + k rb]
    (envelope of the swept spheres); squaring gives a quadratic in the ray parameter t. The
    pixels that may see a cone also cover its end spheres, so those are cast on the same
    elements. A cone whose larger sphere swallows the smaller one is just that sphere.
    """
    if len(cones) == 0:
        return _no_hits()
    a, ra, b, rb = cones[:, 0:3], cones[:, 3], cones[:, 4:7], cones[:, 7]
    axis = b - a
    length = np.linalg.norm(axis, axis=1)
    lateral = length > np.abs(ra - rb) + 1e-6
    safe = np.where(lateral, length, 1.0)
    w = axis / safe[:, None]
    k = np.where(lateral, (ra - rb) / safe, 0.0)
    c2 = 1.0 - k * k
    aw = np.einsum('ij,ij->i', a, w)
    g = ra + k * aw
    p1 = c2 * aw + g * k
    const = c2 * (np.einsum('ij,ij->i', a, a) - aw * aw) - g * g
    h_lo = np.where(lateral, k * ra + aw, np.inf)  # empty range: no lateral surface
    h_hi = np.where(lateral, length + k * rb + aw, -np.inf)
    sphere_a = np.einsum('ij,ij->i', a, a) - ra * ra
    sphere_b = np.einsum('ij,ij->i', b, b) - rb * rb
    prim, x, y, pix = rays.capsule_pixels(a, b, np.maximum(ra, rb))
    (wx, wy, wz, ax, ay, az, bx, by, bz, c2p, p1p, cp, lo, hi, csa, csb) = _gather(
        (w[:, 0], w[:, 1], w[:, 2], a[:, 0], a[:, 1], a[:, 2], b[:, 0], b[:, 1], b[:, 2], c2, p1,
         const, h_lo, h_hi, sphere_a, sphere_b), prim)
    dd = x * x + y * y + 1.0
    da = x * ax + y * ay + az
    db = x * bx + y * by + bz
    dw = x * wx + y * wy + wz
    quad = c2p * dd - dw * dw
    half = dw * p1p - c2p * da
    with np.errstate(invalid='ignore', divide='ignore'):
        root = np.sqrt(half * half - quad * cp)  # NaN where the ray misses: comparisons False
        inverse = 1.0 / quad
        t1 = (-half - root) * inverse
        t2 = (-half + root) * inverse
        h1, h2 = t1 * dw, t2 * dw
        best = np.where((t1 > 0.0) & (h1 >= lo) & (h1 <= hi), t1, np.inf)
        best = np.where((t2 > 0.0) & (h2 >= lo) & (h2 <= hi) & (t2 < best), t2, best)
        for dc, const_s in ((da, csa), (db, csb)):
            t = (dc - np.sqrt(dc * dc - dd * const_s)) / dd
            best = np.where((t > 0.0) & (t < best), t, best)
    hit = best < np.inf
    return pix[hit], best[hit], prim[hit]


def _ellipsoid_hits(rays: _Rays, centers: np.ndarray, axes: np.ndarray):
    if len(centers) == 0:
        return _no_hits()
    extent = np.sqrt(np.einsum('nij,nij->ni', axes, axes))
    box = rays.pixel_boxes(centers - extent, centers + extent)
    prim, x, y, pix = rays.enumerate(box)
    inverse = np.linalg.inv(axes)
    quadric = np.einsum('nki,nkj->nij', inverse, inverse)  # (A A^T)^-1
    qc = np.einsum('nij,nj->ni', quadric, centers)
    const = np.einsum('ni,ni->n', centers, qc) - 1.0
    q00, q11, q22, q01, q02, q12, m0, m1, m2, cp = _gather(
        (quadric[:, 0, 0], quadric[:, 1, 1], quadric[:, 2, 2], 2.0 * quadric[:, 0, 1],
         2.0 * quadric[:, 0, 2], 2.0 * quadric[:, 1, 2], qc[:, 0], qc[:, 1], qc[:, 2], const),
        prim)
    dqd = q00 * x * x + q11 * y * y + q22 + q01 * x * y + q02 * x + q12 * y
    dqc = x * m0 + y * m1 + m2
    disc = dqc * dqc - dqd * cp
    hit = disc >= 0.0
    t = (dqc[hit] - np.sqrt(disc[hit])) / dqd[hit]
    front = t > 0.0
    return pix[hit][front], t[front], prim[hit][front]


def _no_hits():
    return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64)


def _box_hits(rays: _Rays, centers: np.ndarray, axes: np.ndarray):
    if len(centers) == 0:
        return _no_hits()
    extent = np.abs(axes).sum(axis=2)
    box = rays.pixel_boxes(centers - extent, centers + extent)
    prim, x, y, pix = rays.enumerate(box)
    inverse = np.linalg.inv(axes)  # camera -> unit-cube coordinates
    origin = -np.einsum('nij,nj->ni', inverse, centers)
    t_near = np.full(len(prim), -np.inf)
    t_far = np.full(len(prim), np.inf)
    with np.errstate(divide='ignore', invalid='ignore'):
        for i in range(3):
            direction = x * inverse[prim, i, 0] + y * inverse[prim, i, 1] + inverse[prim, i, 2]
            o = origin[prim, i]
            t1, t2 = (-1.0 - o) / direction, (1.0 - o) / direction
            t_near = np.fmax(t_near, np.fmin(t1, t2))
            t_far = np.fmin(t_far, np.fmax(t1, t2))
    hit = (t_near <= t_far) & (t_near > 0.0) & np.isfinite(t_near)
    return pix[hit], t_near[hit].astype(np.float32), prim[hit]


def _plane_depths(rays: _Rays, data: np.ndarray):
    """Dense depth (H, W) of the nearest plane in front, and which plane (-1: none)."""
    if len(data) == 0:
        return np.full((rays.height, rays.width), np.inf, np.float32), None
    depth = np.full((rays.height, rays.width), np.inf, np.float32)
    which = np.full((rays.height, rays.width), -1, np.int64)
    with np.errstate(divide='ignore', invalid='ignore'):
        for i, (nx, ny, nz, e) in enumerate(data):
            t = e / (nx * rays.xs[None, :] + ny * rays.ys[:, None] + nz)
            nearer = (t > 0.0) & (t < depth) & (t <= rays.far)
            depth[nearer] = t[nearer]
            which[nearer] = i
    return depth, which


def render_depth(prims: Primitives, intrinsics: Intrinsics, with_tags: bool = False,
                 far_mm: float = np.inf) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """Ray cast ``prims`` (camera optical frame, mm) into a depth image.

    :param prims: the scene
    :param intrinsics: camera and image size; a shifted principal point renders a window
    :param with_tags: also return the tag of the nearest primitive per pixel
    :param far_mm: surfaces farther than this are not rendered (primitives entirely beyond it
        are skipped: the crop-resolution path renders only what a crop can keep)
    :returns: ``(depth, tags)``: (H, W) float32 depth in mm, 0 where nothing was hit, and
        (H, W) uint8 tags (``TAG_NONE`` where nothing was hit) or None
    """
    rays = _Rays(intrinsics, far_mm)
    size = rays.width * rays.height
    plane_depth, plane_index = _plane_depths(rays, prims.planes)
    zbuf = plane_depth.ravel()
    casts = [
        (_round_cone_hits(rays, prims.cones), prims.cone_tags),
        (_ellipsoid_hits(rays, prims.ellipsoid_centers, prims.ellipsoid_axes),
         prims.ellipsoid_tags),
        (_box_hits(rays, prims.box_centers, prims.box_axes), prims.box_tags),
    ]
    for (pix, t, _), _tags in casts:
        if len(pix):
            np.minimum.at(zbuf, pix, t)
    tags = None
    if with_tags:
        if plane_index is None:
            tags = np.zeros(size, np.uint8)
        else:
            tags = np.append(prims.plane_tags, TAG_NONE).astype(np.uint8)[plane_index.ravel()]
        for (pix, t, prim), prim_tags in casts:
            won = t == zbuf[pix]
            tags[pix[won]] = prim_tags[prim[won]]
        tags = tags.reshape(rays.height, rays.width)
    depth = zbuf.reshape(rays.height, rays.width)
    beyond = ~np.isfinite(depth) | (depth > far_mm)
    depth[beyond] = 0.0
    if tags is not None:
        tags[beyond] = TAG_NONE
    return depth, tags
