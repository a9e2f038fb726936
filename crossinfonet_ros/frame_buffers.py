"""Arrays reused from one depth frame to the next, keyed by role, shape and dtype (ROS-free).

A camera streams frames of one size, so the per-frame work (depth conversion, segmentation)
writes into the same arrays every frame instead of allocating frame-sized ones: no allocator
churn and no page faults on fresh memory at 30-90 Hz.

An array taken from a pool is overwritten by the next frame that takes the same role: whatever
holds it (a prepared frame, a converted depth image) is valid only until then. One pool per
stream of frames processed one after another; two frames in flight need two pools.
"""

from typing import Dict, Tuple

import numpy as np


class FrameBuffers:
    """A pool of arrays, one per ``(role, shape, dtype)``; not thread-safe (one per worker)."""

    def __init__(self) -> None:
        self._arrays: Dict[Tuple[str, tuple, np.dtype], np.ndarray] = {}

    def take(self, role: str, shape: tuple, dtype) -> np.ndarray:
        """The array of ``role`` with this shape and dtype, contents left from its last use.

        :param role: what the array holds (two roles never share memory)
        :param shape: its shape
        :param dtype: its dtype
        :returns: an uninitialised (first use) or previously used array
        """
        key = (role, tuple(shape), np.dtype(dtype))
        array = self._arrays.get(key)
        if array is None:
            # A new frame size or dtype for this role: the previous arrays of the role go.
            for old in [k for k in self._arrays if k[0] == role]:
                del self._arrays[old]
            array = self._arrays[key] = np.empty(key[1], key[2])
        return array


class FreshBuffers(FrameBuffers):
    """Allocates a new array on every :meth:`take` (callers that keep their results)."""

    def take(self, role: str, shape: tuple, dtype) -> np.ndarray:
        """A new uninitialised array (the role is ignored)."""
        return np.empty(tuple(shape), np.dtype(dtype))
