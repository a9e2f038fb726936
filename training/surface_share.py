"""Do estimated joints lie on the depth they came from? A check for frames without labels.

A joint is *on the surface* when it projects onto a pixel with a depth reading and lies between
``FRONT_MM`` in front of and ``BACK_MM`` behind that reading. The figure says the skeleton sits
in the visible hand; it cannot say the joints are the right ones (a thumb drawn on the pinky's
side still lies on the hand).
"""

from typing import Dict, Tuple

import numpy as np

from crossinfonet_ros.camera import Intrinsics
from crossinfonet_ros.layouts import JointLayout

# The window around the observed depth, mm (joint depth minus reading): a fingertip lies a few
# mm under its visible skin; a palm joint about half the hand's thickness behind it.
FRONT_MM = 10.0
BACK_MM = 40.0

# Why a joint is not on the surface, in the order :func:`joint_outcomes` checks.
OUTCOMES = ('on', 'off_image', 'no_reading', 'in_front', 'behind')


def surface_offsets(joints_mm: np.ndarray, depth_mm: np.ndarray,
                    intrinsics: Intrinsics) -> Tuple[np.ndarray, np.ndarray]:
    """Each joint's depth minus the reading at its pixel, and whether it falls in the image.

    :param joints_mm: (A, 3) joints, camera optical frame, mm
    :param depth_mm: (H, W) depth, mm, 0 = no reading
    :param intrinsics: the camera of ``depth_mm``
    :returns: (A,) offsets in mm (positive: the joint lies behind the surface; NaN where the
        pixel is off the image or has no reading) and (A,) in-image flags
    """
    joints = np.asarray(joints_mm, dtype=np.float64)
    height, width = depth_mm.shape
    uvd = intrinsics.project(joints)
    with np.errstate(invalid='ignore'):
        # Pixel k covers [k - 0.5, k + 0.5): the nearest pixel centre.
        cols = np.floor(uvd[:, 0] + 0.5)
        rows = np.floor(uvd[:, 1] + 0.5)
        inside = ((joints[:, 2] > 0) & (cols >= 0) & (cols < width) & (rows >= 0)
                  & (rows < height))
    observed = np.zeros(len(joints))
    observed[inside] = depth_mm[rows[inside].astype(np.intp), cols[inside].astype(np.intp)]
    offsets = np.where(inside & (observed > 0), uvd[:, 2] - observed, np.nan)
    return offsets, inside


def joint_outcomes(joints_mm: np.ndarray, depth_mm: np.ndarray, intrinsics: Intrinsics,
                   front_mm: float = FRONT_MM, back_mm: float = BACK_MM) -> np.ndarray:
    """Per joint, one of :data:`OUTCOMES`: on the surface, or why not.

    :param joints_mm: (A, 3) joints, camera optical frame, mm
    :param depth_mm: (H, W) depth, mm, 0 = no reading
    :param intrinsics: the camera of ``depth_mm``
    :param front_mm: how far in front of the reading a joint may lie
    :param back_mm: how far behind the reading a joint may lie
    :returns: (A,) array of outcome names
    """
    offsets, inside = surface_offsets(joints_mm, depth_mm, intrinsics)
    outcome = np.full(len(offsets), 'on', dtype=object)
    outcome[~inside] = 'off_image'
    outcome[inside & np.isnan(offsets)] = 'no_reading'
    with np.errstate(invalid='ignore'):
        outcome[offsets < -front_mm] = 'in_front'
        outcome[offsets > back_mm] = 'behind'
    return outcome.astype(str)


def on_surface(joints_mm: np.ndarray, depth_mm: np.ndarray, intrinsics: Intrinsics,
               front_mm: float = FRONT_MM, back_mm: float = BACK_MM) -> np.ndarray:
    """(A,) bool: the joint lies on the observed surface (see the module docstring)."""
    return joint_outcomes(joints_mm, depth_mm, intrinsics, front_mm, back_mm) == 'on'


def joint_groups(layout: JointLayout) -> Dict[str, np.ndarray]:
    """The layout's joints split by how hard they are to place: ``palm`` (the wrist and the
    finger roots), ``tips`` (names ending in ``tip``) and ``middle`` (the rest).

    :param layout: the joint layout
    :returns: group name -> joint indices, every joint in exactly one group
    """
    palm = sorted({layout.wrist, *layout.mcps})
    tips = [j for j, name in enumerate(layout.joint_names)
            if name.endswith('tip') and j not in palm]
    middle = [j for j in range(layout.num_joints) if j not in palm and j not in tips]
    return {'palm': np.asarray(palm, np.intp), 'middle': np.asarray(middle, np.intp),
            'tips': np.asarray(tips, np.intp)}
