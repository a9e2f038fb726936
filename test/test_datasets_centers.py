"""Centre of mass and V2V centre files (spec 3.2), cube draws (spec 3.3)."""

import numpy as np
import pytest

from crossinfonet_ros.camera import Intrinsics
from crossinfonet_ros.codec import crop_box
from training.datasets import DatasetError, MissingFileError
from training.datasets.centers import center_of_mass, read_center_file
from training.datasets.base import resolve_cube, validate_cube

CAMERA = Intrinsics(240.0, 240.0, 160.0, 120.0, 320, 240)


def test_centre_of_mass_is_the_mean_pixel_and_depth_back_projected():
    depth = np.zeros((240, 320), np.float32)
    depth[100:110, 150:170] = 400.0  # 10 rows x 20 cols
    depth[104, 200] = 380.0
    center = center_of_mass(depth, [0.0, 0.0, 400.0], 200.0, CAMERA)
    rows, cols = np.nonzero(depth)
    expected = CAMERA.backproject([cols.mean(), rows.mean(), depth[depth > 0].mean()])
    np.testing.assert_allclose(center, expected)


def test_centre_of_mass_uses_only_the_cube_window_and_range():
    depth = np.zeros((240, 320), np.float32)
    depth[118:123, 158:163] = 500.0  # the hand, at the seed
    depth[118:123, 170:175] = 300.0  # nearer than the cube: counts at the front face, 400
    depth[118:123, 180:185] = 700.0  # beyond the back face: ignored
    x0, y0, x1, y1 = crop_box([0.0, 0.0, 500.0], 200.0, CAMERA)
    depth[0:5, 0:5] = 500.0  # outside the window: ignored
    assert x0 > 5 and y0 > 5
    center = center_of_mass(depth, [0.0, 0.0, 500.0], 200.0, CAMERA)
    expected_uvd = [(160 + 172) / 2, 120, (500 + 400) / 2]
    np.testing.assert_allclose(CAMERA.project(center), expected_uvd, atol=1e-9)


def test_centre_of_mass_returns_the_seed_when_the_window_is_empty():
    depth = np.zeros((240, 320), np.float32)
    seed = np.array([10.0, -5.0, 450.0])
    np.testing.assert_array_equal(center_of_mass(depth, seed, 150.0, CAMERA), seed)
    far_outside = np.array([5000.0, 0.0, 450.0])  # window entirely off the image
    np.testing.assert_array_equal(center_of_mass(depth, far_outside, 150.0, CAMERA), far_outside)
    with pytest.raises(ValueError, match='seed must be finite with z > 0'):
        center_of_mass(depth, [0.0, 0.0, -1.0], 150.0, CAMERA)


def test_center_file_marks_invalid_frames_and_converts(tmp_path):
    path = tmp_path / 'center.txt'
    path.write_text('1 2 3\nINVALID INVALID INVALID\n4.5\t-6 7e2\n\n')
    centers = read_center_file(path, 3, lambda xyz: xyz * [1, -1, 1])
    np.testing.assert_array_equal(centers[0], [1, -2, 3])
    assert np.all(np.isnan(centers[1]))
    np.testing.assert_array_equal(centers[2], [4.5, 6, 700])


def test_center_file_errors_name_the_file_and_line(tmp_path):
    path = tmp_path / 'center.txt'
    with pytest.raises(MissingFileError, match=r'center\.txt: centre file not found'):
        read_center_file(path, 1)
    path.write_text('1 2 3\n1 2\n')
    with pytest.raises(DatasetError, match=r'center\.txt line 2: expected 3 numbers, got 2'):
        read_center_file(path, 2)
    path.write_text('1 2 nan\n')
    with pytest.raises(DatasetError, match='line 1: numbers must be finite'):
        read_center_file(path, 1)


def test_cube_draws_are_seeded_per_frame_on_a_10mm_grid():
    draws = [resolve_cube((250.0, 300.0), 0, i) for i in range(200)]
    assert set(draws) == {250.0, 260.0, 270.0, 280.0, 290.0, 300.0}
    assert draws == [resolve_cube((250.0, 300.0), 0, i) for i in range(200)]
    assert draws != [resolve_cube((250.0, 300.0), 1, i) for i in range(200)]
    assert resolve_cube(175.0, 0, 5) == 175.0
    with pytest.raises(ValueError, match='low <= high'):
        validate_cube((300.0, 250.0))
    with pytest.raises(ValueError, match='positive side'):
        validate_cube(-1.0)
