"""Tests of crossinfonet_ros.codec: crop (spec 3.4-3.5) and joint codec (3.6)."""

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossinfonet_ros.camera import D435_640X480, Intrinsics
from crossinfonet_ros.codec import (
    box_transform, crop_box, crop_hand, crop_uv_to_image, crop_with_transform,
    denormalize_joints, joints_to_crop_uv,
    normalize_joints, rotate_crop, rotation_about, transform_joints_in_image)

CAMERA = D435_640X480
CUBE = 250.0


def render_scene(intrinsics: Intrinsics, spheres=(), plates=(), wall_mm=None, floor_mm=None):
    """Ray-cast depth (H, W) float64 mm of a scene; 0 where no surface is hit.

    :param spheres: (center (3,), radius) pairs, mm
    :param plates: (center (3,), width, height) fronto-parallel rectangles, mm
    :param wall_mm: depth of a fronto-parallel wall, or None
    :param floor_mm: height of a horizontal plane y = floor_mm below the camera, or None
    """
    v, u = np.mgrid[0:intrinsics.height, 0:intrinsics.width].astype(np.float64)
    rays = intrinsics.backproject(np.stack([u, v, np.ones_like(u)], axis=-1))  # z = 1
    depth = np.full(u.shape, np.inf)
    for center, radius in spheres:
        center = np.asarray(center, dtype=np.float64)
        a = (rays ** 2).sum(axis=-1)
        b = rays @ center
        disc = b * b - a * (center @ center - radius ** 2)
        hit = (b - np.sqrt(np.maximum(disc, 0.0))) / a
        depth = np.minimum(depth, np.where(disc >= 0, hit, np.inf))
    for center, width, height in plates:
        x, y = rays[..., 0] * center[2], rays[..., 1] * center[2]
        inside = (np.abs(x - center[0]) <= width / 2) & (np.abs(y - center[1]) <= height / 2)
        depth = np.minimum(depth, np.where(inside, center[2], np.inf))
    if wall_mm is not None:
        depth = np.minimum(depth, wall_mm)
    if floor_mm is not None:
        with np.errstate(divide='ignore'):
            hit = np.where(rays[..., 1] > 0, floor_mm / rays[..., 1], np.inf)
        depth = np.minimum(depth, hit)
    depth[~np.isfinite(depth)] = 0.0
    return depth


def spec_crop_reference(depth, center, cube, intrinsics, size=96):
    """Spec 3.4-3.5 step by step: cut with 0 padding, threshold, cv2.resize, canvas, normalise."""
    x0, y0, x1, y1 = crop_box(center, cube, intrinsics)
    height, width = depth.shape
    cut = np.zeros((y1 - y0, x1 - x0), np.float32)
    src = depth[max(y0, 0):min(y1, height), max(x0, 0):min(x1, width)]
    cut[max(y0, 0) - y0:max(y0, 0) - y0 + src.shape[0],
        max(x0, 0) - x0:max(x0, 0) - x0 + src.shape[1]] = src
    z_start, z_end = center[2] - cube / 2, center[2] + cube / 2
    cut[(cut < z_start) & (cut != 0)] = z_start
    cut[cut > z_end] = 0
    assert cut.shape[0] == cut.shape[1], 'the reference is only exercised on square boxes'
    resized = cv2.resize(cut, (size, size), interpolation=cv2.INTER_NEAREST)
    resized[resized == 0] = z_end
    return (resized - center[2]) / (cube / 2)


def plane(depth_mm, intrinsics=CAMERA):
    return np.full((intrinsics.height, intrinsics.width), depth_mm, np.float32)


