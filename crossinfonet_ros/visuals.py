"""ROS-free drawing for the node's visual outputs: skeleton line segments and the debug crop."""

from typing import Sequence, Tuple

import cv2
import numpy as np

from crossinfonet_ros.codec import Crop

# Debug image side, pixels: the 96 px crop enlarged so joints and bones stay visible.
DEBUG_SIZE = 288
_BONE_BGR = (0, 200, 255)
_JOINT_BGR = (0, 0, 255)


def bone_points(joints: np.ndarray, edges: Sequence[Tuple[int, int]]) -> np.ndarray:
    """(2 E, 3) endpoints of every bone, consecutive pairs (RViz LINE_LIST order)."""
    joints = np.asarray(joints, dtype=np.float64)
    if not len(edges):
        return np.zeros((0, 3))
    return joints[np.asarray(edges, dtype=np.int64).reshape(-1)]


def crop_to_gray(crop: Crop) -> np.ndarray:
    """Normalised crop depth ([-1, 1], background +1) as uint8: near = bright, background dark."""
    return np.clip((1.0 - crop.depth) * 127.5, 0, 255).astype(np.uint8)


def draw_debug(crop: Crop, joints_uv: np.ndarray, edges: Sequence[Tuple[int, int]],
               size: int = DEBUG_SIZE) -> np.ndarray:
    """BGR image of the crop with the skeleton drawn on it.

    :param crop: the network's input crop
    :param joints_uv: (A, 2) joints in crop pixel coordinates (codec.joints_to_crop_uv)
    :param edges: bones as joint index pairs
    :param size: output side, pixels
    :returns: (size, size, 3) uint8 BGR
    """
    gray = cv2.resize(crop_to_gray(crop), (size, size), interpolation=cv2.INTER_NEAREST)
    image = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    scale = size / crop.size
    # Crop pixel centres are at integer coordinates; enlarged pixel k covers [k s, (k + 1) s).
    points = (np.asarray(joints_uv, dtype=np.float64)[:, :2] + 0.5) * scale
    draw_skeleton(image, points, edges, _BONE_BGR, _JOINT_BGR, joint_radius=4)
    return image


def draw_skeleton(image: np.ndarray, points: np.ndarray, edges: Sequence[Tuple[int, int]],
                  bone_bgr, joint_bgr=None, joint_radius: int = 3,
                  bone_width: int = 2) -> None:
    """Draw bones and joints of pixel points on a BGR image, in place.

    :param image: (H, W, 3) uint8 BGR image
    :param points: (J, 2) joint pixel positions; non-finite ones (and their bones) are skipped
    :param edges: bones as joint index pairs
    :param bone_bgr: colour of the bones
    :param joint_bgr: colour of the joints (default: the bones' colour)
    :param joint_radius: joint disc radius, pixels
    :param bone_width: bone line width, pixels
    """
    points = np.asarray(points, dtype=np.float64)[:, :2]
    finite = np.all(np.isfinite(points), axis=1)
    limit = 4 * max(image.shape)  # cv2 needs int32; far-away points only clip
    pixels = np.clip(np.nan_to_num(points), -limit, limit).round().astype(np.int32)
    for a, b in edges:
        if finite[a] and finite[b]:
            cv2.line(image, tuple(pixels[a]), tuple(pixels[b]), bone_bgr, bone_width,
                     cv2.LINE_AA)
    for point, ok in zip(pixels, finite):
        if ok:
            cv2.circle(image, tuple(point), joint_radius, joint_bgr or bone_bgr, -1, cv2.LINE_AA)
