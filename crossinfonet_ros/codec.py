"""The one codec shared by training and inference: crop and normalisation (heat-maps:
:mod:`crossinfonet_ros.heatmaps`).

Units and coordinate conventions
--------------------------------
* Depth images hold millimetres (uint16 or float); 0 means "no reading". NaN, inf and values
  <= 0 are treated as 0 as well, so garbage never reaches the network.
* 3D points (joints, centres) are millimetres in the camera optical frame: x right, y down,
  z forward (:class:`crossinfonet_ros.camera.Intrinsics` projects them).
* Pixel coordinates ``(u, v)`` are (column, row); the centre of pixel ``(i, j)`` is at integer
  coordinates ``u = i, v = j``.
* A crop is ``size x size`` (96, spec 1.1) and comes with ``transform``, the 3x3 affine that maps
  an original-image pixel ``(u, v, 1)`` to crop pixel coordinates (spec 3.4 step 5). Crop pixel
  ``q`` shows the original pixel ``floor(transform^-1 q)``: this is nearest-neighbour sampling as
  ``cv2.resize(..., INTER_NEAREST)`` does it, computed exactly (OpenCV rounds ``q * src/dst`` in
  floating point and picks the previous pixel at some exact ties, e.g. 118 -> 96 pixels).
* Normalised depth (spec 3.5): ``(d - z_c) / (S/2)`` in [-1, 1]; no reading, farther than the
  cube, or outside the image/box = +1; nearer than the cube = -1.
* Normalised joints (spec 3.6): ``(j - c) / (S/2)`` per axis, ``S`` = cube side.
* Heat-maps (spec 2.3): ``out x out`` (24) maps over the crop, one per joint
  (:mod:`crossinfonet_ros.heatmaps`).

Layers of the crop API (so no crop logic lives outside this module):

* :func:`crop_hand` -- the standard crop (inference, test time, and training without
  augmentation), = :func:`crop_box` + :func:`box_transform` + :func:`crop_with_transform`.
* :func:`crop_with_transform` -- cut any affine view of a frame (the sampling and normalisation
  every crop goes through).
* Augmentation (spec 3.7): a moved centre ('com') or scaled cube ('sc') is :func:`crop_hand`
  with other arguments; an in-plane rotation ('rot') is :func:`rotate_crop`, which rotates the
  crop and the joints consistently (built on :func:`rotation_about` and
  :func:`transform_joints_in_image`). It resamples the frame once, never the cut crop (no double
  resampling), so there is no warp of a cut crop: samples keep the frame, or a patch of it with
  matching intrinsics.
"""

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from crossinfonet_ros.camera import Intrinsics

Box = Tuple[int, int, int, int]

# Network input side (spec 1.1).
INPUT_SIZE = 96

# Slack before flooring back-mapped sample positions: exact ties such as 2 / 0.4 must land on 5,
# not on 4.999...; real positions are rationals with small denominators, never this close.
_FLOOR_SLACK = 1e-6


@dataclass(frozen=True, eq=False)  # eq would compare arrays ambiguously
class Crop:
    """One normalised hand crop and how it maps back to the original frame."""

    depth: np.ndarray  # (size, size) float32 normalised depth in [-1, 1], background +1 (3.5)
    center_mm: np.ndarray  # (3,) float64 cube centre, camera optical frame, mm
    cube_mm: float  # side S of the cubic crop volume, mm (spec 3.3)
    transform: np.ndarray  # (3, 3) float64 affine: original pixel (u, v, 1) -> crop pixel
    roi: Box  # (x0, y0, x1, y1) source box in the original image, end exclusive; may overhang

    @property
    def size(self) -> int:
        """Side of the square crop in pixels."""
        return int(self.depth.shape[0])


def crop_box(center_mm, cube_mm: float, intrinsics: Intrinsics) -> Box:
    """Pixel box of the cube's x/y half-extent projected at the centre depth (spec 3.4 step 2).

    ``x0 = floor(u_c - (S/2) fx / z_c + 0.5)``, ``x1 = floor(u_c + (S/2) fx / z_c + 0.5)``; the
    same with ``fy`` for rows. The box may extend beyond the image.

    :param center_mm: (3,) cube centre, mm
    :param cube_mm: cube side S, mm
    :param intrinsics: camera of the frame
    :returns: (x0, y0, x1, y1), end exclusive
    """
    center = _check_center(center_mm)
    cube = _check_cube(cube_mm)
    u, v, z = intrinsics.project(center)
    half_u = cube / 2.0 * intrinsics.fx / z
    half_v = cube / 2.0 * intrinsics.fy / z
    box = (int(np.floor(u - half_u + 0.5)), int(np.floor(v - half_v + 0.5)),
           int(np.floor(u + half_u + 0.5)), int(np.floor(v + half_v + 0.5)))
    if box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f'cube of {cube} mm at depth {z} mm projects to an empty box {box}')
    return box


