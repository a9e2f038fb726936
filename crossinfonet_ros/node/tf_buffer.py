"""A small TF buffer: frame tree, time history, lookups between frames (ROS-free, numpy only).

The node needs ``target_frame`` lookups, but ``tf2_ros`` has no PyPI wheel (ROS 2 from wheels
ships only the ``tf2_msgs`` types), so this module keeps the part of tf2's ``BufferCore`` the
node uses, with tf2's conventions:

- an edge ``parent -> child`` holds the child's pose in the parent frame, so it maps points
  given in the child frame into the parent frame;
- ``lookup(target, source, t)`` maps points given in ``source`` into ``target`` at time ``t``,
  chaining through the common ancestor of both frames;
- dynamic edges are interpolated at ``t`` (translation linearly, rotation by slerp) between the
  samples around it and never extrapolated; one sample answers only its own stamp; static
  edges hold at every time;
- each child frame has one parent: a sample naming another parent replaces the child's
  history (the newest parent wins);
- dynamic history older than ``cache_s`` before the child's newest sample is dropped (tf2's
  default cache is 10 s).

Thread-safe: the ROS executor thread adds, the worker thread looks up (and may wait for a
transform to arrive with :meth:`TransformBuffer.wait_for`).
"""

from bisect import bisect_left, insort
from collections import OrderedDict
from dataclasses import dataclass
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

DEFAULT_CACHE_S = 10.0  # tf2's default buffer length, s
# Bounds on memory whatever the publishers do: samples kept per child (10 s at 200 Hz) and
# frames kept (the least recently updated dynamic one is forgotten first). A sample (stamp, two
# small arrays) takes ~0.3 KB, so the buffer stays under ~150 MB even when both bounds are hit;
# a robot's tree holds tens of frames at up to a few hundred Hz.
MAX_SAMPLES_PER_FRAME = 2_000
MAX_FRAMES = 256
_KNOWN_SHOWN = 8  # known frames named in an unknown-frame error
_STAMP_EPS_S = 1e-9  # a lookup this close to a lone sample's stamp is at that stamp


class TransformError(ValueError):
    """A lookup cannot be answered; the message says which frames and why.

    :ivar kind: ``'unknown_frame'``, ``'not_connected'``, ``'loop'``, ``'past'`` (the stamp is
        older than the history: waiting does not help) or ``'future'`` (newer than the newest
        sample: waiting may help)
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def quaternion_to_matrix(quaternion_xyzw: Sequence[float]) -> np.ndarray:
    """(3, 3) rotation matrix of an (x, y, z, w) quaternion (normalised first).

    :raises ValueError: a zero or non-finite quaternion
    """
    q = np.asarray(quaternion_xyzw, dtype=np.float64)
    norm = np.linalg.norm(q)
    if q.shape != (4,) or not np.isfinite(norm) or norm < 1e-12:
        raise ValueError(f'not a rotation quaternion (x, y, z, w): {quaternion_xyzw!r}')
    x, y, z, w = q / norm
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def slerp(q0: np.ndarray, q1: np.ndarray, fraction: float) -> np.ndarray:
    """Spherical linear interpolation of unit quaternions along the shorter arc."""
    dot = float(np.dot(q0, q1))
    if dot < 0.0:  # q and -q are one rotation: take the shorter way round
        q1, dot = -q1, -dot
    if dot > 0.9995:  # nearly equal: the arc is a line, and sin(angle) ~ 0 would divide badly
        q = q0 + fraction * (q1 - q0)
        return q / np.linalg.norm(q)
    angle = np.arccos(min(dot, 1.0))
    return (np.sin((1 - fraction) * angle) * q0 + np.sin(fraction * angle) * q1) / np.sin(angle)


@dataclass(frozen=True, eq=False)
class RigidTransform:
    """``p_target = rotation @ p_source + translation``."""

    rotation: np.ndarray  # (3, 3) orthonormal
    translation: np.ndarray  # (3,) metres

    @classmethod
    def identity(cls) -> 'RigidTransform':
        """The transform that changes nothing."""
        return cls(np.eye(3), np.zeros(3))

    @classmethod
    def from_quaternion(cls, translation: Sequence[float],
                        quaternion_xyzw: Sequence[float]) -> 'RigidTransform':
        """From a translation and an (x, y, z, w) quaternion, as in a TransformStamped."""
        return cls(quaternion_to_matrix(quaternion_xyzw),
                   np.asarray(translation, dtype=np.float64).reshape(3))

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Points (N, 3) (or one point (3,)) mapped by this transform."""
        points = np.asarray(points, dtype=np.float64)
        return points @ self.rotation.T + self.translation

    def __matmul__(self, other: 'RigidTransform') -> 'RigidTransform':
        """``self @ other``: first ``other``, then ``self``."""
        return RigidTransform(self.rotation @ other.rotation,
                              self.rotation @ other.translation + self.translation)

    def inverse(self) -> 'RigidTransform':
        """The transform mapping back."""
        return RigidTransform(self.rotation.T, -self.rotation.T @ self.translation)


