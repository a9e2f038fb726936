"""The renderer's 21 HANDS2017 joints expressed in the other joint layouts.

Joints are matched by name (:mod:`crossinfonet_ros.layouts`: every layout names its joints
``<finger>_<joint>``). Where a layout labels a point the 21-joint skeleton does not have, it is
derived from the skeleton (best effort; the datasets' own annotation conventions are only
approximately reproducible):

* ``msra21``: the same 21 joints, reordered.
* ``icvl16``: ``<finger>_root`` = the finger's MCP; for the thumb, whose BigHand root is the CMC,
  the anatomical MCP (BigHand ``thumb_pip``) so the thumb has root, middle, tip like the
  fingers; ``<finger>_mid`` = PIP (thumb: its IP joint, BigHand ``thumb_dip``); ``palm`` = the
  palm centre, midway between the wrist and the mean of the four finger MCPs.
* ``nyu14``: tips and ``<finger>_pip`` by name (thumb ``pip``/``dip`` = anatomical MCP / IP);
  ``palm`` (PALM_3) = the palm centre as for ICVL; ``wrist_1`` / ``wrist_2`` (PALM_2 / PALM_1)
  = the ulnar / radial edge of the wrist: the wrist joint moved by 40 % of the index-to-pinky
  MCP spread along the hand's radial axis (which side each NYU wrist point is on is assumed).
"""

import numpy as np

from crossinfonet_ros.layouts import get_layout
from training.synth.skeleton import NUM_JOINTS

SOURCE_LAYOUT = 'hands2017'
WRIST_HALF_WIDTH = 0.4  # wrist half-width as a share of the index-to-pinky MCP spread
_ALIASES = {
    'icvl16': {'thumb_root': 'thumb_pip', 'thumb_mid': 'thumb_dip',
               **{f'{f}_root': f'{f}_mcp' for f in ('index', 'middle', 'ring', 'pinky')},
               **{f'{f}_mid': f'{f}_pip' for f in ('index', 'middle', 'ring', 'pinky')}},
    'nyu14': {'wrist_1': 'wrist_ulnar', 'wrist_2': 'wrist_radial'},
}


def derived_points(joints: np.ndarray) -> dict:
    """Points derived from the skeleton, (..., 3) each: palm centre, radial and ulnar wrist.

    :param joints: (..., 21, 3) joints in HANDS2017 order
    """
    layout = get_layout(SOURCE_LAYOUT)
    wrist = joints[..., layout.wrist, :]
    finger_mcps = joints[..., list(layout.mcps[1:]), :]  # index..pinky
    palm = 0.5 * (wrist + finger_mcps.mean(axis=-2))
    across = finger_mcps[..., 0, :] - finger_mcps[..., 3, :]  # pinky -> index: radial
    along = finger_mcps.mean(axis=-2) - wrist
    along = along / np.linalg.norm(along, axis=-1, keepdims=True)
    radial = across - np.sum(across * along, axis=-1, keepdims=True) * along  # MCP spread
    offset = WRIST_HALF_WIDTH * radial
    return {'palm': palm, 'wrist_radial': wrist + offset, 'wrist_ulnar': wrist - offset}


def convert_joints(joints: np.ndarray, layout_name: str) -> np.ndarray:
    """Express HANDS2017-order joints (..., 21, 3) in another layout's order (..., A, 3).

    :param joints: joints in HANDS2017 order, mm
    :param layout_name: 'hands2017', 'msra21', 'icvl16' or 'nyu14'
    :raises ValueError: for a wrong shape or an unknown layout
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.shape[-2:] != (NUM_JOINTS, 3):
        raise ValueError(f'joints must have shape (..., {NUM_JOINTS}, 3), got {joints.shape}')
    target = get_layout(layout_name)
    source = get_layout(SOURCE_LAYOUT)
    aliases = _ALIASES.get(layout_name, {})
    extra = derived_points(joints)
    columns = []
    for name in target.joint_names:
        name = aliases.get(name, name)
        if name in extra:
            columns.append(extra[name])
        else:
            columns.append(joints[..., source.index(name), :])
    return np.stack(columns, axis=-2)