def box_transform(box: Box, size: int = INPUT_SIZE) -> np.ndarray:
    """Affine original pixel -> crop pixel for a box (spec 3.4 steps 4-5).

    The box is scaled uniformly so that its longer side spans ``size`` pixels, and centred in the
    ``size x size`` canvas: ``offset = floor(size/2 - resized/2)`` on each axis, with the shorter
    side resized to ``int(short * size / long)`` as in the reference code.

    :param box: (x0, y0, x1, y1), end exclusive, non-empty
    :param size: crop side in pixels
    :returns: (3, 3) float64 affine matrix
    """
    x0, y0, x1, y1 = (int(b) for b in box)
    width, height = x1 - x0, y1 - y0
    if width <= 0 or height <= 0:
        raise ValueError(f'crop box {box} is empty')
    _check_size(size)
    longer = max(width, height)
    scale = size / longer
    resized_w = size if width >= height else int(width * size / height)
    resized_h = size if height >= width else int(height * size / width)
    off_x = np.floor(size / 2.0 - resized_w / 2.0)
    off_y = np.floor(size / 2.0 - resized_h / 2.0)
    return np.array([[scale, 0.0, off_x - scale * x0],
                     [0.0, scale, off_y - scale * y0],
                     [0.0, 0.0, 1.0]])


def crop_hand(depth_mm: np.ndarray, center_mm, cube_mm: float, intrinsics: Intrinsics,
              size: int = INPUT_SIZE, *, min_depth_mm: Optional[float] = None,
              max_depth_mm: Optional[float] = None) -> Crop:
    """Cut the cube of side ``cube_mm`` around ``center_mm`` into a normalised crop (spec 3.4-3.5).

    Only the ``size x size`` sampled pixels are ever touched, never the whole frame.

    :param depth_mm: (H, W) depth in mm, uint16 or float; 0 / NaN / inf = no reading
    :param center_mm: (3,) cube centre, camera frame, mm
    :param cube_mm: cube side S in mm (spec 3.3: e.g. 250 for NYU/ICVL tests, 220 'bighand')
    :param intrinsics: camera of ``depth_mm``
    :param size: crop side in pixels (96, spec 1.1)
    :param min_depth_mm: dataset pre-clean (spec 3.4 step 1): nearer readings become 0
    :param max_depth_mm: dataset pre-clean (spec 3.4 step 1, ICVL: 1500): farther become 0
    :returns: the :class:`Crop`
    """
    depth = _check_depth(depth_mm)
    if depth.shape != (intrinsics.height, intrinsics.width):
        raise ValueError(f'depth image is {depth.shape[1]}x{depth.shape[0]} but the intrinsics '
                         f'describe {intrinsics.width}x{intrinsics.height}')
    box = crop_box(center_mm, cube_mm, intrinsics)
    return crop_with_transform(depth, center_mm, cube_mm, box_transform(box, size), size=size,
                               box=box, min_depth_mm=min_depth_mm, max_depth_mm=max_depth_mm)


