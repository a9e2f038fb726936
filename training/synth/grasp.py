"""Hands holding objects: an object placed in the palm frame and the fingers closed onto it.

Power grasps hold a cylinder (a bottle, 20-90 mm across), a handle or bar, a box or a sphere
against the palm; a pinch holds a small ball or a pen between the thumb and index tips. The
object is placed in the hand frame with its surface against the palm, then every finger and the
thumb close onto it the way a grasp planner's auto-grasp does (GraspIt!, Miller & Allen 2004):
all flexions of a chain turn together until one of its links touches the object, then the
joints distal of that link go on, until each link touches or its joints reach their limits.
Each stage is a grid search over a batch of poses (one batched forward-kinematics call) refined
once, so a link stops within a fraction of a millimetre of the surface and never ends deeper in
it than it started.

The joint labels stay the true joints of the closed hand; the object is rendered with the hand
(tag ``TAG_HELD``) and hides the fingers behind it.
"""

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from training.synth.kinematics import hand_joints, rot_x, rot_z, touch_thumb_to_index
from training.synth.poses import LOWER, UPPER, clip_pose, pose_by_name
from training.synth.raster import Primitives, boxes, round_cones
from training.synth.skeleton import CHAINS, HandShape

TAG_HELD = 6  # an object held in the hand
GRASP_KINDS = ('cylinder', 'handle', 'box', 'sphere', 'pinch')
FLEX = np.arange(20).reshape(5, 4)[:, 1:]  # pose indices of each chain's three flexions
LINK_SAMPLES = 7  # spheres per finger link when measuring its distance to the object
MAX_PENETRATION_MM = 3.0  # a grasp whose links end deeper in the object is drawn again
CONTACT_MM = 2.0  # a link this close to the surface touches it


@dataclass(frozen=True)
class GraspConfig:
    """What hands hold (only read when ``SynthConfig.grasp_prob`` > 0); sizes in mm."""

    kinds: Tuple[str, ...] = GRASP_KINDS  # drawn with equal probability
    cylinder_diameter_mm: Tuple[float, float] = (20.0, 90.0)  # bottles, cans, cups
    cylinder_length_mm: Tuple[float, float] = (100.0, 240.0)
    handle_diameter_mm: Tuple[float, float] = (20.0, 40.0)  # tools, pans, bars
    handle_length_mm: Tuple[float, float] = (240.0, 500.0)
    box_edge_mm: Tuple[float, float] = (25.0, 90.0)  # the two edges the fingers wrap around
    box_length_mm: Tuple[float, float] = (80.0, 220.0)  # the edge across the palm
    sphere_diameter_mm: Tuple[float, float] = (30.0, 100.0)  # balls, fruit
    pinch_size_mm: Tuple[float, float] = (8.0, 30.0)  # diameter of a pinched ball or pen
    press_mm: Tuple[float, float] = (0.0, 3.0)  # how far the object presses into the palm

    def __post_init__(self) -> None:
        unknown = sorted(set(self.kinds) - set(GRASP_KINDS))
        if unknown or not self.kinds:
            raise ValueError(f'grasp kinds must be a non-empty subset of {GRASP_KINDS}, '
                             f'got {self.kinds}')


@dataclass(frozen=True)
class HeldObject:
    """An object in the hand frame: a box (``radius`` 0) or a round capsule (a sphere when its
    half axis is zero)."""

    kind: str  # one of GRASP_KINDS
    center: np.ndarray  # (3,) centre, hand frame, mm
    axes: np.ndarray  # (3, 3) box: half-edge vectors as columns; capsule: half axis in column 0
    radius: float  # capsule radius, mm (0 for a box)

    def distance(self, points: np.ndarray) -> np.ndarray:
        """Signed distance (...) of points (..., 3) to the surface, mm (negative inside)."""
        offset = np.asarray(points) - self.center
        if self.radius == 0.0:
            frame = self.axes / np.linalg.norm(self.axes, axis=0)
            q = np.abs(offset @ frame) - np.linalg.norm(self.axes, axis=0)
            outside = np.linalg.norm(np.maximum(q, 0.0), axis=-1)
            return outside + np.minimum(q.max(axis=-1), 0.0)
        half = self.axes[:, 0]
        along = np.clip(offset @ half / max(float(half @ half), 1e-9), -1.0, 1.0)
        return np.linalg.norm(offset - along[..., None] * half, axis=-1) - self.radius

    def primitives(self) -> Primitives:
        """The object as primitives, hand frame."""
        if self.radius == 0.0:
            return boxes(self.center[None], self.axes[None], TAG_HELD)
        half = self.axes[:, 0]
        return round_cones((self.center - half)[None], [self.radius],
                           (self.center + half)[None], [self.radius], TAG_HELD)


