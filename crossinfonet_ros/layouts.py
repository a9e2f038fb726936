"""Joint layouts as data: one table per dataset order, no per-dataset code branches.

Each :class:`JointLayout` names the joints in a dataset's native order and carries the palm /
finger split CrossInfoNet regresses separately (spec 2.2), the skeleton edges, the map to
MediaPipe's 21 hand landmarks where the layout has those joints, and the joints that define a
hand frame (wrist + the five finger roots).

Naming: short snake_case, ``<finger>_<joint>`` with fingers thumb, index, middle, ring, pinky
(MSRA's "little" is called pinky). Every finger, the thumb included, is named from the palm
outwards as ``mcp, pip, dip, tip`` -- the BigHand / MSRA convention. For the thumb this is
shifted by one joint against anatomy and MediaPipe:

================  ==================
this module       MediaPipe landmark
================  ==================
``thumb_mcp``     THUMB_CMC
``thumb_pip``     THUMB_MCP
``thumb_dip``     THUMB_IP
``thumb_tip``     THUMB_TIP
================  ==================

ICVL labels three joints per finger (root, middle, tip; spec 5.2), named ``<finger>_root``,
``<finger>_mid``, ``<finger>_tip``; its joint 0 is the palm centre, not the wrist.
"""

from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping, Optional, Tuple

import numpy as np

FINGERS = ('thumb', 'index', 'middle', 'ring', 'pinky')

# MediaPipe Hands landmark order (21): wrist, then per finger (thumb, index, middle, ring,
# pinky) four joints from the palm outwards.
MEDIAPIPE_NAMES = ('wrist', 'thumb_cmc', 'thumb_mcp', 'thumb_ip', 'thumb_tip') + tuple(
    f'{finger}_{joint}' for finger in FINGERS[1:] for joint in ('mcp', 'pip', 'dip', 'tip'))

# NYU: the 14 evaluated joints as ids into the dataset's 36-joint annotation (spec 5.2).
NYU_36_TO_14 = (0, 3, 6, 9, 12, 15, 18, 21, 24, 25, 27, 30, 31, 32)

Index = Tuple[int, ...]


