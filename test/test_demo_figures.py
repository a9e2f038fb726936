"""scripts/demo_figures.py: the contact sheet reads alone (legend, scale bar, truth visible)."""

import sys

import cv2
import numpy as np
import pytest

from crossinfonet_ros.camera import D435_640X480
from conftest import ROOT

sys.path.insert(0, str(ROOT / 'scripts'))
import demo_figures  # noqa: E402
from demo_figures import SheetFrame, contact_sheet, render_tile, scale_bar_px  # noqa: E402

EDGES = ((0, 1), (1, 2))
DEPTH_MM = 500.0


def blue(image: np.ndarray) -> np.ndarray:
    """Pixels in the ground truth's blue (BGR)."""
    b, g, r = (image[..., i].astype(int) for i in range(3))
    return (b > 200) & (r < 80) & (g > 80) & (g < 170)


def red(image: np.ndarray) -> np.ndarray:
    """Pixels in the prediction's red (BGR)."""
    b, g, r = (image[..., i].astype(int) for i in range(3))
    return (r > 200) & (g < 90) & (b < 90)


def sheet_frame(truth: bool = True, center: bool = True, depth_mm: float = DEPTH_MM):
    depth = np.zeros((480, 640), np.float32)
    depth[180:300, 260:380] = depth_mm
    middle = D435_640X480.backproject(np.array([320.0, 240.0, depth_mm]))
    joints = middle + np.array([[-40.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, -40.0, 0.0]])
    return SheetFrame(7, depth, D435_640X480, joints.copy(), EDGES,
                      joints.copy() if truth else None, EDGES, middle if center else None,
                      250.0, '#7  0 mm')


def test_a_perfect_prediction_leaves_the_ground_truth_visible():
    tile = render_tile(sheet_frame())
    # Prediction equal to the truth: the wide truth still shows on both sides of the thin red.
    assert red(tile).sum() > 100 and blue(tile).sum() > 100


@pytest.mark.parametrize('depth_mm', [400.0, 800.0])
def test_scale_bar_is_50_mm_at_the_hands_depth(depth_mm):
    frame = sheet_frame(depth_mm=depth_mm)
    x0, _, x1, _ = demo_figures._box(frame)
    expected = 50.0 * D435_640X480.fx / depth_mm * demo_figures.TILE_PX / (x1 - x0)
    assert scale_bar_px(frame) == pytest.approx(expected)
    tile = render_tile(frame)
    row = tile[demo_figures.TILE_PX - 10]
    white = np.flatnonzero(np.all(row == demo_figures.SCALE_BAR_BGR, axis=1))
    run = white[:np.argmax(np.diff(np.append(white, -1)) != 1) + 1]  # the bar's white run
    assert abs(run[0] - 8) <= 1  # from the tile's left edge, as drawn
    assert abs((run[-1] - run[0]) - expected) <= 2.5  # line width and ticks add a pixel or two


def test_no_scale_bar_without_a_centre():
    assert scale_bar_px(sheet_frame(center=False)) is None


def test_sheet_has_a_legend_only_for_what_it_draws(tmp_path):
    with_truth, without = tmp_path / 'a.png', tmp_path / 'b.png'
    contact_sheet(with_truth, [sheet_frame(), sheet_frame()], 'title')
    contact_sheet(without, [sheet_frame(truth=False)], 'title')
    header = demo_figures.HEADER_PX
    a, b = cv2.imread(str(with_truth))[:header], cv2.imread(str(without))[:header]
    assert blue(a).sum() > 20 and red(a).sum() > 20
    assert blue(b).sum() == 0 and red(b).sum() > 20