@dataclass(frozen=True)
class Grasp:
    """A closed hand and what it holds."""

    pose: np.ndarray  # (NUM_DOFS,) articulation, degrees
    held: HeldObject  # the object, hand frame


def link_distances(shape: HandShape, joints: np.ndarray, held: HeldObject) -> np.ndarray:
    """Distance (..., 5, 3) from each finger link's surface to the object's, mm (negative:
    the link is inside by that much); links are the round cones of the rendered fingers (the
    thumb's metacarpal, inside the thenar, reads infinity).

    :param shape: the hand (link radii)
    :param joints: (..., 21, 3) joints, hand frame, mm
    :param held: the object
    """
    chain = joints[..., CHAINS, :]  # (..., 5, 4, 3)
    t = np.linspace(0.0, 1.0, LINK_SAMPLES)[:, None]
    starts, ends = chain[..., :3, None, :], chain[..., 1:, None, :]
    points = starts + t * (ends - starts)  # (..., 5, 3, K, 3)
    radii = shape.radii[:, :3, None] + t[:, 0] * (shape.radii[:, 1:, None]
                                                  - shape.radii[:, :3, None])
    gaps = (held.distance(points) - radii).min(axis=-1)
    # The thumb's metacarpal lies inside the thenar eminence: palm, which may press into the
    # object like the rest of the palm.
    gaps[..., 0, 0] = np.inf
    return gaps


