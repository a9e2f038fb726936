"""Contact sheet of real frames: the depth around each hand with the estimated skeleton.

Fingers are told apart by colour (thumb red, index green, middle blue, ring yellow, pinky
magenta, wrist white) so that a thumb drawn on the pinky's side is seen at a glance; joints off
the observed surface (:mod:`training.surface_share`) get a white ring.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np

from crossinfonet_ros.camera import Intrinsics
from crossinfonet_ros.layouts import FINGERS, JointLayout
from crossinfonet_ros.visuals import draw_skeleton
from training.synth.preview import FINGER_COLOURS, captioned, colour_depth, grid

TILE_PX = 200  # side of the depth square of a tile
LABEL_PX = 30  # two text lines under it
COLUMNS = 5
# The square shown around the crop centre, in crop cubes: the whole hand and a margin.
VIEW_CUBES = 1.2
_WHITE = (255, 255, 255)
LEGEND = ('skeleton: thumb red, index green, middle blue, ring yellow, pinky magenta; '
          'white ring: joint off the surface')


@dataclass(frozen=True)
class Tile:
    """What one tile shows."""

    name: str  # the frame's name
    depth_mm: np.ndarray  # (H, W) the full frame, mm
    joints_mm: Optional[np.ndarray]  # (A, 3) estimate, camera frame; None: no hand found
    on_surface: Optional[np.ndarray]  # (A,) bool per joint
    center_mm: Optional[np.ndarray]  # (3,) crop centre
    cube_mm: float  # crop cube side
    caption: str  # second label line (side, share; or why no hand)


def _finger_of(name: str) -> int:
    """Index into FINGER_COLOURS, or -1 for joints of no finger (the wrist)."""
    head = name.split('_')[0]
    return FINGERS.index(head) if head in FINGERS else -1


def draw_hand(image: np.ndarray, uv: np.ndarray, layout: JointLayout,
              off_surface: Optional[np.ndarray] = None) -> None:
    """Draw the skeleton in place, one colour per finger, rings round off-surface joints.

    :param image: BGR image
    :param uv: (A, 2) joint pixels in ``image``
    :param layout: the joints' layout (names and bones)
    :param off_surface: (A,) bool, joints to ring
    """
    fingers = np.array([_finger_of(name) for name in layout.joint_names])
    for finger, colour in enumerate(FINGER_COLOURS):
        edges = [(a, b) for a, b in layout.edges if fingers[b] == finger]
        shown = np.where((fingers == finger)[:, None], uv, np.nan)
        for a, _ in edges:  # a bone's root may belong to the palm (the wrist)
            shown[a] = uv[a]
        draw_skeleton(image, shown, edges, colour, joint_radius=3)
    draw_skeleton(image, np.where((fingers < 0)[:, None], uv, np.nan), (), _WHITE,
                  joint_radius=3)
    if off_surface is not None:
        for point in np.round(uv[np.asarray(off_surface, bool)]).astype(int):
            cv2.circle(image, tuple(point), 6, _WHITE, 1, cv2.LINE_AA)


def _label(tile: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    strip = np.full((LABEL_PX, tile.shape[1], 3), 24, np.uint8)
    for row, text in enumerate(lines):
        cv2.putText(strip, text[:34], (4, 12 + 14 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.38,
                    _WHITE, 1, cv2.LINE_AA)
    return np.concatenate([tile, strip])


def render_tile(tile: Tile, intrinsics: Intrinsics, layout: JointLayout) -> np.ndarray:
    """One tile: the depth square round the hand (the whole frame when none was found), the
    skeleton drawn in it, and its two label lines.

    :returns: (TILE_PX + LABEL_PX, TILE_PX, 3) uint8 BGR
    """
    if tile.joints_mm is None or tile.center_mm is None:
        image = colour_depth(tile.depth_mm, 150.0, 1500.0, cv2.COLORMAP_BONE)
        height, width = image.shape[:2]
        side = max(height, width)
        square = np.zeros((side, side, 3), np.uint8)
        square[(side - height) // 2:(side - height) // 2 + height,
               (side - width) // 2:(side - width) // 2 + width] = image
        view = cv2.resize(square, (TILE_PX, TILE_PX), interpolation=cv2.INTER_AREA)
        return _label(view, (tile.name, tile.caption))
    center = np.asarray(tile.center_mm, dtype=np.float64)
    u, v, depth = intrinsics.project(center)
    half = max(8, int(round(0.5 * VIEW_CUBES * tile.cube_mm * intrinsics.fx / depth)))
    x0, y0 = int(round(u)) - half, int(round(v)) - half
    height, width = tile.depth_mm.shape
    window = np.zeros((2 * half, 2 * half), np.float32)  # zero outside the frame: no reading
    xs, ys = slice(max(x0, 0), min(x0 + 2 * half, width)), slice(max(y0, 0),
                                                                 min(y0 + 2 * half, height))
    if xs.start < xs.stop and ys.start < ys.stop:
        window[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0] = tile.depth_mm[ys, xs]
    near = depth - tile.cube_mm / 2
    image = colour_depth(window, near, near + 2 * tile.cube_mm, cv2.COLORMAP_BONE)
    scale = TILE_PX / (2 * half)
    view = cv2.resize(image, (TILE_PX, TILE_PX), interpolation=cv2.INTER_NEAREST)
    uv = intrinsics.project(tile.joints_mm)[:, :2]
    # Full-frame pixel centres are integers; window pixel k spans [k s, (k + 1) s) scaled.
    uv = (uv - np.array([x0, y0]) + 0.5) * scale - 0.5
    off = None if tile.on_surface is None else ~np.asarray(tile.on_surface, bool)
    draw_hand(view, uv, layout, off)
    return _label(view, (tile.name, tile.caption))


def write_sheet(path: Path, tiles: Sequence[Tile], intrinsics: Intrinsics, layout: JointLayout,
                title: str, columns: int = COLUMNS) -> np.ndarray:
    """Write the contact sheet PNG: a captioned grid of :func:`render_tile`.

    :param path: the PNG to write (parents created)
    :param tiles: one per frame, in order
    :param intrinsics: the frames' camera
    :param layout: the joints' layout
    :param title: the caption's first line (what the frames are)
    :param columns: tiles per row
    :returns: the sheet image written
    """
    images = [render_tile(tile, intrinsics, layout) for tile in tiles]
    sheet = grid(images, min(columns, len(images)))
    sheet = captioned(captioned(sheet, LEGEND, height=20), title, height=22)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f'cannot write {path}')
    return sheet