class _Edge:
    """One child frame's parent and its pose history (stamps sorted, oldest first)."""

    def __init__(self, parent: str, static: bool) -> None:
        self.parent = parent
        self.static = static
        self.stamps: List[float] = []
        self.samples: Dict[float, Tuple[np.ndarray, np.ndarray]] = {}  # stamp -> (t, q)

    def add(self, stamp_s: float, translation: np.ndarray, quaternion: np.ndarray,
            cache_s: float) -> None:
        # A static edge keeps one sample; a dynamic sample older than the whole cache window
        # means the clock jumped back (a bag restarted): the history restarts from it.
        if self.static or (self.stamps and stamp_s < self.stamps[-1] - cache_s):
            self.stamps, self.samples = [stamp_s], {}
        elif stamp_s not in self.samples:
            insort(self.stamps, stamp_s)
        self.samples[stamp_s] = (translation, quaternion)
        # Keep cache_s before the newest sample, and at most MAX_SAMPLES_PER_FRAME.
        cut = max(bisect_left(self.stamps, self.stamps[-1] - cache_s),
                  len(self.stamps) - MAX_SAMPLES_PER_FRAME)
        if cut > 0:
            for old in self.stamps[:cut]:
                del self.samples[old]
            del self.stamps[:cut]

    def at(self, stamp_s: float, child: str) -> RigidTransform:
        """The child's pose in the parent at ``stamp_s``.

        :raises TransformError: the stamp is outside the history
        """
        if self.static:
            return RigidTransform.from_quaternion(*self.samples[self.stamps[0]])
        oldest, newest = self.stamps[0], self.stamps[-1]
        edge = f'{self.parent!r} -> {child!r}'
        if stamp_s > newest + _STAMP_EPS_S:
            raise TransformError('future', (
                f'extrapolation into the future: the newest transform {edge} is '
                f'{(stamp_s - newest) * 1e3:.1f} ms older than the stamp {stamp_s:.6f}'))
        if stamp_s < oldest - _STAMP_EPS_S:
            raise TransformError('past', (
                f'extrapolation into the past: the oldest transform {edge} kept is '
                f'{(oldest - stamp_s) * 1e3:.1f} ms newer than the stamp {stamp_s:.6f}'))
        after = min(bisect_left(self.stamps, stamp_s), len(self.stamps) - 1)
        t1, q1 = self.samples[self.stamps[after]]
        if after == 0 or self.stamps[after] - stamp_s <= _STAMP_EPS_S:
            return RigidTransform.from_quaternion(t1, q1)
        before = self.stamps[after - 1]
        t0, q0 = self.samples[before]
        fraction = (stamp_s - before) / (self.stamps[after] - before)
        return RigidTransform.from_quaternion(t0 + fraction * (t1 - t0),
                                              slerp(q0, q1, fraction))


