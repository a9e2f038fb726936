"""Either hand through right-hand weights: the mirror image in the camera's x.

A left hand is the mirror image of a right hand. Reflecting a scene in the camera's y-z plane
(``x -> -x``; y and z kept) is exact for a pinhole camera: the depth image of the reflected
scene is the original image with its columns reversed, seen through the same camera with the
principal point moved to ``width - 1 - cx`` (pixel ``u`` of the reversed image is column
``width - 1 - u`` of the original). So a left hand is estimated by cutting the standard crop
(:func:`~crossinfonet_ros.codec.crop_hand`) of the reversed frame around the reflected centre,
running the right-hand network on it, and reflecting the joints back; nothing is resampled
twice and the depth values are untouched. The pipeline, the evaluation and the renderer's
left hands all use these functions.

``side`` below is the hand's side as the user has it: ``'right'`` (the network's own side,
nothing mirrored) or ``'left'``.
"""

from typing import Tuple

import numpy as np

from crossinfonet_ros.camera import Intrinsics
from crossinfonet_ros.codec import INPUT_SIZE, Box, Crop, crop_hand

SIDES = ('right', 'left')
# What a user may ask for: a side, or 'auto' (decided from the depth on each fresh detection).
HANDEDNESS_MODES = ('auto',) + SIDES
# The reflection x -> -x of the camera frame, as a matrix (its own inverse).
REFLECTION = np.diag([-1.0, 1.0, 1.0])


def check_side(side: str) -> str:
    """``side`` when it is one of :data:`SIDES`.

    :raises ValueError: anything else
    """
    if side not in SIDES:
        raise ValueError(f"a hand's side must be one of {SIDES}, got {side!r}")
    return side


def mirror_points(points) -> np.ndarray:
    """Reflect camera-frame points in the y-z plane (``x -> -x``); any unit.

    :param points: (..., 3) points
    :returns: (..., 3) float64 reflected copy
    """
    mirrored = np.array(points, dtype=np.float64)
    mirrored[..., 0] *= -1.0
    return mirrored


def mirror_intrinsics(intrinsics: Intrinsics) -> Intrinsics:
    """The camera that sees the reflected scene in the column-reversed image."""
    return Intrinsics(intrinsics.fx, intrinsics.fy, intrinsics.width - 1 - intrinsics.cx,
                      intrinsics.cy, intrinsics.width, intrinsics.height)


def mirror_frame(depth: np.ndarray, intrinsics: Intrinsics) -> Tuple[np.ndarray, Intrinsics]:
    """The depth image of the reflected scene: the columns reversed (a view, no copy) and its
    camera (:func:`mirror_intrinsics`).

    :param depth: (H, W) depth image, any unit
    :param intrinsics: its camera
    """
    return np.asarray(depth)[:, ::-1], mirror_intrinsics(intrinsics)


def mirror_box(box: Box, width: int) -> Box:
    """A pixel box (x0, y0, x1, y1), end exclusive, in the column-reversed image of ``width``
    columns, back in the original image (and the other way: its own inverse)."""
    x0, y0, x1, y1 = (int(b) for b in box)
    return (width - x1, y0, width - x0, y1)


def side_points(points, side: str) -> np.ndarray:
    """Points between the camera frame and the frame the right-hand network sees a ``side``
    hand in (the same map both ways): reflected for a left hand, a copy for a right one.

    :param points: (..., 3) points, any unit
    :param side: ``'right'`` or ``'left'``
    """
    if check_side(side) == 'left':
        return mirror_points(points)
    return np.array(points, dtype=np.float64)


def side_camera(intrinsics: Intrinsics, side: str) -> Intrinsics:
    """The camera as the right-hand network sees a ``side`` hand through it."""
    return mirror_intrinsics(intrinsics) if check_side(side) == 'left' else intrinsics


def side_frame(depth: np.ndarray, intrinsics: Intrinsics,
               side: str) -> Tuple[np.ndarray, Intrinsics]:
    """The frame and camera as the right-hand network sees a ``side`` hand in them."""
    if check_side(side) == 'left':
        return mirror_frame(depth, intrinsics)
    return depth, intrinsics


def crop_side(depth_mm: np.ndarray, center_mm, cube_mm: float, intrinsics: Intrinsics,
              side: str, size: int = INPUT_SIZE) -> Crop:
    """The network input for a ``side`` hand: :func:`~crossinfonet_ros.codec.crop_hand` of the
    frame as :func:`side_frame` gives it, around the centre as :func:`side_points` gives it.

    The crop's ``center_mm``, ``transform`` and ``roi`` describe that (for a left hand,
    reflected) frame: map joints with :func:`side_points` and boxes with :func:`mirror_box`.

    :param depth_mm: (H, W) depth, mm, matching ``intrinsics``
    :param center_mm: (3,) cube centre in the camera frame, mm
    :param cube_mm: cube side, mm
    :param intrinsics: the camera
    :param side: ``'right'`` or ``'left'``
    :param size: crop side, pixels
    """
    depth, camera = side_frame(depth_mm, intrinsics, side)
    return crop_hand(depth, side_points(center_mm, side), cube_mm, camera, size)
