"""Scenes without a hand: what a depth camera sees when the operator's hand is out of view.

A forearm cut off before the wrist, a person's head and torso, boxes, bottles, a table edge,
or a cluttered mix of them, drawn where the (removed) hand would have been, so the nearest
object usually lies inside the node's depth band and the detector has a candidate to reject.
The hand-or-not decision is calibrated on these (:mod:`training.hand_or_not`).
"""

from typing import Tuple

import numpy as np

from training.synth.clutter import TAG_BODY, TAG_OBJECT
from training.synth.kinematics import rot_x, rot_y, rot_z
from training.synth.placement import palm_center
from training.synth.raster import Primitives, boxes, ellipsoids, round_cones
from training.synth.shape import TAG_FOREARM

KINDS = ('forearm', 'person', 'boxes', 'bottles', 'table_edge', 'mix')
DEPTH_RANGE_MM = (350.0, 950.0)  # inside the node's default 150-1000 mm band


def _at(rng: np.random.Generator, palm_mm: np.ndarray, depth_mm: float,
        spread_mm: float) -> np.ndarray:
    """A point at ``depth_mm`` on the ray through the palm, shifted up to ``spread_mm``
    sideways (so the object is in view where the hand was)."""
    point = palm_mm * (depth_mm / max(float(palm_mm[2]), 1.0))
    point[:2] += rng.uniform(-spread_mm, spread_mm, 2)
    return point


def forearm_stump(rng: np.random.Generator, wrist_mm: np.ndarray,
                  elbow_mm: np.ndarray) -> Primitives:
    """The hand's forearm from the elbow to 30-120 mm short of the wrist: an arm whose hand is
    out of view (a cut like a frame edge or a sleeve over the hand would make)."""
    length = float(np.linalg.norm(elbow_mm - wrist_mm))
    cut = rng.uniform(30.0, 120.0)
    end = wrist_mm + (elbow_mm - wrist_mm) * min(cut / max(length, 1.0), 0.8)
    return round_cones(end[None], [rng.uniform(24.0, 34.0)], elbow_mm[None],
                       [rng.uniform(38.0, 48.0)], TAG_FOREARM)


def person(rng: np.random.Generator, palm_mm: np.ndarray) -> Primitives:
    """Head, torso and hanging upper arms of a person facing the camera at 0.4-1.0 m."""
    depth = rng.uniform(400.0, 1000.0)
    width, height, thick = rng.uniform(150, 200), rng.uniform(240, 300), rng.uniform(95, 130)
    frame = rot_y(rng.uniform(-0.6, 0.6)) @ rot_z(rng.uniform(-0.2, 0.2))
    torso = _at(rng, palm_mm, depth + thick, 150.0)
    torso[1] += rng.uniform(0.0, 0.6) * height  # the chest or the head may be centred
    head = torso + frame @ np.array([0.0, -height - 110.0, 0.0])
    body = ellipsoids(np.stack([torso, head]),
                      np.stack([frame * np.array([width, height, thick]),
                                frame * np.array([78.0, 105.0, 95.0])]), TAG_BODY)
    shoulders = torso + np.stack([frame @ np.array([s * (width + 20.0), -0.8 * height, 0.0])
                                  for s in (-1.0, 1.0)])
    elbows = shoulders + np.array([0.0, 290.0, 0.0]) + rng.uniform(-60.0, 60.0, (2, 3))
    arms = round_cones(shoulders, [46.0, 46.0], elbows, [38.0, 38.0], TAG_BODY)
    return Primitives.concatenate([body, arms])


def _rotation(rng: np.random.Generator) -> np.ndarray:
    angles = rng.uniform(-np.pi, np.pi, 3)
    return rot_z(angles[0]) @ rot_y(angles[1] / 2) @ rot_x(angles[2])


def some_boxes(rng: np.random.Generator, palm_mm: np.ndarray) -> Primitives:
    """One to three boxes of 50-300 mm edges (a cup-sized box to a carton)."""
    count = int(rng.integers(1, 4))
    centers = np.stack([_at(rng, palm_mm, rng.uniform(*DEPTH_RANGE_MM), 200.0)
                        for _ in range(count)])
    axes = np.stack([_rotation(rng) * rng.uniform(25.0, 150.0, 3)[None, :]
                     for _ in range(count)])
    return boxes(centers, axes, TAG_OBJECT)


def some_bottles(rng: np.random.Generator, palm_mm: np.ndarray) -> Primitives:
    """One to three bottles or cans: capsules of 25-50 mm radius, mostly upright."""
    count = int(rng.integers(1, 4))
    starts, ends, radii = [], [], []
    for _ in range(count):
        middle = _at(rng, palm_mm, rng.uniform(*DEPTH_RANGE_MM), 200.0)
        axis = rot_x(rng.normal(0.0, 0.3)) @ rot_z(rng.normal(0.0, 0.3)) @ np.array(
            [0.0, 1.0, 0.0]) * rng.uniform(50.0, 140.0)
        starts.append(middle - axis)
        ends.append(middle + axis)
        radii.append(rng.uniform(25.0, 50.0))
    return round_cones(np.stack(starts), radii, np.stack(ends), radii, TAG_OBJECT)


def table_edge(rng: np.random.Generator, palm_mm: np.ndarray) -> Primitives:
    """A table top seen from above its near edge: a 25-40 mm slab, its edge in view."""
    edge = _at(rng, palm_mm, rng.uniform(*DEPTH_RANGE_MM), 120.0)
    frame = rot_x(-np.radians(rng.uniform(15.0, 60.0))) @ rot_z(rng.uniform(-0.3, 0.3))
    half = np.array([rng.uniform(400.0, 900.0), rng.uniform(12.0, 20.0),
                     rng.uniform(300.0, 500.0)])
    center = edge + frame @ np.array([0.0, 0.0, half[2]])
    return boxes(center[None], (frame * half[None, :])[None], TAG_OBJECT)


def sample_no_hand(rng: np.random.Generator, joints_mm: np.ndarray,
                   elbow_mm: np.ndarray) -> Tuple[str, Primitives, Primitives]:
    """Draw what replaces the hand in a scene without one.

    :param rng: the no-hand stream
    :param joints_mm: (21, 3) the drawn (and removed) hand's joints, camera frame, mm
    :param elbow_mm: (3,) its forearm's far end, camera frame, mm
    :returns: the kind (one of :data:`KINDS`), what stands for the hand (the forearm stump, or
        nothing) and the objects added to the clutter, camera frame
    """
    kind = KINDS[int(rng.integers(len(KINDS)))]
    palm = palm_center(joints_mm)
    makers = {'person': person, 'boxes': some_boxes, 'bottles': some_bottles,
              'table_edge': table_edge}
    if kind == 'forearm':
        return kind, forearm_stump(rng, joints_mm[0], elbow_mm), Primitives()
    if kind != 'mix':
        return kind, Primitives(), makers[kind](rng, palm)
    chosen = rng.choice(sorted(makers), size=int(rng.integers(2, 4)), replace=False)
    objects = Primitives.concatenate([makers[name](rng, palm) for name in chosen])
    stump = forearm_stump(rng, joints_mm[0], elbow_mm) if rng.random() < 0.5 else Primitives()
    return kind, stump, objects
