"""One Euro filter for joint positions (Casiez, Roussel, Vogel, CHI 2012), ROS-free.

A first-order low-pass whose cut-off rises with the signal's speed: slow motion is smoothed hard
(little jitter), fast motion passes with little lag. Cut-off ``fc = min_cutoff + beta * |dx/dt|``,
smoothing factor ``alpha = 1 / (1 + tau / dt)`` with ``tau = 1 / (2 pi fc)``; the speed itself is
low-passed at ``d_cutoff`` (the paper's defaults: 1 Hz).
"""

import math
from typing import Optional

import numpy as np


def _alpha(cutoff_hz: float, dt: float) -> float:
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Filters arrays of a fixed shape (e.g. (A, 3) joints), element-wise, on time stamps."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0) -> None:
        """:param min_cutoff: cut-off at rest, Hz (lower = smoother, more lag)
        :param beta: cut-off increase per unit of speed (unit/s); higher = less lag when fast
        :param d_cutoff: cut-off of the speed estimate, Hz
        """
        for name, value in (('min_cutoff', min_cutoff), ('d_cutoff', d_cutoff)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f'{name} must be a positive number of Hz, got {value}')
        if not (math.isfinite(beta) and beta >= 0):
            raise ValueError(f'beta must be >= 0, got {beta}')
        self.min_cutoff = float(min_cutoff)
        self.beta = float(beta)
        self.d_cutoff = float(d_cutoff)
        self._value: Optional[np.ndarray] = None
        self._speed: Optional[np.ndarray] = None
        self._time: Optional[float] = None

    def reset(self) -> None:
        """Forget the history (the next sample passes unfiltered), e.g. when the hand is lost."""
        self._value = self._speed = self._time = None

    def __call__(self, value: np.ndarray, time_s: float) -> np.ndarray:
        """Filter one sample.

        A sample whose time is not after the previous one, or whose shape differs, restarts the
        filter (a replayed bag or a layout change must not produce a division by zero).

        :param value: the raw sample
        :param time_s: its time stamp, seconds
        :returns: the filtered sample (float64, same shape)
        """
        value = np.asarray(value, dtype=np.float64)
        previous = self._value
        if (previous is None or previous.shape != value.shape or self._time is None
                or not time_s > self._time):
            self._value, self._speed, self._time = value.copy(), np.zeros_like(value), time_s
            return value.copy()
        dt = time_s - self._time
        speed = (value - previous) / dt
        speed = self._speed + _alpha(self.d_cutoff, dt) * (speed - self._speed)
        cutoff = self.min_cutoff + self.beta * np.abs(speed)
        tau = 1.0 / (2.0 * math.pi * cutoff)
        alpha = 1.0 / (1.0 + tau / dt)
        filtered = previous + alpha * (value - previous)
        self._value, self._speed, self._time = filtered, speed, time_s
        return filtered.copy()
