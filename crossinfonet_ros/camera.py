"""Pinhole camera model: pixel + depth (uvd) <-> camera-frame xyz."""

from dataclasses import dataclass

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
