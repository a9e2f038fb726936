"""A folder of real depth PNGs without labels: find, order and decode them.

Every ``.png`` under the root is taken, sub-folders included (one folder per recording is the
common layout), in natural order of the path relative to the root (``20.png`` before
``100.png``), so that frames of one recording follow each other.
"""

from dataclasses import dataclass
import math
from pathlib import Path
import re
from typing import List, Sequence, Tuple

import numpy as np

from crossinfonet_ros.camera import Intrinsics
from training.datasets.common import DatasetError, read_png_uint16


class FramesError(ValueError):
    """A folder, file or option that cannot be used: reported as one line."""


@dataclass(frozen=True)
class DepthFrame:
    """One decoded frame."""

    name: str  # path relative to the root, '/'-separated
    depth_mm: np.ndarray  # (H, W) float32 depth, mm, 0 = no reading


def _natural_key(name: str) -> Tuple:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r'(\d+)', name))


def find_pngs(root: Path) -> List[Path]:
    """The PNG files under ``root`` (recursively), in natural order of their relative path.

    :raises FramesError: ``root`` is not a folder or holds no PNG
    """
    root = Path(root)
    if not root.is_dir():
        raise FramesError(f'--root {root}: ' + ('not a folder' if root.exists()
                                                else 'no such folder'))
    files = [path for path in root.rglob('*') if path.suffix.lower() == '.png'
             and path.is_file()]
    if not files:
        raise FramesError(f'--root {root}: no .png files in it or its sub-folders')
    return sorted(files, key=lambda path: _natural_key(path.relative_to(root).as_posix()))


def read_raw_png(path: Path) -> np.ndarray:
    """The raw depth units of a single-channel 16-bit PNG.

    :raises FramesError: unreadable, or not single-channel 16-bit
    """
    try:
        return read_png_uint16(path)
    except DatasetError as error:
        raise FramesError(str(error)) from None


def check_folder(root: Path) -> Tuple[List[Path], Tuple[int, int]]:
    """The frames under ``root`` and their common (H, W), every file decoded once to check it
    (before any network is loaded; nothing is kept, so a long recording costs no memory).

    :raises FramesError: see :func:`find_pngs`, :func:`read_raw_png`; or mixed image sizes
    """
    paths = find_pngs(root)
    sizes = {read_raw_png(path).shape for path in paths}
    if len(sizes) > 1:
        raise FramesError(f'--root {root}: frames of different sizes {sorted(sizes)}; one '
                          'camera per run (its --intrinsics)')
    return paths, sizes.pop()


def read_frame(path: Path, root: Path, depth_scale_m: float) -> DepthFrame:
    """One frame, decoded to mm (0 stays no reading).

    :param path: the file
    :param root: the folder names are relative to
    :param depth_scale_m: metres per raw unit (the node's ``depth_scale``)
    """
    depth = read_raw_png(path).astype(np.float32) * np.float32(depth_scale_m * 1000.0)
    return DepthFrame(Path(path).relative_to(root).as_posix(), depth)


def parse_depth_scale(text: str) -> float:
    """``--depth-scale``: metres per raw unit, positive and finite."""
    try:
        value = float(text)
    except ValueError:
        raise FramesError(f'--depth-scale {text!r}: not a number (metres per raw depth unit,'
                          ' e.g. 0.001 for millimetre PNGs)') from None
    if not (math.isfinite(value) and value > 0):
        raise FramesError(f'--depth-scale {text!r}: must be positive and finite (metres per raw'
                          ' depth unit)')
    return value


def parse_intrinsics(text: str, shape: Sequence[int]) -> Intrinsics:
    """``--intrinsics fx,fy,cx,cy`` (pixels) for frames of ``shape`` (H, W).

    :raises FramesError: not four finite numbers, focal lengths out of range, or a principal
        point outside the image
    """
    parts = text.split(',')
    try:
        fx, fy, cx, cy = (float(part) for part in parts)
    except ValueError:
        raise FramesError(f'--intrinsics {text!r}: expected four numbers fx,fy,cx,cy (pixels)'
                          ) from None
    height, width = shape
    try:
        camera = Intrinsics(fx, fy, cx, cy, int(width), int(height))
    except ValueError as error:
        raise FramesError(f'--intrinsics {text!r}: {error}') from None
    if not (0 <= cx < width and 0 <= cy < height):
        raise FramesError(f'--intrinsics {text!r}: principal point ({cx}, {cy}) lies outside '
                          f'the {width}x{height} frames')
    return camera
