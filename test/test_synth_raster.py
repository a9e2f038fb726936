"""Ray casting of analytic primitives (training/synth/raster.py)."""

import numpy as np
import pytest

from crossinfonet_ros.camera import Intrinsics
from training.synth import raster
from training.synth.raster import (Primitives, boxes, ellipsoids, planes, render_depth,
                                   round_cones)

CAMERA = Intrinsics(fx=300.0, fy=310.0, cx=80.3, cy=60.7, width=160, height=120)


def _rays(camera):
    xs = (np.arange(camera.width) - camera.cx) / camera.fx
    ys = (np.arange(camera.height) - camera.cy) / camera.fy
    return xs, ys


def _swept_spheres_depth(camera, a, ra, b, rb, count=800):
    """Depth of a round cone as the union of many spheres along it (independent reference)."""
    xs, ys = _rays(camera)
    grid_x, grid_y = np.meshgrid(xs, ys)
    rays = np.stack([grid_x, grid_y, np.ones_like(grid_x)], -1)
    rays = rays.reshape(-1, 3)
    s = np.linspace(0.0, 1.0, count)
    centres = a[None] + s[:, None] * (b - a)[None]
    radii = ra + s * (rb - ra)
    dd = np.sum(rays * rays, 1)[:, None]
    dc = rays @ centres.T
    disc = dc * dc - dd * (np.sum(centres * centres, 1) - radii * radii)[None]
    with np.errstate(invalid='ignore'):
        near = (dc - np.sqrt(disc)) / dd
    near[disc < 0] = np.inf
    best = near.min(1)
    best[~np.isfinite(best)] = 0.0
    return best.reshape(camera.height, camera.width)


def test_sphere_depth_matches_the_analytic_front_point():
    centre = np.array([15.0, -10.0, 400.0])
    prims = round_cones(centre[None], [30.0], centre[None], [30.0], tag=1)
    depth, tags = render_depth(prims, CAMERA, with_tags=True)
    xs, ys = _rays(CAMERA)
    v, u = np.nonzero(depth)
    ray = np.stack([xs[u], ys[v], np.ones_like(u, float)], 1)
    # The hit point t * ray lies on the sphere and is its near intersection.
    points = depth[v, u][:, None] * ray
    assert np.allclose(np.linalg.norm(points - centre, axis=1), 30.0, atol=0.02)
    assert np.all(depth[v, u] < centre[2])
    assert set(np.unique(tags)) == {0, 1}


def test_sphere_silhouette_has_the_projected_radius():
    centre = np.array([0.0, 0.0, 500.0])
    camera = Intrinsics(400.0, 400.0, 100.0, 100.0, 201, 201)
    depth, _ = render_depth(round_cones(centre[None], [50.0], centre[None], [50.0], 1), camera)
    # A sphere on the axis projects to a disc of radius f r / sqrt(z^2 - r^2).
    expected = 400.0 * 50.0 / np.sqrt(500.0 ** 2 - 50.0 ** 2)
    row = depth[100]
    assert np.count_nonzero(row) == pytest.approx(2 * expected, abs=2.0)


@pytest.mark.parametrize('a, ra, b, rb', [
    ((-60.0, -20.0, 420.0), 18.0, (50.0, 30.0, 470.0), 9.0),
    ((0.0, -40.0, 380.0), 10.0, (5.0, 35.0, 520.0), 10.0),  # capsule, steep in depth
    ((-30.0, 10.0, 450.0), 6.0, (30.0, 0.0, 440.0), 20.0),
])
def test_round_cone_matches_a_union_of_swept_spheres(a, ra, b, rb):
    a, b = np.array(a), np.array(b)
    depth, _ = render_depth(round_cones(a[None], [ra], b[None], [rb], 1), CAMERA)
    reference = _swept_spheres_depth(CAMERA, a, ra, b, rb)
    both = (depth > 0) & (reference > 0)
    assert both.sum() > 200
    assert np.abs(depth[both] - reference[both]).max() < 0.05
    # Coverage agrees except in sub-pixel slivers between the sampled spheres.
    assert np.count_nonzero((depth > 0) != (reference > 0)) <= 0.002 * both.sum()