def crop_with_transform(depth_mm: np.ndarray, center_mm, cube_mm: float, transform,
                        *, size: int = INPUT_SIZE, box: Optional[Box] = None,
                        min_depth_mm: Optional[float] = None,
                        max_depth_mm: Optional[float] = None) -> Crop:
    """Sample any affine view of a frame, normalised around a cube (spec 3.4 steps 1, 3-4; 3.5).

    Crop pixel ``q`` takes the frame pixel ``floor(transform^-1 q)``. Samples outside the image or
    outside ``box`` are "no reading"; readings nearer than ``z_c - S/2`` are clamped to it, those
    farther than ``z_c + S/2`` dropped. Thresholds are per pixel, so applying them after the
    nearest-neighbour sampling equals the spec's order (threshold the cut box, then resize); the
    near clamp and the far drop select disjoint pixels, so their order does not matter either.

    :param depth_mm: (H, W) depth in mm, uint16 or float; 0 / NaN / inf = no reading
    :param center_mm: (3,) cube centre, mm; defines the depth range and normalisation
    :param cube_mm: cube side S, mm
    :param transform: (3, 3) affine original pixel -> crop pixel, last row (0, 0, 1)
    :param size: crop side in pixels
    :param box: (x0, y0, x1, y1) source box; samples outside it are background. ``None``: the
        image bounds only, and ``Crop.roi`` becomes the bounding box of the crop's footprint
    :param min_depth_mm: optional pre-clean, nearer readings become 0 (spec 3.4 step 1)
    :param max_depth_mm: optional pre-clean, farther readings become 0 (spec 3.4 step 1)
    :returns: the :class:`Crop`
    """
    depth = _check_depth(depth_mm)
    center = _check_center(center_mm)
    cube = _check_cube(cube_mm)
    matrix = _check_affine(transform)
    size = _check_size(size)
    inverse = _affine_inverse(matrix)
    if box is None:
        corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], float)
        source = corners @ inverse.T
        box = (int(np.floor(source[:, 0].min())), int(np.floor(source[:, 1].min())),
               int(np.ceil(source[:, 0].max())), int(np.ceil(source[:, 1].max())))
        clip = (0, 0, depth.shape[1], depth.shape[0])
    else:
        box = tuple(int(b) for b in box)
        clip = box
    values, inside = _sample_nearest(depth, inverse, clip, size)
    normalised = _normalise_depth(values, inside, center[2], cube, min_depth_mm, max_depth_mm)
    return Crop(normalised, center, cube, matrix, box)


def rotation_about(angle_deg: float, pivot_uv) -> np.ndarray:
    """3x3 in-plane rotation by ``angle_deg`` (counter-clockwise on screen) about a pixel point.

    Same convention as ``cv2.getRotationMatrix2D(pivot, angle_deg, 1)``; :func:`rotate_crop`
    uses it about the cube centre's crop pixel.

    :param angle_deg: rotation angle in degrees
    :param pivot_uv: (2,) pixel that stays fixed
    :returns: (3, 3) float64 affine matrix
    """
    pu, pv = (float(p) for p in np.asarray(pivot_uv, dtype=np.float64).reshape(2))
    a = np.deg2rad(angle_deg)
    c, s = np.cos(a), np.sin(a)
    # v points down, so a counter-clockwise turn on screen is (u, v) -> (c u + s v, -s u + c v).
    return np.array([[c, s, pu - c * pu - s * pv],
                     [-s, c, pv + s * pu - c * pv],
                     [0.0, 0.0, 1.0]])


def rotate_crop(depth_mm: np.ndarray, crop: Crop, joints_mm, angle_deg: float,
                intrinsics: Intrinsics, *, min_depth_mm: Optional[float] = None,
                max_depth_mm: Optional[float] = None) -> Tuple[Crop, np.ndarray]:
    """In-plane rotation augmentation (spec 3.7 'rot') of a crop and its joints, consistently.

    The image rotates about the cube centre's pixel, sampled once from the frame (nearest,
    pixels from outside ``crop.roi`` or the image become background, as the spec's warpAffine
    with border 0 of the cut crop); the joints rotate in uvd about the same point and are
    back-projected. The result describes a virtual frame in which the hand turned about the
    centre's viewing ray, so it keeps ``crop.transform`` and ``crop.roi``: ``joints_to_crop_uv``,
    ``heatmap_targets`` and ``normalize_joints`` apply unchanged to the returned pair.

    :param depth_mm: (H, W) the frame ``crop`` was cut from, mm
    :param crop: the unrotated crop (:func:`crop_hand`)
    :param joints_mm: (..., 3) joints (or any points) of the frame, mm
    :param angle_deg: rotation angle, degrees, counter-clockwise on screen
    :param intrinsics: camera of ``depth_mm``
    :param min_depth_mm: optional pre-clean as in :func:`crop_hand`
    :param max_depth_mm: optional pre-clean as in :func:`crop_hand`
    :returns: (rotated crop, rotated joints (..., 3) float64 mm)
    """
    pivot = joints_to_crop_uv(crop.center_mm, crop, intrinsics)
    rotation = rotation_about(angle_deg, pivot)
    view = crop_with_transform(depth_mm, crop.center_mm, crop.cube_mm, rotation @ crop.transform,
                               size=crop.size, box=crop.roi, min_depth_mm=min_depth_mm,
                               max_depth_mm=max_depth_mm)
    in_image = _affine_inverse(crop.transform) @ rotation @ crop.transform
    joints = transform_joints_in_image(joints_mm, in_image, intrinsics)
    return Crop(view.depth, crop.center_mm, crop.cube_mm, crop.transform, crop.roi), joints


