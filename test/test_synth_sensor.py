"""Depth-sensor model (training/synth/sensor.py)."""

from dataclasses import replace

import numpy as np
import pytest

from crossinfonet_ros.camera import Intrinsics
from training.synth.raster import Primitives, boxes, planes, render_depth
from training.synth.sensor import (SensorConfig, apply_sensor, discontinuities, noise_sigma_mm,
                                   occlusion_shadow)

CAMERA = Intrinsics(383.0, 383.0, 160.0, 120.0, 320, 240)
# Only the distance-dependent noise: no shadow, edges, grazing drops, holes or dropouts.
NOISE_ONLY = SensorConfig(subpixel_range=(0.08, 0.08), shadow_prob=0.0, edge_drop_range=(0, 0),
                          flying_prob=0.0, grazing_cos=(0.0, 1e-6), holes_per_frame=0.0,
                          dropout_range=(0.0, 0.0), quantum_mm=0.0)


def _wall(distance):
    depth, _ = render_depth(planes([[0.0, 0.0, -1.0]], [-distance], 1), CAMERA)
    return depth


def test_noise_grows_with_the_square_of_the_distance():
    stds = []
    for distance in (500.0, 1000.0):
        clean = _wall(distance)
        noisy = apply_sensor(clean, CAMERA, 383.0, np.random.default_rng(0), NOISE_ONLY)
        stds.append(np.std(noisy - clean))
    assert stds[1] / stds[0] == pytest.approx(4.0, rel=0.2)
    # z^2 * subpixel / (f * B): 1e6 * 0.08 / (383 * 50) = 4.2 mm at 1 m.
    assert stds[1] == pytest.approx(noise_sigma_mm(1000.0, 0.08, 383.0, 50.0), rel=0.2)
    assert noise_sigma_mm(1000.0, 0.08, 383.0, 50.0) == pytest.approx(4.18, abs=0.01)


def test_output_is_quantised_and_range_gated():
    clean = _wall(700.0)
    clean[:, :40] = 50.0  # nearer than the sensor's minimum range
    clean[:, -40:] = 5000.0  # beyond the maximum range
    out = apply_sensor(clean, CAMERA, 383.0, np.random.default_rng(1), SensorConfig())
    assert out.dtype == np.float32
    assert np.all(out == np.round(out))
    # (The columns next to the steps may hold flying pixels between both depths.)
    assert np.all(out[:, :38] == 0) and np.all(out[:, -38:] == 0)
    assert np.count_nonzero(out[:, 60:-60]) > 0.9 * out[:, 60:-60].size


def test_disabled_sensor_only_quantises():
    clean = _wall(812.3)
    out = apply_sensor(clean, CAMERA, 383.0, np.random.default_rng(2),
                       SensorConfig(enabled=False))
    assert np.array_equal(out, np.round(clean))


def test_occlusion_shadow_falls_left_of_near_objects():
    scene = Primitives.concatenate([planes([[0.0, 0.0, -1.0]], [-900.0], 1),
                                    boxes([[0.0, 0.0, 400.0]], [np.diag([40.0, 40.0, 10.0])], 2)])
    depth, _ = render_depth(scene, CAMERA)
    shadow = occlusion_shadow(depth, CAMERA.fx, 50.0)
    row = shadow[120]
    box_cols = np.flatnonzero(depth[120] < 500)
    left, right = box_cols.min(), box_cols.max()
    # Band width = f B (1/z_near - 1/z_far) = 383 * 50 * (1/390 - 1/900) ~ 27.8 px.
    band = np.flatnonzero(row)
    assert band.max() < left and band.min() >= left - 29 and len(band) >= 26
    assert not row[right + 1:].any()


def test_depth_steps_drop_pixels_and_flat_faces_keep_them():
    scene = Primitives.concatenate([planes([[0.0, 0.0, -1.0]], [-900.0], 1),
                                    boxes([[0.0, 0.0, 500.0]], [np.diag([50.0, 50.0, 10.0])], 2)])
    depth, tags = render_depth(scene, CAMERA, with_tags=True)
    config = replace(NOISE_ONLY, edge_drop_range=(1.0, 1.0))
    out = apply_sensor(depth, CAMERA, 383.0, np.random.default_rng(3), config)
    rows, cols = np.nonzero(tags == 2)
    inner = (slice(rows.min() + 1, rows.max()), slice(cols.min() + 1, cols.max()))
    assert np.all(out[inner] > 0)  # head-on face away from the steps: kept
    outline = (slice(rows.min(), rows.max() + 1), [cols.min(), cols.max()])
    assert np.all(out[outline] == 0)  # both sides of the step are dropped
    assert np.all(out[outline[0], cols.min() - 1] == 0) and np.all(out[:, :5] > 0)


def test_grazing_surfaces_drop_pixels():
    # A long focal length keeps the steep plane's pixel-to-pixel depth steps small (smooth).
    camera = Intrinsics(1500.0, 1500.0, 160.0, 120.0, 320, 240)
    config = replace(NOISE_ONLY, grazing_cos=(0.1, 0.3))
    xs = (np.arange(camera.width) - camera.cx) / camera.fx
    ys = (np.arange(camera.height) - camera.cy) / camera.fy
    rays = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None], 1.0), -1)
    inner = np.zeros((camera.height, camera.width), bool)
    inner[2:-2, 2:-2] = True  # normals need both neighbours
    for normal, kept_share in (((0.998, 0.0, -0.06), None), ((0.0, 0.0, -1.0), 1.0)):
        normal = np.array(normal) / np.linalg.norm(normal)
        depth, _ = render_depth(planes(normal[None], [normal[2] * 300.0], 1), camera)
        out = apply_sensor(depth, camera, camera.fx, np.random.default_rng(4), config)
        cosine = np.abs(rays @ normal) / np.linalg.norm(rays, axis=-1)
        # Pixels next to depth steps over edge_jump_mm follow the edge rule instead.
        surface = inner & (depth > 0) & ~discontinuities(depth, config.edge_jump_mm)
        if kept_share is None:  # seen almost edge-on
            assert np.count_nonzero(surface & (cosine < 0.08)) > 300
            assert np.all(out[surface & (cosine < 0.08)] == 0)
        else:  # seen head-on
            assert np.all(out[surface] > 0)


def test_same_generator_state_gives_the_same_image():
    clean = _wall(650.0)
    first = apply_sensor(clean, CAMERA, 383.0, np.random.default_rng(9))
    second = apply_sensor(clean, CAMERA, 383.0, np.random.default_rng(9))
    assert first.tobytes() == second.tobytes()
