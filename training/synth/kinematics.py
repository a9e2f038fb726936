"""Forward kinematics: hand shape + pose (+ wrist placement) -> the 21 joints.

Each finger is a chain root -> PIP -> DIP -> TIP. A finger's root frame is the hand frame
turned by the finger's rest splay in the palm plane (and, for ring and pinky, by the palm
cup), then by MCP abduction about its z axis and MCP flexion about its y axis. The thumb's root
frame is its own: the metacarpal leaves the palm plane radially (CMC flexion brings it across
the palm), palmar abduction swings it about the hand's long axis out of the palm plane, and it
is pronated so its pad faces the fingers, more so as it abducts (opposition). The next two
joints of every chain are hinges about the root frame's y axis, so the last two segments stay
in the plane of the first.
"""

from typing import Optional

import numpy as np

from training.synth.poses import CUP, LOWER, NUM_DOFS, UPPER
from training.synth.skeleton import CHAINS, FINGER_SPLAY_DEG, NUM_JOINTS, WRIST, HandShape
# How much of the palm cup each finger's metacarpal takes (ring and pinky fold, index does not).
CUP_SHARE = np.array([0.0, 0.0, 0.0, 0.5, 1.0])
# Thumb CMC: the metacarpal leaves the palm plane at THUMB_RADIAL_DEG minus the CMC flexion
# (towards the thumb side), palmar abduction then swings it about the hand's long axis out of
# the palm plane. Its pad faces the fingers: a roll about the metacarpal of THUMB_ROLL_DEG in the
# palm plane, turning further with palmar abduction (opposition pronates the thumb).
THUMB_RADIAL_DEG = 45.0
THUMB_ROLL_DEG = -80.0
THUMB_ROLL_PER_ABD = 0.6


def _rotation(angle, first: int, second: int) -> np.ndarray:
    """Rotations (..., 3, 3) in the plane of axes ``first`` -> ``second`` by angles (...)."""
    angle = np.asarray(angle, dtype=np.float64)
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros(angle.shape + (3, 3))
    out[..., 3 - first - second, 3 - first - second] = 1.0
    out[..., first, first] = c
    out[..., second, second] = c
    out[..., second, first] = s
    out[..., first, second] = -s
    return out


def rot_x(angle) -> np.ndarray:
    """Rotations about x, (..., 3, 3).

    :param angle: angles (...), radians
    """
    return _rotation(angle, 1, 2)


def rot_y(angle) -> np.ndarray:
    """Rotations about y, (..., 3, 3).

    :param angle: angles (...), radians
    """
    return _rotation(angle, 2, 0)


def rot_z(angle) -> np.ndarray:
    """Rotations about z, (..., 3, 3).

    :param angle: angles (...), radians
    """
    return _rotation(angle, 0, 1)


def root_frames(pose: np.ndarray) -> np.ndarray:
    """Frame of each finger's first segment (..., 5, 3, 3) in the hand frame: x along the
    segment, flexion of the next joints bends towards -z.

    :param pose: (..., NUM_DOFS) angles in degrees
    """
    pose = np.asarray(pose, dtype=np.float64)
    angles = np.radians(pose[..., :20]).reshape(pose.shape[:-1] + (5, 4))
    cup = np.radians(pose[..., CUP])[..., None] * CUP_SHARE
    base = rot_x(cup) @ rot_z(np.radians(FINGER_SPLAY_DEG))
    frames = base @ rot_z(angles[..., 0]) @ rot_y(angles[..., 1])
    frames[..., 0, :, :] = _thumb_frame(angles[..., 0, 0], angles[..., 0, 1])
    return frames


def _thumb_frame(palmar, flex) -> np.ndarray:
    """Thumb root frame(s) (..., 3, 3) for CMC palmar abduction and flexion (radians, ...)."""
    roll = np.radians(THUMB_ROLL_DEG) + THUMB_ROLL_PER_ABD * palmar
    return rot_x(-palmar) @ rot_z(np.radians(THUMB_RADIAL_DEG) - flex) @ rot_x(roll)


def _tip(shape: HandShape, finger: int, chain_deg: np.ndarray) -> np.ndarray:
    """Tip (3,) of one chain in the hand frame for its four angles (degrees), palm cup 0."""
    abduct, flex, bend2, bend3 = np.radians(chain_deg)
    if finger == 0:
        frame = _thumb_frame(abduct, flex)
    else:
        frame = rot_z(np.radians(FINGER_SPLAY_DEG[finger]) + abduct) @ rot_y(flex)
    lengths = shape.lengths[finger]
    local = (lengths[0] * np.array([1.0, 0.0, 0.0])
             + lengths[1] * np.array([np.cos(bend2), 0.0, -np.sin(bend2)])
             + lengths[2] * np.array([np.cos(bend2 + bend3), 0.0, -np.sin(bend2 + bend3)]))
    return shape.roots[finger] + frame @ local