@dataclass(frozen=True)
class JointLayout:
    """One joint order with everything the model, codec and node need to know about it.

    Construction validates the table and raises ``ValueError`` naming the broken field.
    """

    name: str  # registry key, e.g. 'hands2017'
    joint_names: Tuple[str, ...]  # native dataset order; len = number of joints A
    palm: Index  # palm subset in J_p order, released-code split (spec 2.2)
    finger: Index  # finger subset in J_f order, released-code split (spec 2.2)
    palm_paper: Index  # palm subset of the paper's Fig. 4 (equals palm where they agree)
    finger_paper: Index  # finger subset of the paper's Fig. 4
    edges: Tuple[Tuple[int, int], ...]  # skeleton bones as (parent, child) joint indices
    mediapipe: Optional[Index]  # this layout's index for each MediaPipe landmark, or None
    wrist: int  # wrist joint (or the nearest root joint the layout has)
    mcps: Index  # finger-root joints, order thumb, index, middle, ring, pinky

    def __post_init__(self) -> None:
        count = len(self.joint_names)
        where = f'joint layout {self.name!r}'
        if len(set(self.joint_names)) != count:
            raise ValueError(f'{where}: joint names are not unique')
        for split, palm, finger in (('code', self.palm, self.finger),
                                    ('paper', self.palm_paper, self.finger_paper)):
            if sorted(palm + finger) != list(range(count)):
                raise ValueError(f'{where}: {split} palm + finger must cover joints 0..{count - 1}'
                                 f' exactly once, got palm={palm} finger={finger}')
        flat_edges = [j for edge in self.edges for j in edge]
        if any(len(edge) != 2 for edge in self.edges) or not _in_range(flat_edges, count):
            raise ValueError(f'{where}: edges must be joint pairs in 0..{count - 1}')
        if self.mediapipe is not None and (len(self.mediapipe) != len(MEDIAPIPE_NAMES)
                                           or not _in_range(self.mediapipe, count)):
            raise ValueError(f'{where}: mediapipe must hold {len(MEDIAPIPE_NAMES)} joint indices'
                             f' in 0..{count - 1}')
        if not _in_range((self.wrist,), count):
            raise ValueError(f'{where}: wrist index {self.wrist} out of range')
        if len(self.mcps) != len(FINGERS) or not _in_range(self.mcps, count):
            raise ValueError(f'{where}: mcps must hold {len(FINGERS)} joint indices'
                             f' in 0..{count - 1}')

    @property
    def num_joints(self) -> int:
        """Number of joints A."""
        return len(self.joint_names)

    def split(self, variant: str = 'code') -> Tuple[Index, Index]:
        """Return ``(palm, finger)`` of the released code (``'code'``) or the paper (``'paper'``).

        :param variant: ``'code'`` (default, spec 2.2) or ``'paper'`` (Fig. 4)
        """
        if variant == 'code':
            return self.palm, self.finger
        if variant == 'paper':
            return self.palm_paper, self.finger_paper
        raise ValueError(f"palm/finger split must be 'code' or 'paper', got {variant!r}")

    def palm_center(self, joints: np.ndarray) -> np.ndarray:
        """Palm centre: the mean of the wrist and the five finger roots, (..., 3).

        The crop centre training uses (around it, jittered) and the one the node refines its
        crop to, so both see the hand framed the same way.

        :param joints: (..., A, 3) joints in this layout's order
        """
        return np.asarray(joints)[..., (self.wrist,) + tuple(self.mcps), :].mean(axis=-2)

    def index(self, joint_name: str) -> int:
        """Return the index of a joint by name.

        :param joint_name: a name from :attr:`joint_names`
        """
        try:
            return self.joint_names.index(joint_name)
        except ValueError:
            raise ValueError(f'joint layout {self.name!r} has no joint {joint_name!r}; joints:'
                             f' {", ".join(self.joint_names)}') from None


def _in_range(indices, count: int) -> bool:
    return all(isinstance(i, int) and 0 <= i < count for i in indices)


def _chain_edges(root: int, chains) -> Tuple[Tuple[int, int], ...]:
    """Bones from ``root`` along each chain of joint indices (palm outwards)."""
    edges = []
    for chain in chains:
        parent = root
        for joint in chain:
            edges.append((parent, joint))
            parent = joint
    return tuple(edges)


def _hands2017() -> JointLayout:
    # BigHand order (spec 5.2): wrist, MCPs T I M R P, then per finger PIP, DIP, TIP.
    names = (('wrist',) + tuple(f'{f}_mcp' for f in FINGERS)
             + tuple(f'{f}_{j}' for f in FINGERS for j in ('pip', 'dip', 'tip')))
    chains = [(1 + f, 6 + 3 * f, 7 + 3 * f, 8 + 3 * f) for f in range(5)]
    palm, finger = tuple(range(6)), tuple(range(6, 21))  # spec 2.2: "same as MSRA"
    return JointLayout(
        name='hands2017', joint_names=names, palm=palm, finger=finger, palm_paper=palm,
        finger_paper=finger, edges=_chain_edges(0, chains),
        mediapipe=(0,) + tuple(j for chain in chains for j in chain), wrist=0,
        mcps=(1, 2, 3, 4, 5))


