"""Tests of crossinfonet_ros.heatmaps: targets exactly as spec 2.3 builds them, and the
confidence decoded from maps."""

import cv2
import numpy as np
import pytest

from crossinfonet_ros import heatmaps as heatmaps_module
from crossinfonet_ros.heatmaps import decode_heatmap_confidence, heatmap_targets


def blurred_reference(row, col, out=24):
    onehot = np.zeros((out, out), np.float32)
    onehot[row, col] = 1.0
    blurred = cv2.GaussianBlur(onehot, (3, 3), 0)  # default border: reflect-101
    return blurred / blurred.max()


def test_heatmap_stencil_matches_opencv_everywhere_including_borders():
    cells = np.array([(r, c) for r in range(24) for c in range(24)])
    uv = cells[:, ::-1] * 4.0 + 1.5  # (u, v) inside each 4x4 block
    maps = heatmap_targets(uv)
    assert maps.shape == (576, 24, 24) and maps.dtype == np.float32
    for (row, col), produced in zip(cells, maps):
        np.testing.assert_allclose(produced, blurred_reference(row, col), atol=1e-6)
    interior = maps[5 * 24 + 7]
    assert interior[5, 7] == 1 and interior[4, 7] == 0.5 and interior[4, 6] == 0.25
    assert interior.sum() == pytest.approx(4.0)
    # Reflect-101: a peak one cell from the corner spills back onto the border twice.
    near_corner = maps[1 * 24 + 1]
    assert near_corner[0, 0] == 1 and near_corner[0, 1] == 1 and near_corner[2, 2] == 0.25


def test_heatmap_coordinate_rules():
    uv = np.array([[-0.1, 50.0], [50.0, -3.0], [np.nan, 10.0], [400.0, 95.99], [0.0, 0.0],
                   [3.99, 4.0]])
    maps = heatmap_targets(uv)
    assert not maps[:3].any()  # negative or non-finite coordinate: all-zero map
    np.testing.assert_allclose(maps[3], blurred_reference(23, 23))  # clamped to size - 1
    np.testing.assert_allclose(maps[4], blurred_reference(0, 0))
    np.testing.assert_allclose(maps[5], blurred_reference(1, 0))  # [int(v/4), int(u/4)]
    batch = heatmap_targets(np.stack([uv, uv[::-1]]))
    assert batch.shape == (2, 6, 24, 24)
    np.testing.assert_array_equal(batch[1], maps[::-1])


def test_heatmap_confidence():
    rng = np.random.default_rng(0)
    targets = heatmap_targets(rng.uniform(0, 96, size=(4, 16, 2)))
    np.testing.assert_allclose(decode_heatmap_confidence(targets), 1.0, atol=1e-6)
    borders = heatmap_targets(np.array([[0.0, 0.0], [5.0, 95.0], [95.0, 50.0]]))
    np.testing.assert_allclose(decode_heatmap_confidence(borders), 1.0, atol=1e-6)
    np.testing.assert_allclose(decode_heatmap_confidence(0.4 * targets), 0.4, atol=1e-6)
    assert np.all(decode_heatmap_confidence(np.zeros((2, 3, 24, 24))) == 0)
    assert np.all(decode_heatmap_confidence(-targets) == 0)
    noisy = targets + rng.normal(0, 0.02, targets.shape)
    assert np.all(np.abs(decode_heatmap_confidence(noisy) - 1) < 0.1)
    split = 0.5 * (heatmap_targets(np.array([[10.0, 10.0]])) + heatmap_targets(
        np.array([[70.0, 70.0]])))
    assert decode_heatmap_confidence(split)[0] == pytest.approx(0.5, abs=1e-6)
    corrupt = targets.copy()
    corrupt[0, 0, 3, 3] = np.nan
    assert np.all(np.isfinite(decode_heatmap_confidence(corrupt)))


def test_bad_joint_array_shape_is_named():
    with pytest.raises(ValueError, match=r'\(\.\.\., A, 2\)'):
        heatmap_targets(np.zeros(5))


def _whole_map_confidence(maps):
    """The matched-filter definition of decode_heatmap_confidence, over whole maps."""
    out = maps.shape[-1]
    confidence = np.zeros(maps.shape[:-2])
    for index in np.ndindex(*maps.shape[:-2]):
        row, col = divmod(int(maps[index].argmax()), out)
        best = -np.inf
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                stencil = (heatmaps_module._profiles(np.clip(row + dr, 0, out - 1), out)[:, None]
                           * heatmaps_module._profiles(np.clip(col + dc, 0, out - 1), out))
                fit = (maps[index] * stencil).sum()
                score = fit / np.sqrt((stencil ** 2).sum())
                if score > best:
                    best, confidence[index] = score, fit / (stencil ** 2).sum()
    return np.clip(confidence, 0, 1)


def test_confidence_equals_the_whole_map_matched_filter_at_borders_and_in_noise():
    rng = np.random.default_rng(7)
    uv = rng.uniform(-4, 99, (4, 21, 2))  # peaks on, next to and off every border
    maps = 0.8 * heatmap_targets(uv) + rng.normal(0, 0.05, (4, 21, 24, 24))
    np.testing.assert_allclose(decode_heatmap_confidence(maps), _whole_map_confidence(maps),
                               atol=1e-6)
    noise = rng.random((2, 5, 24, 24))
    np.testing.assert_allclose(decode_heatmap_confidence(noise), _whole_map_confidence(noise),
                               atol=1e-6)
