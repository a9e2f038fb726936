"""The demo's pictures: a contact sheet of frames with skeletons, and a 3D plot of one hand.

Prediction in red, ground truth in blue (when the stream has it). The contact sheet shows the
depth around the hand at full resolution (the crop cube's box, ``codec.crop_box``, with a
margin), colour-mapped over the cube's depth range, near bright. The ground truth is drawn
first and wide, the prediction on top and thin, so a perfect prediction still shows both; each
tile has a scale bar of ``SCALE_BAR_MM`` at the hand's depth, and the title strip a legend.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from crossinfonet_ros.camera import Intrinsics
from crossinfonet_ros.codec import crop_box
from crossinfonet_ros.layouts import LAYOUTS
from crossinfonet_ros.visuals import draw_skeleton

TILE_PX = 240  # contact-sheet tile side
COLUMNS = 4  # contact-sheet tiles per row
MARGIN = 1.3  # tile box side / crop cube side: the hand plus some surroundings
PREDICTION_BGR = (40, 40, 255)  # red
TRUTH_BGR = (255, 120, 30)  # blue
PREDICTION_RGB = '#ff2828'
TRUTH_RGB = '#1e78ff'
HEADER_PX = 56  # contact-sheet title strip: the title, then the legend
SCALE_BAR_MM = 50.0  # scale bar length at the hand's depth
SCALE_BAR_BGR = (255, 255, 255)
# (bone width, joint radius) in pixels: the truth drawn wide under the thin prediction.
TRUTH_STROKE = (6, 5)
PREDICTION_STROKE = (2, 3)

Edges = Sequence[Tuple[int, int]]


def layout_edges(name: str) -> Edges:
    """Skeleton bones of a joint layout; none for a layout this checkout does not know.

    :param name: the HandPose ``layout`` field
    """
    return LAYOUTS[name].edges if name in LAYOUTS else ()


@dataclass(frozen=True)
class SheetFrame:
    """One contact-sheet tile's content."""

    index: int  # frame number in the stream (0-based)
    depth_mm: np.ndarray  # (H, W) full depth frame, mm, 0 = no reading
    intrinsics: Intrinsics  # the frame's camera
    predicted_mm: Optional[np.ndarray]  # (J, 3) predicted joints, mm; None: no hand / no answer
    predicted_edges: Edges  # bones of the prediction's layout
    truth_mm: Optional[np.ndarray]  # (J, 3) ground truth, mm, or None
    truth_edges: Edges  # bones of the ground truth's layout
    center_mm: Optional[np.ndarray]  # (3,) crop centre the node used (or the true palm centre)
    cube_mm: float  # crop cube side, mm
    label: str  # caption, e.g. '#12  31 mm'


def _box(frame: SheetFrame) -> Tuple[int, int, int, int]:
    if frame.center_mm is None or frame.center_mm[2] <= 0:
        return 0, 0, frame.intrinsics.width, frame.intrinsics.height
    return crop_box(frame.center_mm, frame.cube_mm * MARGIN, frame.intrinsics)


def _colour_depth(region: np.ndarray, near_mm: float, far_mm: float) -> np.ndarray:
    """BGR colour map of depth: near bright, far dark, no reading black."""
    valid = region > 0
    scaled = np.clip((far_mm - region) / max(far_mm - near_mm, 1.0), 0.0, 1.0)
    gray = np.where(valid, 40 + 215 * scaled, 0).astype(np.uint8)
    return cv2.applyColorMap(gray, cv2.COLORMAP_BONE)


def _caption(image: np.ndarray, text: str, origin: Tuple[int, int],
             scale: float = 0.5) -> int:
    """White text on a black box (readable on any depth colour); ``origin`` is its top left.

    :returns: the x just right of the box
    """
    font = cv2.FONT_HERSHEY_SIMPLEX
    (width, height), baseline = cv2.getTextSize(text, font, scale, 1)
    x, y = origin
    cv2.rectangle(image, (x, y), (x + width + 6, y + height + baseline + 6), (0, 0, 0), -1)
    cv2.putText(image, text, (x + 3, y + height + 3), font, scale, (255, 255, 255), 1,
                cv2.LINE_AA)
    return x + width + 6