class TransformBuffer:
    """The frame tree and its recent history; add from one thread, look up from another.

    :param cache_s: how long dynamic transforms are kept (before each frame's newest), s
    """

    def __init__(self, cache_s: float = DEFAULT_CACHE_S) -> None:
        if not cache_s > 0:
            raise ValueError(f'cache_s must be > 0 s, got {cache_s}')
        self.cache_s = float(cache_s)
        self._edges: 'OrderedDict[str, _Edge]' = OrderedDict()  # child -> edge, LRU order
        self._changed = threading.Condition()

    def add(self, parent: str, child: str, stamp_s: float, translation: Sequence[float],
            quaternion_xyzw: Sequence[float], static: bool = False) -> None:
        """Store the pose of ``child`` in ``parent`` at ``stamp_s`` (static: at every time).

        :raises ValueError: empty or equal frame names, a non-finite number or a zero
            quaternion (nothing is stored)
        """
        if not parent or not child or parent == child:
            raise ValueError(f'a transform needs two different, non-empty frames: '
                             f'parent {parent!r}, child {child!r}')
        translation = np.asarray(translation, dtype=np.float64).reshape(3)
        quaternion = np.asarray(quaternion_xyzw, dtype=np.float64).reshape(4)
        norm = np.linalg.norm(quaternion)
        if not (np.isfinite(stamp_s) and np.all(np.isfinite(translation)) and norm > 1e-12
                and np.isfinite(norm)):
            raise ValueError(f'transform {parent!r} -> {child!r} at {stamp_s}: non-finite '
                             f'numbers or a zero quaternion {quaternion_xyzw!r}')
        with self._changed:
            edge = self._edges.get(child)
            if edge is None or edge.parent != parent or edge.static != static:
                edge = self._edges[child] = _Edge(parent, static)  # the newest parent wins
            self._edges.move_to_end(child)
            edge.add(float(stamp_s), translation, quaternion / norm, self.cache_s)
            if len(self._edges) > MAX_FRAMES:  # forget the stalest dynamic frame
                stale = next((name for name, kept in self._edges.items() if not kept.static),
                             next(iter(self._edges)))
                del self._edges[stale]
            self._changed.notify_all()

    def frames(self) -> List[str]:
        """Every frame named by a stored transform (parents and children), sorted."""
        with self._changed:
            return sorted(self._known())

    def lookup(self, target_frame: str, source_frame: str, stamp_s: float) -> RigidTransform:
        """The transform mapping points in ``source_frame`` into ``target_frame`` at
        ``stamp_s`` (identity when the frames are the same).

        :raises TransformError: an unknown frame, frames in different trees, or a stamp
            outside a dynamic edge's history
        """
        with self._changed:
            return self._lookup(target_frame, source_frame, stamp_s)

    def wait_for(self, target_frame: str, source_frame: str, stamp_s: float,
                 timeout_s: float) -> RigidTransform:
        """:meth:`lookup`, waiting up to ``timeout_s`` for the transforms to arrive.

        Returns as soon as the lookup succeeds; an extrapolation into the past is raised at
        once (newer samples cannot help).

        :raises TransformError: the last lookup's error when the time is up
        """
        deadline = time.monotonic() + max(timeout_s, 0.0)
        with self._changed:
            while True:
                try:
                    return self._lookup(target_frame, source_frame, stamp_s)
                except TransformError as error:
                    remaining = deadline - time.monotonic()
                    if error.kind == 'past' or remaining <= 0:
                        raise
                self._changed.wait(remaining)

    # --- under the lock ---------------------------------------------------------------------
    def _known(self) -> set:
        return set(self._edges) | {edge.parent for edge in self._edges.values()}

    def _path_to_root(self, frame: str) -> List[str]:
        """``[frame, its parent, ..., root]``."""
        path, seen = [frame], {frame}
        while frame in self._edges:
            frame = self._edges[frame].parent
            if frame in seen:
                raise TransformError('loop', f'the frames form a loop: '
                                             f'{" -> ".join(path + [frame])}')
            path.append(frame)
            seen.add(frame)
        return path

    def _lookup(self, target: str, source: str, stamp_s: float) -> RigidTransform:
        if target == source:
            return RigidTransform.identity()
        known = self._known()
        for frame in (target, source):
            if frame not in known:
                shown = sorted(known)[:_KNOWN_SHOWN]
                more = f', ... ({len(known)} in all)' if len(known) > len(shown) else ''
                have = (f'known frames: {", ".join(shown)}{more}' if shown
                        else 'no transforms received yet')
                raise TransformError('unknown_frame', f'frame {frame!r} does not exist '
                                                      f'({have})')
        up_from_source = self._path_to_root(source)
        up_from_target = self._path_to_root(target)
        if up_from_source[-1] != up_from_target[-1]:
            raise TransformError('not_connected', (
                f'frames {target!r} and {source!r} are not connected: {target!r} is in the '
                f'tree of {up_from_target[-1]!r}, {source!r} in the tree of '
                f'{up_from_source[-1]!r}'))
        on_target_side = set(up_from_target)
        ancestor = next(frame for frame in up_from_source if frame in on_target_side)
        source_in_ancestor = self._chain(up_from_source, ancestor, stamp_s)
        target_in_ancestor = self._chain(up_from_target, ancestor, stamp_s)
        return target_in_ancestor.inverse() @ source_in_ancestor

    def _chain(self, path: List[str], ancestor: str, stamp_s: float) -> RigidTransform:
        """Maps points in ``path[0]`` into ``ancestor`` (which is on ``path``)."""
        result = RigidTransform.identity()
        for child in path[:path.index(ancestor)]:
            result = self._edges[child].at(stamp_s, child) @ result
        return result