def normalize_joints(joints_mm, center_mm, cube_mm) -> np.ndarray:
    """Joints to regression targets ``(j - c) / (S/2)`` (spec 3.6).

    :param joints_mm: (..., A, 3) joints, mm
    :param center_mm: (3,) or (..., 3) centres matching the leading dimensions of ``joints_mm``
    :param cube_mm: scalar or (...,) cube sides, mm
    :returns: (..., A, 3) float64 normalised joints
    """
    joints, center, half = _broadcast_joint_args(joints_mm, center_mm, cube_mm)
    return (joints - center) / half


def denormalize_joints(normalized, center_mm, cube_mm) -> np.ndarray:
    """Inverse of :func:`normalize_joints`: ``J_mm = n (S/2) + c`` (spec 3.6).

    :param normalized: (..., A, 3) normalised joints (network output reshaped)
    :param center_mm: (3,) or (..., 3) centres, mm
    :param cube_mm: scalar or (...,) cube sides, mm
    :returns: (..., A, 3) float64 joints, mm
    """
    joints, center, half = _broadcast_joint_args(normalized, center_mm, cube_mm)
    return joints * half + center


def joints_to_crop_uv(joints_mm, crop: Crop, intrinsics: Intrinsics) -> np.ndarray:
    """Project 3D points into the crop: image projection, then ``crop.transform`` (spec 2.3 1).

    :param joints_mm: (..., 3) points, camera frame, mm
    :param crop: the crop
    :param intrinsics: camera of the frame the crop was cut from
    :returns: (..., 2) float64 crop pixel coordinates
    """
    uv = intrinsics.project(joints_mm)[..., :2]
    return _apply_affine(crop.transform, uv)


def crop_uv_to_image(uv_crop, crop: Crop) -> np.ndarray:
    """Crop pixel coordinates back to original-image pixel coordinates (e.g. for drawing).

    :param uv_crop: (..., 2) crop pixel coordinates
    :param crop: the crop
    :returns: (..., 2) float64 image pixel coordinates
    """
    return _apply_affine(_affine_inverse(crop.transform), np.asarray(uv_crop, dtype=np.float64))


def transform_joints_in_image(joints_mm, matrix, intrinsics: Intrinsics) -> np.ndarray:
    """Move 3D points by an image-plane affine, keeping each point's depth (spec 3.7 'rot').

    For a crop-pixel rotation ``R`` the image-plane matrix is ``inv(T) @ R @ T``, ``T`` =
    ``crop.transform`` (what :func:`rotate_crop` does).

    :param joints_mm: (..., 3) points, mm
    :param matrix: (3, 3) affine image pixel -> image pixel
    :param intrinsics: camera of the frame
    :returns: (..., 3) float64 moved points, mm
    """
    uvd = intrinsics.project(joints_mm)
    uvd[..., :2] = _apply_affine(_check_affine(matrix), uvd[..., :2])
    return intrinsics.backproject(uvd)


def _sample_nearest(image: np.ndarray, inverse: np.ndarray, clip: Box, size: int):
    """Values of ``image`` at ``floor(inverse @ q)`` for every crop pixel ``q``.

    :returns: (values (size, size) of image dtype, inside (size, size) bool): ``inside`` is False
        where the source pixel is outside ``clip`` or the image (the value there is arbitrary)
    """
    height, width = image.shape
    x_lo, y_lo = max(clip[0], 0), max(clip[1], 0)
    x_hi, y_hi = min(clip[2], width), min(clip[3], height)
    q = np.arange(size, dtype=np.float64)
    if inverse[0, 1] == 0.0 and inverse[1, 0] == 0.0:
        # Axis-aligned (every plain crop): separable, 2 x size indices instead of size^2, and
        # rows first then columns (half the time of one 2-D fancy index).
        cols = np.floor(inverse[0, 0] * q + (inverse[0, 2] + _FLOOR_SLACK)).astype(np.intp)
        rows = np.floor(inverse[1, 1] * q + (inverse[1, 2] + _FLOOR_SLACK)).astype(np.intp)
        inside = (((rows >= y_lo) & (rows < y_hi))[:, None]
                  & ((cols >= x_lo) & (cols < x_hi))[None, :])
        values = image[np.clip(rows, 0, height - 1)][:, np.clip(cols, 0, width - 1)]
        return values, inside
    qv, qu = np.meshgrid(q, q, indexing='ij')
    cols = np.floor(inverse[0, 0] * qu + inverse[0, 1] * qv + inverse[0, 2]
                    + _FLOOR_SLACK).astype(np.intp)
    rows = np.floor(inverse[1, 0] * qu + inverse[1, 1] * qv + inverse[1, 2]
                    + _FLOOR_SLACK).astype(np.intp)
    inside = (cols >= x_lo) & (cols < x_hi) & (rows >= y_lo) & (rows < y_hi)
    values = image[np.clip(rows, 0, height - 1), np.clip(cols, 0, width - 1)]
    return values, inside


