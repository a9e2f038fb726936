"""Hand articulation: degrees of freedom, joint limits, named poses and the pose sampler.

A pose is a flat vector of ``NUM_DOFS`` angles in degrees: for each finger (thumb first) the
root abduction and three flexions, then the palm cup. Fingers: ``abd`` at the MCP (positive
towards the thumb side), ``flex1`` MCP, ``flex2`` PIP, ``flex3`` DIP. Thumb: ``abd`` and ``flex1``
are the two degrees of freedom of its CMC joint, ``flex2`` its MCP, ``flex3`` its IP joint (how
they act follows from the thumb's own rest frame, see kinematics). Flexion is positive towards
the palm. ``cup`` arches the palm (ring and pinky metacarpals fold volar).
"""

from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

from training.synth.skeleton import FINGER_SPLAY_DEG, FINGERS

DOF_NAMES = tuple(f'{finger}_{dof}' for finger in FINGERS
                  for dof in ('abd', 'flex1', 'flex2', 'flex3')) + ('cup',)
NUM_DOFS = len(DOF_NAMES)
CUP = NUM_DOFS - 1

# Active range of motion, degrees (rounded from the hand-model ranges of Cobos et al.,
# "Efficient human hand kinematics for manipulation tasks", IROS 2008, Table I, and the
# functional ranges of Hume et al., J. Hand Surg. 15A, 1990): MCP -20..90 flexion, PIP 0..105,
# DIP -5..80, finger abduction ~ +-15..25 (widest for index and pinky). Thumb CMC axes are
# this model's (its rest frame already holds the thumb's palmar abduction and pronation).
# Rows thumb..pinky, columns abd, flex1, flex2, flex3 as (low, high).
_LIMITS = np.array([
    [(0, 80), (-20, 45), (-10, 60), (-15, 80)],
    [(-15, 25), (-20, 90), (0, 105), (-5, 80)],
    [(-15, 15), (-20, 90), (0, 105), (-5, 80)],
    [(-20, 12), (-20, 90), (0, 105), (-5, 80)],
    [(-30, 10), (-20, 90), (0, 105), (-5, 80)],
], dtype=np.float64)
LOWER = np.concatenate([_LIMITS[:, :, 0].ravel(), [0.0]])
UPPER = np.concatenate([_LIMITS[:, :, 1].ravel(), [20.0]])


def _pose(thumb, index, middle, ring, pinky, cup=0.0) -> np.ndarray:
    return np.array(list(thumb) + list(index) + list(middle) + list(ring) + list(pinky) + [cup],
                    dtype=np.float64)


_FIST = (0, 85, 100, 55)
_FIST_THUMB = (30, 40, 35, 30)  # thumb folded across the middle phalanges of index / middle
# Natural poses (degrees), rows of (abd, flex1, flex2, flex3) thumb..pinky, then cup.
NAMED_POSES: Dict[str, np.ndarray] = {
    'open': _pose((10, 5, 0, 0), (0, 0, 0, 0), (0, 0, 0, 0), (0, 0, 0, 0), (0, 0, 0, 0)),
    'relaxed': _pose((25, 10, 15, 15), (0, 15, 25, 15), (0, 20, 30, 20), (0, 25, 35, 22),
                     (0, 30, 40, 25), 8),
    'fist': _pose(_FIST_THUMB, _FIST, _FIST, _FIST, _FIST, 15),
    'point': _pose(_FIST_THUMB, (5, 0, 0, 0), _FIST, _FIST, _FIST, 10),
    'pinch': _pose((47, 9, 21, 20), (0, 40, 45, 25), (0, 20, 25, 15), (0, 25, 30, 20),
                   (0, 30, 35, 25), 8),
    'grasp': _pose((55, 0, 15, 10), (0, 45, 55, 35), (0, 45, 60, 35), (0, 45, 60, 35),
                   (0, 45, 60, 35), 12),
    'ok': _pose((46, 6, 21, 20), (5, 45, 55, 30), (0, 5, 5, 5), (-5, 10, 10, 5),
                (-12, 15, 10, 5), 5),
    'spread': _pose((5, -15, 0, 0), (18, 0, 0, 0), (0, 0, 0, 0), (-12, 0, 0, 0),
                    (-25, 0, 0, 0)),
    'peace': _pose(_FIST_THUMB, (12, 0, 0, 0), (-8, 0, 0, 0), _FIST, _FIST, 10),
    'thumbs_up': _pose((20, 20, -5, -5), _FIST, _FIST, _FIST, _FIST, 15),
    'claw': _pose((40, 10, 30, 40), (5, 15, 80, 60), (0, 15, 80, 60), (-5, 15, 80, 60),
                  (-10, 15, 80, 60), 10),
    'three': _pose(_FIST_THUMB, (10, 0, 0, 0), (0, 0, 0, 0), (-10, 0, 0, 0), _FIST, 10),
    'call': _pose((10, -15, 0, 0), _FIST, _FIST, _FIST, (-25, 0, 0, 0), 12),
}