def _stage(shape: HandShape, pose: np.ndarray, goal: np.ndarray, held: HeldObject, first: int,
           lo: np.ndarray, hi: np.ndarray, steps: int, floor: Optional[np.ndarray] = None
           ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Largest share (5,) of the way from ``pose`` to ``goal`` for flexions ``first``.. of each
    chain, searched on ``steps`` points in [lo, hi] per chain, before a moving link goes deeper
    than ``floor`` (default: as deep as at ``pose``, or the surface; ``lo`` must be 0 then).

    :returns: the bracket (clear share, first blocked share) and the floor
    """
    share = lo + np.linspace(0.0, 1.0, steps)[:, None] * (hi - lo)  # (M, 5)
    moving = FLEX[:, first:]
    trial = np.repeat(pose[None], steps, axis=0)
    trial[:, moving] = pose[moving] + share[:, :, None] * (goal[moving] - pose[moving])
    gaps = link_distances(shape, hand_joints(shape, trial), held)[:, :, first:]  # (M, 5, L)
    if floor is None:
        floor = np.minimum(gaps[0], 0.0)
    blocked = np.any(gaps < floor - 1e-6, axis=2)  # (M, 5)
    last = np.where(blocked.any(axis=0), np.argmax(blocked, axis=0) - 1, steps - 1)
    last = np.maximum(last, 0)
    columns = np.arange(5)
    return share[last, columns], share[np.minimum(last + 1, steps - 1), columns], floor


def close_onto(shape: HandShape, pose: np.ndarray, goal: np.ndarray, held: HeldObject,
               chains: np.ndarray = np.ones(5, bool)) -> np.ndarray:
    """Close chains from ``pose`` towards ``goal`` until their links touch ``held``.

    Stage one turns all three flexions of a chain together, stage two the outer two, stage
    three the last: the joints distal of a touching link keep closing (the auto-grasp rule).

    :param shape: the hand
    :param pose: (NUM_DOFS,) start articulation, degrees
    :param goal: (NUM_DOFS,) where the flexions would go without the object (their limits)
    :param held: the object, hand frame
    :param chains: (5,) which chains close (thumb first); the others keep ``pose``
    :returns: the closed articulation
    """
    pose = np.array(pose, dtype=np.float64)
    goal = np.where(np.repeat(np.append(chains, False), [4] * 5 + [1]), goal, pose)
    for first in range(3):
        lo, hi, floor = _stage(shape, pose, goal, held, first, np.zeros(5), np.ones(5), 16)
        share, _, _ = _stage(shape, pose, goal, held, first, lo, hi, 8, floor)
        moving = FLEX[:, first:]
        pose[moving] += share[:, None] * (goal[moving] - pose[moving])
    return pose


def _across_palm(rng: np.random.Generator, shape: HandShape, config: GraspConfig, kind: str
                 ) -> HeldObject:
    """A cylinder, handle or box lying across the palm, its surface against it."""
    length = shape.roots[2, 0]
    palm_y = shape.roots[1:, 1].mean()
    # The axis runs from the hypothenar towards the thumb-index web (oblique, radial-distal).
    turn = rot_z(np.radians(rng.uniform(-5.0, 30.0))) @ rot_x(np.radians(rng.uniform(-10, 10)))
    frame = turn @ np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # x radial
    surface = -1.15 * shape.palm_half_thickness + rng.uniform(*config.press_mm)
    y = palm_y + rng.uniform(-10.0, 10.0)
    if kind == 'box':
        half = np.array([rng.uniform(*config.box_length_mm), rng.uniform(*config.box_edge_mm),
                         rng.uniform(*config.box_edge_mm)]) / 2.0
        # Its distal face near the knuckles, so the fingers wrap around its edge.
        x = length * rng.uniform(0.8, 0.95) - half[1]
        return HeldObject(kind, np.array([x, y, surface - half[2]]), frame * half, 0.0)
    diameter, full = ((config.handle_diameter_mm, config.handle_length_mm) if kind == 'handle'
                      else (config.cylinder_diameter_mm, config.cylinder_length_mm))
    radius = rng.uniform(*diameter) / 2.0
    half_axis = max(rng.uniform(*full) / 2.0 - radius, 0.0)
    # Under the knuckles, where the bent proximal phalanges meet it.
    x = length - rng.uniform(0.3, 0.8) * radius - rng.uniform(5.0, 15.0)
    axes = np.zeros((3, 3))
    axes[:, 0] = frame[:, 0] * half_axis
    return HeldObject(kind, np.array([x, y, surface - radius]), axes, radius)


def _shortened(held: HeldObject, share: float) -> HeldObject:
    """``held`` with its radial end (+ first axis) pulled in to ``share`` of its length."""
    half = held.axes[:, 0]
    axes = held.axes.copy()
    axes[:, 0] = share * half
    return HeldObject(held.kind, held.center - (1.0 - share) * half, axes, held.radius)


def _power_grasp(rng: np.random.Generator, shape: HandShape, config: GraspConfig, kind: str
                 ) -> Grasp:
    if kind == 'sphere':
        radius = rng.uniform(*config.sphere_diameter_mm) / 2.0
        surface = -1.15 * shape.palm_half_thickness + rng.uniform(*config.press_mm)
        center = np.array([shape.roots[2, 0] * rng.uniform(0.75, 0.95),
                           shape.roots[1:, 1].mean() + rng.uniform(0.0, 12.0),
                           surface - radius])
        held = HeldObject(kind, center, np.zeros((3, 3)), radius)
        thumb_abd = rng.uniform(50.0, 75.0)
    else:
        held = _across_palm(rng, shape, config, kind)
        thumb_abd = rng.uniform(20.0, 50.0)
    start = np.zeros(21)
    start[0:4] = (thumb_abd, -15.0, -10.0, -10.0)
    start[4:20].reshape(4, 4)[:] = np.stack([
        rng.normal(0.0, 4.0, 4), rng.uniform(-10.0, 5.0, 4), rng.uniform(0.0, 10.0, 4),
        rng.uniform(0.0, 5.0, 4)], axis=1)
    start[20] = rng.uniform(8.0, 20.0)
    start = clip_pose(start)
    # A thumb that starts inside the object (large objects reach the thenar side): move the
    # object off the palm until the thumb is clear, so closing starts outside it.
    # A thumb that starts inside the object (it lies over the radial end of the palm): try
    # other palmar abductions, then shorten the object's radial end (it ends between thumb and
    # index), last move it off the palm until the thumb is clear.
    tries = np.repeat(start[None], 8, axis=0)
    tries[1:, 0] = (80.0, 65.0, 50.0, 35.0, 20.0, 5.0, 0.0)
    clear = link_distances(shape, hand_joints(shape, tries), held)[:, 0].min(axis=1) >= 0.0
    if clear.any():
        start = tries[np.argmax(clear)]
    elif kind != 'sphere':
        thumb = hand_joints(shape, start)
        for share in np.linspace(0.9, 0.2, 8):
            shorter = _shortened(held, share)
            if link_distances(shape, thumb, shorter)[0].min() >= 0.0:
                held = shorter
                break
    for _ in range(4):  # the cupped palm lowers the pinky's knuckle: no link starts inside
        inside = link_distances(shape, hand_joints(shape, start), held).min()
        if inside >= 0.0:
            break
        held = HeldObject(kind, held.center + np.array([0.0, 0.0, inside - 1.0]), held.axes,
                          held.radius)
    goal = start.copy()
    goal[FLEX] = UPPER[FLEX]
    return Grasp(close_onto(shape, start, goal, held), held)


def _pinch(rng: np.random.Generator, shape: HandShape, config: GraspConfig) -> Grasp:
    """A small ball or pen between the thumb and index pads; the other fingers curl freely.

    The tips close to a little less than the object's size, so it touches both tip spheres on
    a circle around the line between them; of eight places on that circle it takes the one
    farthest from every finger link (on the line it would often sit inside the index).
    """
    radius = rng.uniform(*config.pinch_size_mm) / 2.0
    pen = rng.random() < 0.5
    pen_half, pen_turn = rng.uniform(30.0, 65.0), np.radians(rng.uniform(-30.0, 30.0))
    pose = pose_by_name('pinch') + rng.normal(0.0, 4.0, 21)
    pose[FLEX[2:]] += rng.uniform(-15.0, 40.0, (3, 1))  # middle..pinky: open to curled
    pose = clip_pose(pose)
    thumb_reach, index_reach = shape.radii[0, 3] + radius, shape.radii[1, 3] + radius
    gap = (thumb_reach + index_reach) * rng.uniform(0.6, 0.9)
    pose = touch_thumb_to_index(shape, pose, gap_mm=gap)
    joints = hand_joints(shape, pose)
    thumb_tip, index_tip = joints[CHAINS[0, 3]], joints[CHAINS[1, 3]]
    distance = max(float(np.linalg.norm(index_tip - thumb_tip)), 1e-9)
    across = (index_tip - thumb_tip) / distance
    if distance > thumb_reach + index_reach:  # the tips stayed apart: a larger object fits
        radius = 0.5 * (distance - shape.radii[0, 3] - shape.radii[1, 3])
        thumb_reach, index_reach = shape.radii[0, 3] + radius, shape.radii[1, 3] + radius
    along = (distance ** 2 + thumb_reach ** 2 - index_reach ** 2) / (2.0 * distance)
    lift = np.sqrt(max(thumb_reach ** 2 - along ** 2, 0.0))
    basis = _frame_across(across)
    best, best_gap = None, -np.inf
    for angle in np.linspace(0.0, 2.0 * np.pi, 8, endpoint=False):
        out = basis @ np.array([np.cos(angle), np.sin(angle)])
        axes = np.zeros((3, 3))
        if pen:  # sideways out of the pinch
            axes[:, 0] = _rot_axis(across, pen_turn) @ np.cross(across, out) * pen_half
        held = HeldObject('pinch', thumb_tip + along * across + lift * out, axes, radius)
        gaps = link_distances(shape, joints, held)
        gaps[[0, 1], 2] = np.inf  # the two tip links touch it by construction
        clearance = gaps.min()
        if clearance > best_gap:
            best, best_gap = held, clearance
    return Grasp(pose, best)


def _frame_across(axis: np.ndarray) -> np.ndarray:
    """Two unit vectors (3, 2 columns) perpendicular to the unit vector ``axis`` and to each
    other."""
    helper = np.eye(3)[np.argmin(np.abs(axis))]
    first = np.cross(axis, helper)
    first /= np.linalg.norm(first)
    return np.stack([first, np.cross(axis, first)], axis=1)


def _rot_axis(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation (3, 3) by ``angle`` radians about the unit vector ``axis`` (Rodrigues)."""
    k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    return np.eye(3) + np.sin(angle) * k + (1.0 - np.cos(angle)) * k @ k


def sample_grasp(rng: np.random.Generator, shape: HandShape, config: GraspConfig,
                 attempts: int = 8) -> Optional[Grasp]:
    """Draw what the hand holds and close it; None when no attempt kept every link within
    ``MAX_PENETRATION_MM`` of the object's surface.

    :param rng: the grasp's own random stream
    :param shape: the hand
    :param config: object kinds and sizes
    :param attempts: draws before giving up
    """
    for _ in range(attempts):
        kind = config.kinds[rng.integers(len(config.kinds))]
        grasp = (_pinch(rng, shape, config) if kind == 'pinch'
                 else _power_grasp(rng, shape, config, kind))
        if np.all(grasp.pose >= LOWER - 1e-6) and np.all(grasp.pose <= UPPER + 1e-6):
            gaps = link_distances(shape, hand_joints(shape, grasp.pose), grasp.held)
            if gaps.min() >= -MAX_PENETRATION_MM:
                return grasp
    return None
