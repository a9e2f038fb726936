"""Wrist pose from the wrist and finger-root joints (ROS-free).

The frame of HandPose.wrist_pose (msg/HandPose.msg): origin at the wrist joint; x from the wrist
towards the middle-finger MCP; z the palm normal, pointing out of the palm side; y = z x x.
The palm side is told apart from the back by the order of the finger roots across the palm
(index towards thumb, pinky away from it), which flips between a right and a left hand.
"""

from typing import Optional, Tuple

import numpy as np

from crossinfonet_ros.layouts import JointLayout

# Below this length (in the joints' unit, mm or m alike at realistic sizes) an axis is degenerate.
_MIN_NORM = 1e-9


def hand_rotation(joints: np.ndarray, layout: JointLayout,
                  handedness: str = 'right') -> Optional[np.ndarray]:
    """Rotation matrix whose columns are the hand frame's x, y, z axes in the camera frame.

    :param joints: (A, 3) joints in the layout's order, any length unit
    :param layout: the joints' layout (``wrist`` and ``mcps``: thumb, index, middle, ring, pinky)
    :param handedness: 'right' or 'left'
    :returns: (3, 3) rotation, or None when the joints are degenerate (collinear, coincident)
    """
    if handedness not in ('right', 'left'):
        raise ValueError(f"handedness must be 'right' or 'left', got {handedness!r}")
    joints = np.asarray(joints, dtype=np.float64)
    wrist = joints[layout.wrist]
    _, index, middle, _, pinky = (joints[i] for i in layout.mcps)
    x = middle - wrist
    if not np.all(np.isfinite(joints)) or np.linalg.norm(x) < _MIN_NORM:
        return None
    x = x / np.linalg.norm(x)
    # Across the palm towards the thumb, made orthogonal to x.
    across = index - pinky
    across = across - np.dot(across, x) * x
    if np.linalg.norm(across) < _MIN_NORM:
        return None
    across /= np.linalg.norm(across)
    # Right hand, palm facing the viewer, fingers up: thumb to the viewer's right, so
    # thumb-ward x finger-ward points at the viewer, out of the palm. Mirrored for a left hand.
    z = np.cross(across, x) if handedness == 'right' else np.cross(x, across)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=1)


def quaternion_from_matrix(rotation: np.ndarray) -> Tuple[float, float, float, float]:
    """(x, y, z, w) unit quaternion of a rotation matrix, w >= 0 (Shepperd's method)."""
    m = np.asarray(rotation, dtype=np.float64)
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    if trace > 0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = ((m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, s / 4)
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = (s / 4, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s)
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = ((m[0, 1] + m[1, 0]) / s, s / 4, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s)
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = ((m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, s / 4, (m[1, 0] - m[0, 1]) / s)
    q = np.array(q)
    q /= np.linalg.norm(q)
    if q[3] < 0:
        q = -q
    return tuple(float(v) for v in q)


def wrist_pose(joints: np.ndarray, layout: JointLayout, handedness: str = 'right'):
    """Wrist position and orientation: ``((x, y, z), (qx, qy, qz, qw))``.

    Degenerate joints give the identity orientation at the wrist.

    :param joints: (A, 3) joints, any length unit (the position comes out in the same unit)
    :param layout: the joints' layout
    :param handedness: 'right' or 'left'
    """
    joints = np.asarray(joints, dtype=np.float64)
    rotation = hand_rotation(joints, layout, handedness)
    quaternion = (0.0, 0.0, 0.0, 1.0) if rotation is None else quaternion_from_matrix(rotation)
    return tuple(float(v) for v in joints[layout.wrist]), quaternion
