"""crossinfonet_ros.planes and its use by the detector: tables are ignored, hands never are."""

import numpy as np

from crossinfonet_ros.camera import D435_640X480
from crossinfonet_ros.planes import PlaneConfig, dominant_plane
from crossinfonet_ros.segmentation import HandDetectorConfig, detect_hand
from test_codec import render_scene

CAMERA = D435_640X480
HAND = np.array([40.0, -20.0, 450.0])
# A table 150 mm below the optical axis: its near edge at the bottom of the image is ~240 mm from
# the camera, nearer than the hand at 450 mm.
TABLE_MM = 150.0


def _points(depth: np.ndarray, step: int = 2) -> np.ndarray:
    v, u = np.mgrid[0:depth.shape[0]:step, 0:depth.shape[1]:step]
    z = depth[::step, ::step]
    valid = (z > 150) & (z < 1000)
    return CAMERA.backproject(np.stack([u[valid], v[valid], z[valid]], axis=-1))


def test_a_table_is_found_with_its_normal_and_height():
    depth = render_scene(CAMERA, plates=[(HAND, 90.0, 180.0)], floor_mm=TABLE_MM)
    plane = dominant_plane(_points(depth))
    assert plane is not None
    assert abs(abs(plane.normal[1]) - 1.0) < 1e-3  # horizontal: normal along y
    assert abs(abs(plane.offset) - TABLE_MM) < 2.0
    # The same frame gives the same plane (fixed draws).
    again = dominant_plane(_points(depth))
    np.testing.assert_array_equal(again.normal, plane.normal)


def test_a_flat_hand_filling_the_view_is_not_a_plane():
    # An open hand 200 mm from the camera covers a large part of the frame but is hand-sized.
    depth = render_scene(CAMERA, plates=[(np.array([0.0, 0.0, 200.0]), 90.0, 180.0)])
    assert dominant_plane(_points(depth)) is None


def test_no_plane_when_disabled_or_too_few_points():
    depth = render_scene(CAMERA, floor_mm=TABLE_MM)
    assert dominant_plane(_points(depth), PlaneConfig(enabled=False)) is None
    assert dominant_plane(np.zeros((2, 3))) is None


def test_detector_finds_the_hand_above_a_table_that_reaches_nearer():
    depth = render_scene(CAMERA, plates=[(HAND, 90.0, 180.0)], floor_mm=TABLE_MM)
    depth = np.round(depth).astype(np.uint16)
    surface = dict(depth_offset_mm=0.0)
    found = detect_hand(depth, CAMERA, HandDetectorConfig(**surface))
    np.testing.assert_allclose(found.center_mm, HAND, atol=5.0)
    # Without plane removal the table's near edge is taken for the hand.
    fooled = detect_hand(depth, CAMERA, HandDetectorConfig(planes=PlaneConfig(enabled=False),
                                                           **surface))
    assert not fooled or np.linalg.norm(fooled.center_mm - HAND) > 100