def _normalise_depth(values: np.ndarray, inside: np.ndarray, z_center: float, cube: float,
                     min_depth_mm: Optional[float], max_depth_mm: Optional[float]) -> np.ndarray:
    """Readings -> [-1, 1] (spec 3.4 steps 1, 3 and 3.5): invalid/far +1, near clamped to -1."""
    depth = values.astype(np.float32)
    # ``> 0`` is False for 0, negatives and NaN, so one test covers every "no reading".
    valid = inside & (depth > 0)
    if min_depth_mm is not None:
        valid &= depth >= min_depth_mm
    if max_depth_mm is not None:
        valid &= depth <= max_depth_mm
    normalised = depth
    normalised -= np.float32(z_center)
    normalised /= np.float32(cube / 2.0)
    # Near readings clamp to z_c - S/2 (-1); far ones (> z_c + S/2, +inf included) become "no
    # reading", which normalises to z_c + S/2 (+1): both are this clip.
    np.clip(normalised, -1.0, 1.0, out=normalised)
    np.copyto(normalised, np.float32(1.0), where=~valid)
    return normalised


def _apply_affine(matrix: np.ndarray, uv: np.ndarray) -> np.ndarray:
    return uv @ matrix[:2, :2].T + matrix[:2, 2]


def _affine_inverse(matrix: np.ndarray) -> np.ndarray:
    """Inverse of a 3x3 affine (last row 0 0 1), closed form: cheaper than a general inverse."""
    (a, b, tx), (c, d, ty) = matrix[0], matrix[1]
    det = a * d - b * c
    return np.array([[d / det, -b / det, (b * ty - d * tx) / det],
                     [-c / det, a / det, (c * tx - a * ty) / det],
                     [0.0, 0.0, 1.0]])


def _broadcast_joint_args(joints, center_mm, cube_mm):
    joints = np.asarray(joints, dtype=np.float64)
    center = np.asarray(center_mm, dtype=np.float64)
    cube = np.asarray(cube_mm, dtype=np.float64)
    if joints.ndim < 2 or joints.shape[-1] != 3:
        raise ValueError(f'joints must have shape (..., A, 3), got {joints.shape}')
    if center.shape[-1:] != (3,):
        raise ValueError(f'center_mm must have shape (3,) or (..., 3), got {center.shape}')
    if not np.all(cube > 0):
        raise ValueError(f'cube_mm must be positive, got {cube_mm}')
    return joints, center[..., None, :], cube[..., None, None] / 2.0


def _check_depth(depth_mm) -> np.ndarray:
    depth = np.asarray(depth_mm)
    if depth.ndim != 2 or depth.size == 0:
        raise ValueError(f'depth image must be a non-empty 2-D array, got shape {depth.shape}')
    if not (np.issubdtype(depth.dtype, np.integer) or np.issubdtype(depth.dtype, np.floating)):
        raise ValueError(f'depth image must hold integers or floats, got dtype {depth.dtype}')
    return depth


def _check_center(center_mm) -> np.ndarray:
    center = np.array(center_mm, dtype=np.float64).reshape(-1)  # a copy: crops own their data
    if center.shape != (3,) or not np.all(np.isfinite(center)) or center[2] <= 0:
        raise ValueError(f'center_mm must be 3 finite values with z > 0, got {center_mm}')
    return center


def _check_size(size) -> int:
    if int(size) != size or size <= 0:
        raise ValueError(f'crop size must be a positive integer, got {size}')
    return int(size)


def _check_cube(cube_mm) -> float:
    cube = float(cube_mm)
    if not np.isfinite(cube) or cube <= 0:
        raise ValueError(f'cube_mm must be positive and finite, got {cube_mm}')
    return cube


def _check_affine(matrix) -> np.ndarray:
    matrix = np.array(matrix, dtype=np.float64)  # a copy: crops own their data
    if (matrix.shape != (3, 3) or not np.all(np.isfinite(matrix))
            or not np.array_equal(matrix[2], [0.0, 0.0, 1.0])
            or abs(np.linalg.det(matrix[:2, :2])) < 1e-12):
        raise ValueError(f'transform must be an invertible 3x3 affine with last row (0, 0, 1), '
                         f'got {matrix.tolist()}')
    return matrix
