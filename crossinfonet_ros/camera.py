"""Pinhole camera model: pixel + depth (uvd) <-> camera-frame xyz; intrinsics by stamp."""

from collections import OrderedDict
from dataclasses import dataclass
import threading
from typing import Hashable, Optional

import numpy as np


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of a depth camera, optical frame (x right, y down, z forward).

    ``uvd`` is (column, row, depth); ``xyz`` is in the same length unit as the depth.
    """

    fx: float  # focal length along u, pixels
    fy: float  # focal length along v, pixels
    cx: float  # principal point column, pixels
    cy: float  # principal point row, pixels
    width: int  # image width, pixels
    height: int  # image height, pixels

    def __post_init__(self) -> None:
        values = (self.fx, self.fy, self.cx, self.cy)
        if not all(np.isfinite(values)):
            raise ValueError(f'intrinsics must be finite, got {values}')
        # Below a pixel or above 10^7 pixels a "focal length" describes no camera (and divides
        # into overflowing ray slopes).
        if not (1.0 <= self.fx <= 1e7 and 1.0 <= self.fy <= 1e7):
            raise ValueError(f'focal lengths must be within [1, 1e7] pixels, got fx={self.fx} '
                             f'fy={self.fy}')
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f'image size must be positive, got {self.width}x{self.height}')

    @classmethod
    def from_k(cls, k, width: int, height: int) -> 'Intrinsics':
        """Build from a row-major 3x3 camera matrix (9 values, as CameraInfo.k).

        :param k: the camera matrix, any shape holding 9 values
        :param width: image width in pixels
        :param height: image height in pixels
        """
        k = np.asarray(k, dtype=np.float64).reshape(3, 3)
        return cls(float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]),
                   int(width), int(height))

    def matrix(self) -> np.ndarray:
        """Return the 3x3 camera matrix."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def project(self, xyz: np.ndarray) -> np.ndarray:
        """Map camera-frame points (..., 3) to (u, v, depth) (..., 3)."""
        xyz = np.asarray(xyz, dtype=np.float64)
        z = xyz[..., 2]
        u = xyz[..., 0] * self.fx / z + self.cx
        v = xyz[..., 1] * self.fy / z + self.cy
        return np.stack([u, v, z], axis=-1)

    def backproject(self, uvd: np.ndarray) -> np.ndarray:
        """Map (u, v, depth) (..., 3) to camera-frame points (..., 3)."""
        uvd = np.asarray(uvd, dtype=np.float64)
        d = uvd[..., 2]
        x = (uvd[..., 0] - self.cx) * d / self.fx
        y = (uvd[..., 1] - self.cy) * d / self.fy
        return np.stack([x, y, d], axis=-1)

    def scaled(self, factor: float) -> 'Intrinsics':
        """Intrinsics of the same camera with the image resized by ``factor``."""
        return Intrinsics(self.fx * factor, self.fy * factor, (self.cx + 0.5) * factor - 0.5,
                          (self.cy + 0.5) * factor - 0.5,
                          max(1, round(self.width * factor)), max(1, round(self.height * factor)))


# RealSense D435 depth stream at 640x480 (typical factory calibration); the renderer's and the
# demo's default camera.
D435_640X480 = Intrinsics(fx=383.0, fy=383.0, cx=320.0, cy=240.0, width=640, height=480)


class IntrinsicsByStamp:
    """The last few camera infos by stamp, for matching images to the intrinsics sent with them
    (drivers stamp both alike); an image without its own gets the newest.

    Thread-safe: infos arrive on one thread, images are processed on another.
    """

    def __init__(self, size: int = 16) -> None:
        """:param size: stamps remembered (16: ~0.5 s of a 30 Hz camera)"""
        if size < 1:
            raise ValueError(f'size must be at least 1, got {size}')
        self._size = size
        self._by_stamp: 'OrderedDict[Hashable, Intrinsics]' = OrderedDict()
        self._lock = threading.Lock()
        self.newest: Optional[Intrinsics] = None  # the last one added

    def add(self, stamp: Hashable, intrinsics: Intrinsics) -> None:
        """Remember ``intrinsics`` under ``stamp``; the oldest stamp beyond ``size`` goes."""
        with self._lock:
            self._by_stamp[stamp] = intrinsics
            self._by_stamp.move_to_end(stamp)
            while len(self._by_stamp) > self._size:
                self._by_stamp.popitem(last=False)
            self.newest = intrinsics

    def for_stamp(self, stamp: Hashable) -> Optional[Intrinsics]:
        """The intrinsics sent with ``stamp``, else the newest (None before any)."""
        with self._lock:
            return self._by_stamp.get(stamp, self.newest)
