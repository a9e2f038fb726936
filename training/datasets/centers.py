"""Hand centres: V2V-PoseNet centre files and the seeded centre of mass (spec 3.2).

V2V-PoseNet publishes refined centres (``center_{train,test}_refined.txt``; CrossInfoNet renames
the NYU ones ``train_NYU.txt`` / ``test_NYU.txt``, spec 5.1): one line per frame of the label
file, three numbers x y z in mm in the dataset's own 3D convention. Frames the V2V authors could
not centre carry a line whose first token is ``invalid`` (V2V's loaders test exactly that token
and skip the frame); :func:`read_center_file` returns NaN for them and the loaders fall back to
the centre of mass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from crossinfonet_ros.camera import Intrinsics
from crossinfonet_ros.codec import crop_box
from training.datasets.common import DatasetError, parse_numbers, read_lines

INVALID_TOKEN = 'invalid'  # first token of a V2V centre line for a frame without a centre


def read_center_file(path: Path, num_frames: int,
                     to_optical: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """Read a V2V-style centre file: one ``x y z`` line (mm) per frame.

    :param path: the centre file
    :param num_frames: frames in the matching label file; the line counts must agree
    :param to_optical: converts (N, 3) centres from the dataset's convention to the camera
        optical frame (x right, y down, z forward); identity when None
    :return: (num_frames, 3) float64 centres, NaN rows for ``invalid`` lines
    :raises DatasetError: missing file, wrong line count, bad number, or z <= 0 after conversion
    """
    lines = read_lines(path, 'centre file')
    while lines and not lines[-1].strip():
        lines.pop()  # a trailing newline or blank line is not a frame
    if len(lines) != num_frames:
        raise DatasetError(f'{path}: centre file has {len(lines)} lines but the labels have'
                           f' {num_frames} frames')
    centers = np.full((num_frames, 3), np.nan)
    for row, line in enumerate(lines):
        tokens = line.split()
        if tokens and tokens[0].lower() == INVALID_TOKEN:
            continue
        centers[row] = parse_numbers(tokens, 3, path, row + 1)
    if to_optical is not None:
        centers = to_optical(centers)
    bad = np.flatnonzero(centers[:, 2] <= 0)  # NaN compares False: invalid rows pass
    if bad.size:
        raise DatasetError(f'{path} line {bad[0] + 1}: centre depth must be positive in the'
                           f' camera frame, got z = {centers[bad[0], 2]:g} mm (wrong convention?)')
    return centers


def center_of_mass(depth_mm: np.ndarray, seed_mm: np.ndarray, cube_mm: float,
                   intrinsics: Intrinsics) -> np.ndarray:
    """Centre of mass of the depth inside the cube around a seed point (DeepPrior++, spec 3.2).

    The window is the codec's image box of the cube at the seed (``codec.crop_box``, the same
    box the crop cuts); the pixels counted are the valid ones (depth > 0) not beyond the
    cube's back face, those in front of its front face counting at the front face (the crop's
    clamping, spec 3.4 step 3). The mean column, row and depth of these pixels is
    back-projected to 3D. With no such pixel, the seed itself is returned.

    :param depth_mm: (H, W) depth in mm, 0 = no reading
    :param seed_mm: (3,) seed point in mm, optical frame (e.g. a ground-truth joint)
    :param cube_mm: side of the cube in mm
    :param intrinsics: camera of ``depth_mm``
    :return: (3,) float64 centre in mm, optical frame
    """
    seed_mm = np.asarray(seed_mm, dtype=np.float64)
    if not np.all(np.isfinite(seed_mm)) or seed_mm[2] <= 0:
        raise ValueError(f'centre-of-mass seed must be finite with z > 0, got {seed_mm}')
    x0, y0, x1, y1 = crop_box(seed_mm, cube_mm, intrinsics)
    height, width = depth_mm.shape
    x0, x1 = max(x0, 0), min(x1, width)
    y0, y1 = max(y0, 0), min(y1, height)
    if x0 >= x1 or y0 >= y1:
        return seed_mm.copy()
    window = depth_mm[y0:y1, x0:x1]
    near, far = seed_mm[2] - cube_mm / 2.0, seed_mm[2] + cube_mm / 2.0
    valid = (window > 0) & (window <= far)
    if not valid.any():
        return seed_mm.copy()
    rows, cols = np.nonzero(valid)
    depths = np.maximum(window[valid].astype(np.float64), near)
    uvd = np.array([cols.mean() + x0, rows.mean() + y0, depths.mean()])
    return intrinsics.backproject(uvd)