CONTACT_POSES = ('pinch', 'ok')  # poses whose thumb and index tips touch


@dataclass(frozen=True)
class PoseConfig:
    """How articulations are drawn."""

    random_prob: float = 0.25  # share of poses drawn at random within the limits
    blend_prob: float = 0.5  # share of natural poses blended with a second natural pose
    noise_deg: float = 6.0  # per-DOF Gaussian jitter on natural poses, degrees
    curl_deg: float = 12.0  # per-finger coupled curl jitter on natural poses, degrees
    contact_prob: float = 0.9  # share of unblended pinch / 'ok' poses whose tips then touch


def clip_pose(pose: np.ndarray) -> np.ndarray:
    """Clip to the joint limits and keep neighbouring fingers from crossing in the palm plane.

    :param pose: (..., NUM_DOFS) degrees
    """
    pose = np.clip(pose, LOWER, UPPER)
    # Finger directions in the palm plane (rest splay + abduction, see kinematics) must not
    # cross: each finger's abduction is at most its radial neighbour's plus the rest gap.
    for finger in (2, 3, 4):
        gap = FINGER_SPLAY_DEG[finger - 1] - FINGER_SPLAY_DEG[finger]
        neighbour = pose[..., 4 * (finger - 1)]
        pose[..., 4 * finger] = np.minimum(pose[..., 4 * finger], neighbour + gap)
    return pose


def random_pose(rng: np.random.Generator) -> np.ndarray:
    """A pose drawn at random within the limits, with the natural DIP-PIP coupling.

    Each finger gets a curl level; flexions follow it with noise, DIP ~ 2/3 PIP (the coupling
    of Rijpkema & Girard, SIGGRAPH 1991).

    :param rng: random generator
    """
    pose = rng.uniform(LOWER, UPPER)
    curl = rng.uniform(0.0, 1.0, 5)
    span = UPPER[:20].reshape(5, 4)
    flex = curl[:, None] * span[:, 1:] + rng.normal(0.0, 12.0, (5, 3))
    flex[1:, 2] = flex[1:, 1] * 2.0 / 3.0 + rng.normal(0.0, 8.0, 4)
    chains = pose[:20].reshape(5, 4)
    chains[:, 1:] = flex
    chains[1:, 0] = rng.normal(0.0, 8.0, 4)  # finger spread near rest; thumb abduction uniform
    pose[:20] = chains.ravel()
    return clip_pose(pose)


def natural_pose(rng: np.random.Generator, config: PoseConfig = PoseConfig()
                 ) -> Tuple[np.ndarray, bool]:
    """A named pose, maybe blended with another, with per-joint and per-finger jitter.

    :param rng: random generator
    :param config: jitter settings
    :returns: (pose, touch): ``touch`` asks for thumb and index tips to be brought together
        (an unblended contact pose, see :func:`training.synth.kinematics.touch_thumb_to_index`)
    """
    names = list(NAMED_POSES)
    name = names[rng.integers(len(names))]
    pose = NAMED_POSES[name].copy()
    blended = rng.random() < config.blend_prob
    if blended:
        other = NAMED_POSES[names[rng.integers(len(names))]]
        pose += rng.random() * (other - pose)
    pose += rng.normal(0.0, config.noise_deg, NUM_DOFS)
    curl = rng.normal(0.0, config.curl_deg, 5)
    pose[:20].reshape(5, 4)[:, 1:] += curl[:, None]
    touch = name in CONTACT_POSES and not blended and rng.random() < config.contact_prob
    return clip_pose(pose), touch


def sample_pose(rng: np.random.Generator, config: PoseConfig = PoseConfig()
                ) -> Tuple[np.ndarray, bool]:
    """Draw one articulation (degrees, NUM_DOFS): natural poses mixed with random ones.

    :param rng: random generator
    :param config: mixing and jitter settings
    :returns: (pose, touch) as :func:`natural_pose`
    """
    if rng.random() < config.random_prob:
        return random_pose(rng), False
    return natural_pose(rng, config)


def pose_by_name(name: str) -> np.ndarray:
    """A copy of one named pose (degrees).

    :param name: a key of ``NAMED_POSES``
    :raises ValueError: for an unknown name, listing the valid ones
    """
    if name not in NAMED_POSES:
        raise ValueError(f'unknown hand pose {name!r}; valid poses: {", ".join(NAMED_POSES)}')
    return NAMED_POSES[name].copy()


def limits() -> Tuple[np.ndarray, np.ndarray]:
    """Lower and upper joint limits (NUM_DOFS,) in degrees."""
    return LOWER.copy(), UPPER.copy()