@pytest.mark.parametrize('z', [380.0, 394.6, 423.8, 445.7, 504.1, 599.0])
def test_crop_matches_the_spec_pipeline_step_by_step(z):
    center = CAMERA.backproject(np.array([300.2, 250.4, z]))
    box = crop_box(center, CUBE, CAMERA)
    side = box[2] - box[0]
    # Precondition: cv2's nearest resize is exact for this side (it is not for all, see codec).
    q = np.arange(96)
    probe = cv2.resize(np.tile(np.arange(side, dtype=np.float32), (2, 1)), (96, 2),
                       interpolation=cv2.INTER_NEAREST)[0]
    assert np.array_equal(probe, q * side // 96)
    scene = render_scene(CAMERA, spheres=[(center + [20, 10, 30], 45.0)], wall_mm=z + 100,
                         floor_mm=140.0).astype(np.float32)
    scene[::7, ::5] = 0  # sensor holes
    crop = crop_hand(scene, center, CUBE, CAMERA)
    np.testing.assert_allclose(crop.depth, spec_crop_reference(scene, center, CUBE, CAMERA),
                               atol=1e-6)


def test_crop_box_and_transform_follow_the_spec_formulas():
    camera = Intrinsics(fx=500.0, fy=400.0, cx=320.0, cy=240.0, width=640, height=480)
    center = np.array([40.0, -25.0, 500.0])
    u, v = 500 * 40 / 500 + 320, 400 * -25 / 500 + 240
    expected = (int(np.floor(u - 125 * 500 / 500 + 0.5)), int(np.floor(v - 125 * 400 / 500 + 0.5)),
                int(np.floor(u + 125 * 500 / 500 + 0.5)), int(np.floor(v + 125 * 400 / 500 + 0.5)))
    box = crop_box(center, CUBE, camera)
    assert box == expected
    m = box_transform(box, 96)
    width, height = box[2] - box[0], box[3] - box[1]
    resized_h = int(height * 96 / width)
    corners = np.array([[box[0], box[1], 1.0], [box[2], box[3], 1.0]]) @ m.T
    np.testing.assert_allclose(corners[0, :2], [0, np.floor(48 - resized_h / 2)])
    np.testing.assert_allclose(corners[1, 0], 96)
    assert m[0, 0] == m[1, 1] == 96 / width  # one scale for both axes keeps the aspect ratio


def test_crop_of_a_sphere_is_centred_and_samples_the_frame_exactly():
    center = np.array([60.0, -30.0, 450.0])
    scene = render_scene(CAMERA, spheres=[(center, 40.0)], wall_mm=900.0)
    frame = np.round(scene).astype(np.uint16)
    crop = crop_hand(frame, center, CUBE, CAMERA)
    assert crop.depth.shape == (96, 96) and crop.depth.dtype == np.float32
    assert crop.depth.min() >= -1 and crop.depth.max() <= 1
    np.testing.assert_allclose(joints_to_crop_uv(center, crop, CAMERA), [48, 48], atol=1.0)
    # The sphere's nearest point (smallest z) is c - (0, 0, R), -R / (S/2) in the crop.
    nearest_v, nearest_u = np.nonzero(crop.depth <= crop.depth.min() + 1e-6)
    front = joints_to_crop_uv(center - [0, 0, 40], crop, CAMERA)
    np.testing.assert_allclose([nearest_u.mean(), nearest_v.mean()], front, atol=1.0)
    assert crop.depth.min() == pytest.approx(-40 / 125, abs=0.5 / 125)
    # Wall (900 mm, beyond the cube's far face at 575 mm) is background.
    assert crop.depth[0, 0] == 1.0 and np.mean(crop.depth == 1.0) > 0.5
    # Every crop pixel is its source pixel floor(T^-1 q), clamped and normalised.
    qv, qu = np.mgrid[0:96, 0:96]
    source = crop_uv_to_image(np.stack([qu, qv], axis=-1).astype(float), crop)
    cols, rows = np.floor(source + 1e-6).astype(int).transpose(2, 0, 1)
    raw = frame[rows, cols].astype(np.float64)
    expected = np.where((raw == 0) | (raw > 575), 1.0, np.maximum((raw - 450) / 125, -1))
    np.testing.assert_allclose(crop.depth, expected, atol=1e-6)


@pytest.mark.parametrize('plane_mm, expected', [(300.0, -1.0), (399.0, -1.0), (450.0, -0.5),
                                                (500.0, 0.0), (600.0, 1.0), (601.0, 1.0),
                                                (2000.0, 1.0)])
def test_near_readings_clamp_and_far_readings_are_background(plane_mm, expected):
    center = CAMERA.backproject(np.array([320.0, 240.0, 500.0]))
    crop = crop_hand(plane(plane_mm), center, 200.0, CAMERA)
    np.testing.assert_allclose(crop.depth, expected, atol=1e-6)


def test_invalid_readings_are_background_and_dtypes_agree():
    center = CAMERA.backproject(np.array([320.0, 240.0, 500.0]))
    frame = plane(480.0)
    frame[200:240, 300:340] = np.nan
    frame[240:280, 300:340] = np.inf
    frame[200:240, 340:380] = -np.inf
    frame[240:280, 340:380] = -5.0
    frame[280:300, 300:380] = 0.0
    crop = crop_hand(frame, center, CUBE, CAMERA)
    assert np.all(np.isfinite(crop.depth))
    hole = joints_to_crop_uv(CAMERA.backproject(np.array([340.0, 250.0, 500.0])), crop, CAMERA)
    assert crop.depth[int(hole[1]), int(hole[0])] == 1.0
    assert set(np.unique(crop.depth)) == {np.float32(-20 / 125), np.float32(1.0)}
    as_uint16 = np.nan_to_num(frame, nan=0, posinf=0, neginf=0).clip(0).astype(np.uint16)
    np.testing.assert_array_equal(crop_hand(as_uint16, center, CUBE, CAMERA).depth, crop.depth)
    np.testing.assert_array_equal(
        crop_hand(frame.astype(np.float64), center, CUBE, CAMERA).depth, crop.depth)


def test_optional_pre_clean_drops_readings_outside_the_dataset_range():
    center = CAMERA.backproject(np.array([320.0, 240.0, 500.0]))
    frame = plane(480.0)
    frame[:, :320] = 420.0
    plain = crop_hand(frame, center, CUBE, CAMERA)
    cleaned = crop_hand(frame, center, CUBE, CAMERA, min_depth_mm=450.0, max_depth_mm=470.0)
    assert set(np.unique(plain.depth)) == {np.float32(-80 / 125), np.float32(-20 / 125)}
    np.testing.assert_array_equal(cleaned.depth, 1.0)
    only_far = crop_hand(frame, center, CUBE, CAMERA, min_depth_mm=450.0)
    np.testing.assert_array_equal(only_far.depth == 1.0, plain.depth == np.float32(-80 / 125))


def test_box_partly_outside_the_image_pads_with_background():
    center = CAMERA.backproject(np.array([15.0, 8.0, 400.0]))
    crop = crop_hand(plane(420.0), center, CUBE, CAMERA)
    assert crop.roi[0] < 0 and crop.roi[1] < 0
    origin = joints_to_crop_uv(CAMERA.backproject(np.array([0.0, 0.0, 400.0])), crop, CAMERA)
    qv, qu = np.mgrid[0:96, 0:96]
    outside = (qu < np.floor(origin[0])) | (qv < np.floor(origin[1]))
    x0, y0, x1, y1 = crop.roi
    assert outside.mean() == pytest.approx(1 - (x1 / (x1 - x0)) * (y1 / (y1 - y0)), abs=0.03)
    np.testing.assert_array_equal(crop.depth[outside], 1.0)
    in_image = (qu > origin[0] + 1) & (qv > origin[1] + 1)
    np.testing.assert_allclose(crop.depth[in_image], 20 / 125, atol=1e-6)
    np.testing.assert_allclose(joints_to_crop_uv(center, crop, CAMERA), [48, 48], atol=1.0)


def test_unequal_focal_lengths_keep_the_aspect_ratio():
    camera = Intrinsics(fx=600.0, fy=300.0, cx=320.0, cy=240.0, width=640, height=480)
    center = np.array([0.0, 0.0, 600.0])
    crop = crop_hand(plane(610.0, camera), center, CUBE, camera)
    x0, y0, x1, y1 = crop.roi
    assert (x1 - x0) == pytest.approx(2 * (y1 - y0), abs=1)
    filled = np.flatnonzero(crop.depth[:, 48] != 1.0)
    # Rows with content: the box height scaled like its width, centred in the canvas.
    assert len(filled) == pytest.approx(96 * (y1 - y0) / (x1 - x0), abs=1)
    assert filled[0] + filled[-1] == pytest.approx(95, abs=2)
    assert np.array_equal(filled, np.arange(filled[0], filled[-1] + 1))
    np.testing.assert_allclose(crop.depth[filled], 10 / 125, atol=1e-6)
    assert np.all(crop.depth[48] != 1.0)  # columns span the whole canvas
    # Pixel aspect is kept (one scale for both axes): a 3D square stays fx:fy as in the image.
    corners = np.array([[-50.0, -50.0, 600.0], [50.0, 50.0, 600.0]])
    uv = joints_to_crop_uv(corners, crop, camera)
    assert uv[1, 0] - uv[0, 0] == pytest.approx(2 * (uv[1, 1] - uv[0, 1]))


@pytest.mark.parametrize('camera', [CAMERA, Intrinsics(475.1, 474.9, 315.9, 245.3, 640, 480)])
@pytest.mark.parametrize('center_uv', [(320.0, 240.0), (12.0, 470.0)])
def test_joint_round_trips_through_the_crop(camera, center_uv):
    rng = np.random.default_rng(7)
    center = camera.backproject(np.array([*center_uv, 420.0]))
    crop = crop_hand(np.zeros((480, 640), np.uint16), center, CUBE, camera)
    joints = center + rng.uniform(-100, 100, size=(21, 3))
    uv_crop = joints_to_crop_uv(joints, crop, camera)
    uvd = camera.project(joints)
    np.testing.assert_allclose(crop_uv_to_image(uv_crop, crop), uvd[:, :2], atol=1e-4)
    back = camera.backproject(np.concatenate([crop_uv_to_image(uv_crop, crop), uvd[:, 2:]], -1))
    np.testing.assert_allclose(back, joints, atol=1e-4)
    assert joints_to_crop_uv(joints[None], crop, camera).shape == (1, 21, 2)


def test_normalize_and_denormalize_are_inverse_and_broadcast():
    rng = np.random.default_rng(3)
    joints = rng.uniform(-300, 800, size=(5, 14, 3))
    centers = rng.uniform(-50, 500, size=(5, 3))
    cubes = rng.uniform(150, 300, size=5)
    norm = normalize_joints(joints, centers, cubes)
    for i in range(5):
        np.testing.assert_array_equal(norm[i], (joints[i] - centers[i]) / (cubes[i] / 2))
        np.testing.assert_array_equal(normalize_joints(joints[i], centers[i], cubes[i]), norm[i])
    np.testing.assert_allclose(denormalize_joints(norm, centers, cubes), joints, rtol=0,
                               atol=1e-9)
    center = np.array([10.0, 20.0, 400.0])
    joint = center + [125.0, 0.0, -62.5]
    np.testing.assert_array_equal(normalize_joints(joint[None], center, 250.0), [[1, 0, -0.5]])
    assert normalize_joints(joints, centers[0], 250.0).shape == (5, 14, 3)
    with pytest.raises(ValueError, match='cube_mm must be positive'):
        normalize_joints(joints, centers, 0.0)


def test_rotation_matches_opencv_and_keeps_the_pivot():
    pivot = (47.25, 50.125)  # float32-exact: OpenCV takes the centre as float32
    for angle in (-170.0, 0.0, 33.0, 90.0):
        np.testing.assert_allclose(rotation_about(angle, pivot)[:2],
                                   cv2.getRotationMatrix2D(pivot, angle, 1.0), atol=1e-12)


def test_rotate_crop_moves_image_and_joints_together():
    center = np.array([0.0, 0.0, 450.0])
    tip = center + [0.0, -70.0, -60.0]  # a 'fingertip' above the centre, nearer the camera
    scene = render_scene(CAMERA, spheres=[(center, 35.0), (tip, 12.0)], wall_mm=900.0)
    crop = crop_hand(scene, center, CUBE, CAMERA)
    joints = np.stack([center, tip])
    same, unmoved = rotate_crop(scene, crop, joints, 0.0, CAMERA)
    np.testing.assert_array_equal(same.depth, crop.depth)
    np.testing.assert_allclose(unmoved, joints, atol=1e-9)
    rotated, moved = rotate_crop(scene, crop, joints, 90.0, CAMERA)
    np.testing.assert_array_equal(rotated.transform, crop.transform)
    np.testing.assert_allclose(moved[0], center, atol=1e-9)  # the pivot stays
    np.testing.assert_allclose(moved[1, 2], tip[2])  # depth is kept
    before = joints_to_crop_uv(tip, crop, CAMERA)
    after = joints_to_crop_uv(moved[1], rotated, CAMERA)
    assert after[0] < before[0] - 15  # counter-clockwise: 'up' turns to 'left'

    def blob_center(depth):
        qv, qu = np.nonzero(depth < -0.4)  # the fingertip sphere (front -0.58), not the palm
        return np.array([qu.mean(), qv.mean()])

    # The rotated image shows the fingertip where its rotated joint projects.
    np.testing.assert_allclose(blob_center(crop.depth), before, atol=1.5)
    np.testing.assert_allclose(blob_center(rotated.depth), after, atol=1.5)


def test_crop_with_transform_without_box_clips_to_the_image_only():
    frame = plane(500.0)
    center = CAMERA.backproject(np.array([320.0, 240.0, 500.0]))
    matrix = np.array([[0.5, 0.0, -100.0], [0.0, 0.5, -60.0], [0.0, 0.0, 1.0]])
    crop = crop_with_transform(frame, center, CUBE, matrix, size=64)
    assert crop.depth.shape == (64, 64)
    np.testing.assert_array_equal(crop.depth, 0.0)
    assert crop.roi == (200, 120, 328, 248)


def test_bad_inputs_raise_specific_errors():
    frame = plane(500.0)
    center = np.array([0.0, 0.0, 500.0])
    with pytest.raises(ValueError, match='2-D'):
        crop_hand(frame[None], center, CUBE, CAMERA)
    with pytest.raises(ValueError, match='intrinsics'):
        crop_hand(frame[:100], center, CUBE, CAMERA)
    with pytest.raises(ValueError, match='z > 0'):
        crop_hand(frame, [0.0, 0.0, -1.0], CUBE, CAMERA)
    with pytest.raises(ValueError, match='z > 0'):
        crop_hand(frame, [np.nan, 0.0, 500.0], CUBE, CAMERA)
    with pytest.raises(ValueError, match='cube_mm'):
        crop_hand(frame, center, 0.0, CAMERA)
    with pytest.raises(ValueError, match='dtype'):
        crop_hand(frame > 0, center, CUBE, CAMERA)
    with pytest.raises(ValueError, match='affine'):
        crop_with_transform(frame, center, CUBE, np.zeros((3, 3)))
    with pytest.raises(ValueError, match='crop size'):
        crop_hand(frame, center, CUBE, CAMERA, size=0)


@settings(max_examples=60, deadline=None)
@given(x=st.floats(-400, 400), y=st.floats(-300, 300), z=st.floats(150, 2000),
       cube=st.floats(100, 400), seed=st.integers(0, 2 ** 16))
def test_any_crop_is_finite_and_in_range(x, y, z, cube, seed):
    rng = np.random.default_rng(seed)
    frame = rng.uniform(-100, 2500, (120, 160)).astype(np.float32)
    frame[rng.random(frame.shape) < 0.2] = np.nan
    frame[rng.random(frame.shape) < 0.1] = np.inf
    camera = CAMERA.scaled(0.25)
    crop = crop_hand(frame, [x, y, z], cube, camera)
    assert crop.depth.shape == (96, 96) and np.all(np.isfinite(crop.depth))
    assert crop.depth.min() >= -1.0 and crop.depth.max() <= 1.0


def test_transform_joints_in_image_keeps_depth_and_moves_pixels():
    joints = np.array([[10.0, -20.0, 400.0], [-50.0, 30.0, 520.0]])
    shift = np.array([[1.0, 0.0, 7.0], [0.0, 1.0, -3.0], [0.0, 0.0, 1.0]])
    moved = transform_joints_in_image(joints, shift, CAMERA)
    np.testing.assert_allclose(moved[:, 2], joints[:, 2])
    np.testing.assert_allclose(CAMERA.project(moved)[:, :2] - CAMERA.project(joints)[:, :2],
                               [[7.0, -3.0]] * 2, atol=1e-9)