def touch_thumb_to_index(shape: HandShape, pose: np.ndarray, iterations: int = 10,
                         gap_mm: Optional[float] = None) -> np.ndarray:
    """Bend thumb and index so their tips touch (pinch, 'ok'), within the joint limits.

    Damped least squares (finite-difference Jacobian) on the gap between the tip spheres over
    six angles: the thumb's four and the index MCP and PIP flexion (its DIP follows 2/3 of the
    PIP change, the natural coupling). The rest of the pose is unchanged.

    :param shape: the individual hand
    :param pose: (NUM_DOFS,) angles, degrees
    :param iterations: solver steps
    :param gap_mm: distance to leave between the tip joints (default: the two tip radii, the
        tip spheres touching; more holds an object between them)
    """
    pose = np.array(pose, dtype=np.float64)
    gap = shape.radii[0, 3] + shape.radii[1, 3] if gap_mm is None else gap_mm
    thumb = pose[0:4].copy()
    index = pose[4:8].copy()  # abd, flex1, flex2, flex3
    pip0, dip0 = index[2], index[3]

    def index_chain(flex1: float, flex2: float) -> np.ndarray:
        return np.array([index[0], flex1, flex2, dip0 + (flex2 - pip0) * 2.0 / 3.0])

    for _ in range(iterations):
        thumb_tip = _tip(shape, 0, thumb)
        index_tip = _tip(shape, 1, index)
        offset = thumb_tip - index_tip
        distance = max(np.linalg.norm(offset), 1e-9)
        error = offset * (1.0 - gap / distance)  # zero when the tip spheres just touch
        if np.linalg.norm(error) < 0.5:
            break
        # Jacobian of the offset (thumb angles move the thumb tip, index angles the index tip).
        jacobian = np.empty((3, 6))
        for k in range(4):
            step = np.zeros(4)
            step[k] = 0.5
            jacobian[:, k] = (_tip(shape, 0, thumb + step) - thumb_tip) / 0.5
        for k in range(2):
            bent = index_chain(index[1] + 0.5 * (k == 0), index[2] + 0.5 * (k == 1))
            jacobian[:, 4 + k] = (index_tip - _tip(shape, 1, bent)) / 0.5
        normal = jacobian @ jacobian.T + 2.0 * np.eye(3)
        step = -jacobian.T @ np.linalg.solve(normal, error)
        thumb = np.clip(thumb + step[:4], LOWER[0:4], UPPER[0:4])
        flex1 = np.clip(index[1] + step[4], LOWER[5], UPPER[5])
        flex2 = np.clip(index[2] + step[5], LOWER[6], UPPER[6])
        index = index_chain(flex1, flex2)
        index[3] = np.clip(index[3], LOWER[7], UPPER[7])
    pose[0:4] = thumb
    pose[4:8] = index
    return pose


def hand_joints(shape: HandShape, pose: np.ndarray) -> np.ndarray:
    """The 21 joints (..., 21, 3) in the hand frame (mm) for one hand and one or more poses.

    :param shape: the individual hand
    :param pose: (..., NUM_DOFS) angles in degrees (see :mod:`training.synth.poses`); a batch
        of poses (the grasp solver tries many at once) gives a batch of joint sets
    """
    pose = np.asarray(pose, dtype=np.float64)
    if pose.shape[-1:] != (NUM_DOFS,):
        raise ValueError(f'pose must hold {NUM_DOFS} angles, got shape {pose.shape}')
    batch = pose.shape[:-1]
    angles = np.radians(pose[..., :20]).reshape(batch + (5, 4))
    cup = np.radians(pose[..., CUP])[..., None] * CUP_SHARE
    roots = np.einsum('...nij,nj->...ni', rot_x(cup), shape.roots)
    roots[..., 0, :] = shape.roots[0]
    first = root_frames(pose)
    bend2 = angles[..., 2]
    bend3 = angles[..., 2] + angles[..., 3]
    local = np.stack([np.stack([np.cos(b), np.zeros_like(b), -np.sin(b)], -1)
                      for b in (bend2, bend3)], axis=-2)  # (..., 5, 2, 3)
    directions = np.concatenate([first[..., None, :, 0],
                                 np.einsum('...nij,...nkj->...nki', first, local)], axis=-2)
    steps = directions * shape.lengths[:, :, None]
    chain = roots[..., None, :] + np.concatenate(
        [np.zeros(batch + (5, 1, 3)), np.cumsum(steps, -2)], -2)
    joints = np.empty(batch + (NUM_JOINTS, 3))
    joints[..., WRIST, :] = 0.0
    joints[..., CHAINS, :] = chain
    return joints


def wrist_rotation(flex_deg: float, deviation_deg: float) -> np.ndarray:
    """Rotation of the hand frame relative to the forearm frame (3, 3).

    The forearm frame has x pointing from elbow to wrist, y radial, z dorsal; with a straight
    wrist it equals the hand frame. Flexion (positive: palm towards the forearm's volar side)
    turns about y, radial deviation (positive) about z.

    :param flex_deg: wrist flexion, degrees (negative = extension)
    :param deviation_deg: radial (positive) / ulnar (negative) deviation, degrees
    """
    return rot_z(np.radians(deviation_deg)) @ rot_y(np.radians(flex_deg))


def to_camera(points_hand: np.ndarray, rotation: np.ndarray, wrist_mm: np.ndarray) -> np.ndarray:
    """Map hand-frame points (..., 3) to the camera frame: ``rotation @ p + wrist``.

    :param points_hand: points in the hand frame, mm
    :param rotation: (3, 3) hand-to-camera rotation
    :param wrist_mm: (3,) wrist position in the camera frame, mm
    """
    return points_hand @ np.asarray(rotation).T + np.asarray(wrist_mm)