def scale_bar_px(frame: SheetFrame, size: int = TILE_PX) -> Optional[float]:
    """Length on the tile of ``SCALE_BAR_MM`` at the crop centre's depth; None without one.

    :param frame: the tile's content
    :param size: tile side, pixels
    """
    if frame.center_mm is None or frame.center_mm[2] <= 0:
        return None
    x0, y0, x1, y1 = _box(frame)
    scale = size / max(x1 - x0, y1 - y0)
    return SCALE_BAR_MM * frame.intrinsics.fx / float(frame.center_mm[2]) * scale


def _scale_bar(tile: np.ndarray, length_px: float) -> None:
    """The bar at the tile's bottom left, with end ticks and its length in mm."""
    height = tile.shape[0]
    x0, y = 8, height - 10
    x1 = x0 + int(round(length_px))
    for colour, width in (((0, 0, 0), 5), (SCALE_BAR_BGR, 2)):  # outlined: any background
        cv2.line(tile, (x0, y), (x1, y), colour, width)
        for x in (x0, x1):
            cv2.line(tile, (x, y - 5), (x, y + 4), colour, width)
    _caption(tile, f'{SCALE_BAR_MM:.0f} mm', (x1 + 6, y - 12), 0.4)


def render_tile(frame: SheetFrame, size: int = TILE_PX) -> np.ndarray:
    """One tile: the depth around the hand with the skeletons and the caption.

    :param frame: the tile's content
    :param size: tile side, pixels
    :returns: (size, size, 3) uint8 BGR
    """
    x0, y0, x1, y1 = _box(frame)
    height, width = frame.depth_mm.shape
    region = np.zeros((y1 - y0, x1 - x0), np.float32)  # the box may overhang the image
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if sx1 > sx0 and sy1 > sy0:
        region[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = frame.depth_mm[sy0:sy1, sx0:sx1]
    if frame.center_mm is not None:
        near = frame.center_mm[2] - frame.cube_mm / 2
        far = frame.center_mm[2] + frame.cube_mm / 2
    else:
        valid = region[region > 0]
        near, far = np.percentile(valid, (1, 99)) if valid.size else (0.0, 1.0)
    scale = size / max(x1 - x0, y1 - y0)
    shown = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
    tile = np.zeros((size, size, 3), np.uint8)
    off_x, off_y = (size - shown[0]) // 2, (size - shown[1]) // 2
    tile[off_y:off_y + shown[1], off_x:off_x + shown[0]] = cv2.resize(
        _colour_depth(region, near, far), shown, interpolation=cv2.INTER_NEAREST)
    for joints, edges, bgr, (width, radius) in (
            (frame.truth_mm, frame.truth_edges, TRUTH_BGR, TRUTH_STROKE),
            (frame.predicted_mm, frame.predicted_edges, PREDICTION_BGR, PREDICTION_STROKE)):
        if joints is None:
            continue
        uv = frame.intrinsics.project(joints)[:, :2]
        # Pixel centres sit at integer coordinates: source pixel k spans [k - 0.5, k + 0.5).
        points = (uv - (x0, y0) + 0.5) * scale - 0.5 + (off_x, off_y)
        draw_skeleton(tile, points, edges, bgr, joint_radius=radius, bone_width=width)
    bar = scale_bar_px(frame, size)
    if bar is not None:
        _scale_bar(tile, bar)
    _caption(tile, frame.label, (0, 0))
    return tile


def _legend(sheet: np.ndarray, y: int, truth: bool, bar: bool) -> None:
    """Swatches of what the tiles draw, in a row from the left at height ``y``."""
    x = 4
    entries = [(PREDICTION_BGR, PREDICTION_STROKE[0], 'prediction')]
    if truth:
        entries.insert(0, (TRUTH_BGR, TRUTH_STROKE[0], 'ground truth'))
    if bar:
        entries.append((SCALE_BAR_BGR, 2, f'{SCALE_BAR_MM:.0f} mm at the hand\'s depth'))
    for colour, width, text in entries:
        cv2.line(sheet, (x + 4, y + 10), (x + 34, y + 10), colour, width, cv2.LINE_AA)
        x = _caption(sheet, text, (x + 38, y), 0.45) + 14


def contact_sheet(path: Path, frames: List[SheetFrame], title: str,
                  columns: int = COLUMNS) -> Tuple[int, int]:
    """Write a grid of tiles under a title strip as PNG.

    :param path: the PNG file
    :param frames: the tiles' contents, in order
    :param title: the title strip's first line (what the tiles show); a legend follows
    :param columns: tiles per row
    :returns: (width, height) of the sheet, pixels
    :raises OSError: the PNG cannot be written
    """
    rows = max(1, -(-len(frames) // columns))
    sheet = np.full((HEADER_PX + rows * TILE_PX, columns * TILE_PX, 3), 24, np.uint8)
    _caption(sheet, title, (4, 4), 0.55)
    _legend(sheet, 32, any(f.truth_mm is not None for f in frames),
            any(scale_bar_px(f) is not None for f in frames))
    for k, frame in enumerate(frames):
        row, column = divmod(k, columns)
        top = HEADER_PX + row * TILE_PX
        sheet[top:top + TILE_PX, column * TILE_PX:(column + 1) * TILE_PX] = render_tile(frame)
    if not cv2.imwrite(str(path), sheet):
        raise OSError(f'{path}: cannot write the contact sheet PNG')
    return sheet.shape[1], sheet.shape[0]


def _plot_hand(axes, joints_mm: np.ndarray, edges: Edges, colour: str, label: str) -> None:
    # Plotted as (x, z, y): depth runs into the picture and y (down in the image) is vertical.
    x, y, z = joints_mm.T
    for a, b in edges:
        axes.plot([x[a], x[b]], [z[a], z[b]], [y[a], y[b]], color=colour, linewidth=2)
    axes.scatter(x, z, y, color=colour, s=18, depthshade=False, label=label)


def hand_3d_plot(path: Path, predicted_mm: np.ndarray, predicted_edges: Edges,
                 truth_mm: Optional[np.ndarray], truth_edges: Edges, title: str) -> None:
    """Write a 3D plot (PNG) of one hand, equal scale on all axes, camera optical frame, mm.

    :param path: the PNG file
    :param predicted_mm: (J, 3) predicted joints
    :param predicted_edges: their bones
    :param truth_mm: (J', 3) ground truth, or None
    :param truth_edges: its bones
    :param title: the plot's title
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    figure = plt.figure(figsize=(6.4, 6.0), dpi=110)
    axes = figure.add_subplot(projection='3d')
    hands = [(predicted_mm, predicted_edges, PREDICTION_RGB, 'prediction')]
    if truth_mm is not None:
        hands.append((truth_mm, truth_edges, TRUTH_RGB, 'ground truth'))
    for joints, edges, colour, label in hands:
        _plot_hand(axes, joints, edges, colour, label)
    points = np.concatenate([joints for joints, *_ in hands])
    middle = (points.max(axis=0) + points.min(axis=0)) / 2
    half = max(float(np.ptp(points, axis=0).max()) / 2 * 1.1, 10.0)
    axes.set_xlim(middle[0] - half, middle[0] + half)
    axes.set_ylim(middle[2] - half, middle[2] + half)
    axes.set_zlim(middle[1] + half, middle[1] - half)  # y points down in the optical frame
    axes.set_box_aspect((1, 1, 1))
    axes.set_xlabel('x right (mm)')
    axes.set_ylabel('z forward (mm)')
    axes.set_zlabel('y down (mm)')
    axes.view_init(elev=20, azim=-65)
    axes.set_title(title, fontsize=10)
    axes.legend(loc='upper left')
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