def test_ellipsoid_box_and_plane_depths():
    prims = Primitives.concatenate([
        ellipsoids([[0.0, 0.0, 500.0]], [np.diag([40.0, 20.0, 10.0])], 3),
        boxes([[-100.0, -60.0, 700.0]], [np.diag([30.0, 20.0, 25.0])], 4),
        planes([[0.0, 0.0, -1.0]], [-1500.0], 5)])
    depth, tags = render_depth(prims, CAMERA, with_tags=True)
    u, v, _ = CAMERA.project(np.array([0.0, 0.0, 500.0]))
    assert depth[round(v), round(u)] == pytest.approx(490.0, abs=0.05)
    u, v, _ = CAMERA.project(np.array([-100.0, -60.0, 700.0]))
    assert depth[round(v), round(u)] == pytest.approx(675.0, abs=0.01)
    assert tags[round(v), round(u)] == 4
    assert depth[0, 0] == pytest.approx(1500.0) and tags[0, 0] == 5


def test_nearest_surface_wins_and_far_limit_drops_surfaces():
    near = round_cones([[0.0, 0.0, 300.0]], [20.0], [[0.0, 0.0, 300.0]], [20.0], 1)
    wall = planes([[0.0, 0.0, -1.0]], [-900.0], 2)
    prims = Primitives.concatenate([wall, near])
    depth, tags = render_depth(prims, CAMERA, with_tags=True)
    centre = (round(CAMERA.cy), round(CAMERA.cx))
    assert depth[centre] == pytest.approx(280.0, abs=0.05) and tags[centre] == 1
    clipped, clipped_tags = render_depth(prims, CAMERA, with_tags=True, far_mm=800.0)
    assert np.all((clipped == 0) | (clipped <= 800.0))
    assert clipped[0, 0] == 0 and clipped_tags[0, 0] == raster.TAG_NONE
    assert clipped[centre] == depth[centre]


def test_window_render_equals_the_cut_of_the_full_render():
    rng = np.random.default_rng(3)
    starts = rng.uniform([-150, -100, 350], [150, 100, 700], (12, 3))
    ends = starts + rng.uniform(-60, 60, (12, 3))
    prims = round_cones(starts, rng.uniform(5, 25, 12), ends, rng.uniform(5, 25, 12), 1)
    full, _ = render_depth(prims, CAMERA)
    x0, y0, width, height = 37, 21, 70, 55
    window = Intrinsics(CAMERA.fx, CAMERA.fy, CAMERA.cx - x0, CAMERA.cy - y0, width, height)
    cut, _ = render_depth(prims, window)
    assert np.allclose(cut, full[y0:y0 + height, x0:x0 + width], atol=1e-3)


def test_row_span_enumeration_equals_whole_box_enumeration(monkeypatch):
    rng = np.random.default_rng(5)
    starts = rng.uniform([-300, -200, 150], [300, 200, 900], (40, 3))
    ends = starts + rng.uniform(-250, 250, (40, 3))
    prims = round_cones(starts, rng.uniform(3, 40, 40), ends, rng.uniform(3, 40, 40), 1)
    tight, _ = render_depth(prims, CAMERA)

    def whole_box(self, a, b, radius):
        box = np.tile([0, self.width - 1, 0, self.height - 1], (len(a), 1))
        return self.enumerate(box)

    monkeypatch.setattr(raster._Rays, 'capsule_pixels', whole_box)
    loose, _ = render_depth(prims, CAMERA)
    assert np.array_equal(tight, loose)
    assert np.count_nonzero(tight) > 1000


def test_primitives_transform_moves_every_type_rigidly():
    prims = Primitives.concatenate([
        round_cones([[0.0, 0.0, 0.0]], [10.0], [[30.0, 0.0, 0.0]], [8.0], 1),
        ellipsoids([[0.0, 20.0, 0.0]], [np.diag([15.0, 10.0, 5.0])], 2),
        boxes([[0.0, -20.0, 0.0]], [np.diag([8.0, 8.0, 8.0])], 3),
        planes([[0.0, 0.0, -1.0]], [-200.0], 4)])
    angle = 0.4
    rotation = np.array([[np.cos(angle), 0.0, np.sin(angle)], [0.0, 1.0, 0.0],
                         [-np.sin(angle), 0.0, np.cos(angle)]])
    moved = prims.transformed(rotation, np.array([5.0, -3.0, 450.0]))
    point = np.array([30.0, 0.0, 0.0])
    assert np.allclose(moved.cones[0, 4:7], rotation @ point + [5.0, -3.0, 450.0])
    assert np.allclose(moved.ellipsoid_axes[0], rotation @ np.diag([15.0, 10.0, 5.0]))
    on_plane = np.array([0.0, 0.0, 200.0])  # n . p = e before the move
    moved_point = rotation @ on_plane + [5.0, -3.0, 450.0]
    assert moved.planes[0, :3] @ moved_point == pytest.approx(moved.planes[0, 3])