def _msra21() -> JointLayout:
    # Spec 5.2: wrist, then index, middle, ring, little, thumb with MCP, PIP, DIP, TIP each.
    order = ('index', 'middle', 'ring', 'pinky', 'thumb')
    names = ('wrist',) + tuple(f'{f}_{j}' for f in order for j in ('mcp', 'pip', 'dip', 'tip'))
    chains = {f: tuple(range(1 + 4 * k, 5 + 4 * k)) for k, f in enumerate(order)}
    # Spec 2.2, MSRA train script (code = Fig. 4): wrist + MCPs; all PIPs, all DIPs, all tips.
    palm = (0, 1, 5, 9, 13, 17)
    finger = (2, 6, 10, 14, 18, 3, 7, 11, 15, 19, 4, 8, 12, 16, 20)
    return JointLayout(
        name='msra21', joint_names=names, palm=palm, finger=finger, palm_paper=palm,
        finger_paper=finger, edges=_chain_edges(0, chains.values()),
        mediapipe=(0,) + tuple(j for f in FINGERS for j in chains[f]), wrist=0,
        mcps=tuple(chains[f][0] for f in FINGERS))


def _icvl16() -> JointLayout:
    # Spec 5.2: palm, then thumb, index, middle, ring, pinky with root, mid, tip each.
    names = ('palm',) + tuple(f'{f}_{j}' for f in FINGERS for j in ('root', 'mid', 'tip'))
    chains = [(1 + 3 * f, 2 + 3 * f, 3 + 3 * f) for f in range(5)]
    # Spec 2.2 (Fig. 4 sets; J_p / J_f order inferred MSRA-like): palm + roots; mids, tips.
    palm = (0, 1, 4, 7, 10, 13)
    finger = (2, 5, 8, 11, 14, 3, 6, 9, 12, 15)
    # No wrist joint: the palm centre stands in for it (hand frame origin).
    return JointLayout(
        name='icvl16', joint_names=names, palm=palm, finger=finger, palm_paper=palm,
        finger_paper=finger, edges=_chain_edges(0, chains), mediapipe=None, wrist=0,
        mcps=(1, 4, 7, 10, 13))


def _nyu14() -> JointLayout:
    # Spec 5.2, ids NYU_36_TO_14. The 36-joint model places KNU2_B at the base of the middle
    # phalanx (pip); the thumb's TH_KNU3_B / TH_KNU2_B are named dip / pip in the BigHand sense
    # (anatomical IP / MCP). PALM_1, PALM_2, PALM_3 are the eval kit's Wrist2, Wrist1, Palm.
    names = ('pinky_tip', 'pinky_pip', 'ring_tip', 'ring_pip', 'middle_tip', 'middle_pip',
             'index_tip', 'index_pip', 'thumb_tip', 'thumb_dip', 'thumb_pip', 'wrist_2',
             'wrist_1', 'palm')
    # Skeleton edges of the released code (spec 5.2).
    edges = ((0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (9, 10), (1, 13), (3, 13), (5, 13),
             (7, 13), (10, 13), (11, 13), (12, 13))
    return JointLayout(
        name='nyu14', joint_names=names,
        palm=(1, 3, 5, 7, 9, 10, 11, 12, 13), finger=(0, 2, 4, 6, 8),  # released NYU script
        palm_paper=(10, 11, 12, 13), finger_paper=tuple(range(10)),  # paper Fig. 4
        edges=edges, mediapipe=None, wrist=12,
        # No finger MCPs are labelled: the thumb's pip (anatomical MCP) and the fingers' pips
        # are the nearest roots for a hand frame.
        mcps=(10, 7, 5, 3, 1))


LAYOUTS: Mapping[str, JointLayout] = MappingProxyType(
    {layout.name: layout for layout in (_hands2017(), _msra21(), _icvl16(), _nyu14())})

DEFAULT_LAYOUT = 'hands2017'


def get_layout(name: str) -> JointLayout:
    """Return the registered layout called ``name``.

    :param name: one of ``LAYOUTS`` ('hands2017', 'msra21', 'icvl16', 'nyu14')
    :raises ValueError: for an unknown name, listing the valid ones
    """
    try:
        return LAYOUTS[name]
    except (KeyError, TypeError):
        raise ValueError(f'unknown joint layout {name!r}; valid layouts:'
                         f' {", ".join(sorted(LAYOUTS))}') from None
