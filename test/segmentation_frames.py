"""Depth frames for the segmentation benchmark and its equivalence tests: rendered cluttered
streams at 640x480 and 848x480 and the real SR305 frames of ../shared/real (when present)."""

from dataclasses import replace
import glob
import os
from typing import Iterator, List, Tuple

import cv2
import numpy as np

from crossinfonet_ros.camera import D435_640X480, Intrinsics
from training.synth.scene import SynthConfig, render_frame
from training.synth.motion import stream_frames

# A D435 depth stream at 848x480 (its widest mode; same focal length as at 640x480).
D435_848X480 = replace(D435_640X480, cx=424.0, width=848)
# The SR305 recordings of ../shared/real/README.md: depth unit 0.125 mm, their own intrinsics.
SR305 = Intrinsics(fx=476.007, fy=476.007, cx=313.683, cy=242.755, width=640, height=480)
SR305_UNIT_MM = 0.125
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# ../shared beside the checkout (a worktree one level deeper: ../../shared); override with
# CROSSINFONET_REAL_DIR.
REAL_DIR = os.environ.get('CROSSINFONET_REAL_DIR') or next(
    (path for path in (os.path.join(_ROOT, *up, 'shared', 'real', 'sr305')
                       for up in (('..',), ('..', '..'))) if os.path.isdir(path)),
    os.path.join(_ROOT, '..', 'shared', 'real', 'sr305'))
Frame = Tuple[str, np.ndarray, Intrinsics]  # (name, depth in mm, camera)


def rendered_stream(seed: int, count: int, camera: Intrinsics = D435_640X480,
                    rate_hz: float = 30.0) -> Iterator[Frame]:
    """A moving hand among clutter, as the node gets it from a 16UC1 camera (uint16 mm)."""
    for index, (_, sample) in enumerate(stream_frames(seed, count, rate_hz,
                                                      SynthConfig(intrinsics=camera))):
        yield (f'stream {seed}/{index} {camera.width}x{camera.height}',
               np.round(sample.depth_mm).astype(np.uint16), camera)


def rendered_frames(seed: int, count: int, camera: Intrinsics = D435_640X480) -> List[Frame]:
    """Independent cluttered frames (a new scene each), uint16 mm."""
    config = SynthConfig(intrinsics=camera)
    return [(f'frame {seed}/{index} {camera.width}x{camera.height}',
             np.round(render_frame(seed, index, config).depth_mm).astype(np.uint16), camera)
            for index in range(count)]


def real_frames(folder: str = REAL_DIR) -> List[Frame]:
    """The SR305 frames in mm (float32, as the node converts a 0.125 mm 16UC1 image), sorted
    by name; empty when the folder is absent."""
    frames = []
    for path in sorted(glob.glob(os.path.join(folder, '*', '*.png'))):
        raw = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if raw is None or raw.dtype != np.uint16:
            raise ValueError(f'{path} is not a 16-bit depth PNG')
        name = os.path.relpath(path, folder)
        frames.append((f'real {name}', raw.astype(np.float32) * np.float32(SR305_UNIT_MM),
                       SR305))
    return frames
