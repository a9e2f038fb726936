"""Tests of crossinfonet_ros.segmentation: nearest-object detection, 3D refinement, tracking."""

import dataclasses

import numpy as np
import pytest

from crossinfonet_ros.camera import D435_640X480
from crossinfonet_ros import segmentation
from crossinfonet_ros.segmentation import (Detection, HandDetectorConfig, _BandFrame,
                                           detect_hand, detect_hand_candidates, prepare_frame)
from test_codec import render_scene

CAMERA = D435_640X480
HAND = np.array([40.0, -20.0, 450.0])  # centre of the 'hand' plate's visible face, mm
HAND_PLATE = (HAND, 80.0, 100.0)  # a flat hand seen from the front: its pixels average to HAND
TORSO_PLATE = (np.array([0.0, 100.0, 700.0]), 400.0, 600.0)
WALL_MM = 1500.0  # beyond the default band (1000 mm)
TABLE_MM = 400.0  # a horizontal table 400 mm below the camera
# These scenes are plates and balls: test where the visible surface is found, without the
# default move from the surface back towards the palm's joints.
SURFACE = HandDetectorConfig(depth_offset_mm=0.0)


@pytest.fixture(scope='module')
def scene():
    """Hand in front of a torso, a table below, a wall behind; uint16 mm like a D435 frame."""
    depth = render_scene(CAMERA, plates=[HAND_PLATE, TORSO_PLATE], wall_mm=WALL_MM,
                         floor_mm=TABLE_MM)
    return np.round(depth).astype(np.uint16)


@pytest.mark.parametrize('downsample', [1, 2, 4])
def test_finds_the_hand_in_front_of_torso_table_and_wall(scene, downsample):
    detection = detect_hand(scene, CAMERA, HandDetectorConfig(downsample=downsample,
                                                              depth_offset_mm=0.0))
    assert detection and detection.found and detection.reason == ''
    assert not detection.seeded and detection.iterations >= 1
    np.testing.assert_allclose(detection.center_mm, HAND, atol=3.0)
    # The plate covers 80 x 100 mm at 450 mm: (80 fx / z) (100 fy / z) pixels.
    expected_px = (80 * CAMERA.fx / 450) * (100 * CAMERA.fy / 450)
    assert detection.pixel_count == pytest.approx(expected_px, rel=0.1)


def test_round_hand_lands_on_its_visible_surface():
    ball = np.array([-60.0, 30.0, 500.0])
    depth = render_scene(CAMERA, spheres=[(ball, 45.0)], wall_mm=WALL_MM).astype(np.float32)
    detection = detect_hand(depth, CAMERA, SURFACE)
    center = detection.center_mm
    # The visible cap is symmetric about the camera ray through the ball's centre.
    direction = center / np.linalg.norm(center)
    assert np.degrees(np.arccos(direction @ (ball / np.linalg.norm(ball)))) < 0.3
    assert ball[2] - 45 < center[2] < ball[2]


def test_flying_pixels_and_nearer_specks_do_not_capture_the_detection(scene):
    noisy = scene.copy()
    rng = np.random.default_rng(1)
    noisy[rng.integers(0, 480, 15), rng.integers(0, 640, 15)] = 200  # flying pixels
    noisy[50:70, 500:520] = 330  # a small object nearer than the hand
    detection = detect_hand(noisy, CAMERA, SURFACE)
    np.testing.assert_allclose(detection.center_mm, HAND, atol=3.0)


def test_tracking_seed_refines_to_the_hand(scene):
    detection = detect_hand(scene, CAMERA, SURFACE, seed_mm=HAND + [25.0, -15.0, 20.0])
    assert detection.found and detection.seeded
    np.testing.assert_allclose(detection.center_mm, HAND, atol=3.0)


def test_depth_offset_moves_the_centre_back_and_tracking_keeps_it(scene):
    config = HandDetectorConfig(depth_offset_mm=25.0)
    detected = detect_hand(scene, CAMERA, config)
    np.testing.assert_allclose(detected.center_mm, HAND + [0.0, 0.0, 25.0], atol=3.0)
    # Tracking from that result lands on the same point (the offset is not applied twice).
    tracked = detect_hand(scene, CAMERA, config, seed_mm=detected.center_mm)
    np.testing.assert_allclose(tracked.center_mm, detected.center_mm, atol=1.0)


def test_forearm_joined_to_the_hand_does_not_drag_the_centre_down_the_arm():
    # An open hand (90 x 180 mm, fingers up) and a forearm of balls leaving its lower edge
    # downwards and away from the camera: one connected object within the nearest-object band.
    arm = [(HAND + [0.0, 40.0 + 55.0 * k, 35.0 * k], 38.0) for k in range(1, 6)]
    depth = render_scene(CAMERA, plates=[(HAND, 90.0, 180.0)], spheres=arm, wall_mm=WALL_MM)
    detection = detect_hand(depth.astype(np.float32), CAMERA, SURFACE)
    valid = (depth > 150) & (depth < 1000)
    v, u = np.nonzero(valid)
    mass = CAMERA.backproject(np.stack([u, v, depth[valid]], axis=-1)).mean(axis=0)
    assert np.linalg.norm(mass[:2] - HAND[:2]) > 60  # the centre of mass is on the arm
    assert np.linalg.norm(detection.center_mm[:2] - HAND[:2]) < 25


def test_lost_track_reports_why_so_the_caller_can_fall_back(scene):
    lost = detect_hand(scene, CAMERA, seed_mm=[-400.0, -300.0, 500.0])
    assert not lost and lost.center_mm is None and lost.seeded
    assert 'seeded cube' in lost.reason and 'min_area_px' in lost.reason
    assert detect_hand(scene, CAMERA)  # detection without the seed still works
    broken = detect_hand(scene, CAMERA, seed_mm=[np.nan, 0.0, 400.0])
    assert not broken and 'seed' in broken.reason


@pytest.mark.parametrize('fill', [0.0, np.nan, np.inf, -np.inf, -100.0, 5000.0])
@pytest.mark.parametrize('dtype', [np.float32, np.float64])
def test_empty_and_invalid_frames_return_a_reason(fill, dtype):
    frame = np.full((480, 640), fill, dtype=dtype)
    detection = detect_hand(frame, CAMERA)
    assert not detection and detection.center_mm is None
    assert 'no valid depth' in detection.reason
    assert not detect_hand(frame, CAMERA, seed_mm=HAND)


def test_uint16_zero_frame_and_lone_speck():
    assert 'no valid depth' in detect_hand(np.zeros((480, 640), np.uint16), CAMERA).reason
    speck = np.zeros((480, 640), np.uint16)
    speck[200:206, 300:306] = 500
    detection = detect_hand(speck, CAMERA)
    assert not detection and 'too small' in detection.reason


def test_garbage_frames_never_raise():
    rng = np.random.default_rng(5)
    for _ in range(5):
        frame = rng.uniform(-500, 3000, (480, 640)).astype(np.float32)
        frame[rng.random((480, 640)) < 0.3] = np.nan
        frame[rng.random((480, 640)) < 0.1] = np.inf
        detection = detect_hand(frame, CAMERA)
        assert isinstance(detection, Detection)
        assert detection.found or detection.reason
        if detection.found:
            assert np.all(np.isfinite(detection.center_mm))


def test_without_refinement_the_component_front_is_returned(scene):
    detection = detect_hand(scene, CAMERA, HandDetectorConfig(refine_iterations=0,
                                                              depth_offset_mm=0.0))
    assert detection.iterations == 0
    np.testing.assert_allclose(detection.center_mm, HAND, atol=3.0)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match='intrinsics'):
        detect_hand(np.zeros((240, 320), np.uint16), CAMERA)
    with pytest.raises(ValueError, match='dtype'):
        detect_hand(np.zeros((480, 640), bool), CAMERA)
    with pytest.raises(ValueError, match='min_depth_mm < max_depth_mm'):
        HandDetectorConfig(min_depth_mm=800.0, max_depth_mm=500.0)
    with pytest.raises(ValueError, match='downsample'):
        HandDetectorConfig(downsample=0)
    with pytest.raises(ValueError, match='band_mm'):
        HandDetectorConfig(band_mm=-1.0)
    with pytest.raises(ValueError, match='refine_cube_mm'):
        HandDetectorConfig(refine_cube_mm=0.0)


def test_cube_window_keeps_every_point_of_the_cube():
    """The per-iteration pixel window is an optimisation: it must equal a whole-frame search."""
    rng = np.random.default_rng(11)
    depth = rng.uniform(100, 1100, (480, 640)).astype(np.float32)
    config = HandDetectorConfig(downsample=2)
    frame = _BandFrame(depth, CAMERA, config)
    v, u = np.mgrid[0:480:2, 0:640:2]
    points = CAMERA.backproject(np.stack([u, v, frame.depth], axis=-1))
    for center in ([0.0, 0.0, 450.0], [-300.0, 200.0, 400.0], [150.0, -100.0, 200.0],
                   [0.0, 0.0, 980.0], [500.0, 0.0, 300.0]):
        inside = frame.valid & np.all(np.abs(points - center) <= 125.0, axis=-1)
        found = frame.cube_points(np.array(center), 125.0)
        assert found.shape[1] == np.count_nonzero(inside)
        np.testing.assert_allclose(np.sort(found[2]), np.sort(points[inside][:, 2]))


def test_candidates_come_nearest_object_first_each_set_aside_for_the_next():
    box = np.array([-150.0, 60.0, 250.0])  # a box face nearer than the hand, beside it
    depth = render_scene(CAMERA, plates=[(HAND, 90.0, 180.0), (box, 70.0, 70.0)],
                         wall_mm=WALL_MM).astype(np.float32)
    candidates = detect_hand_candidates(depth, CAMERA, SURFACE, count=3)
    assert len(candidates) == 2 and all(candidates)  # the wall is beyond the band
    np.testing.assert_allclose(candidates[0].center_mm, box, atol=5.0)
    np.testing.assert_allclose(candidates[1].center_mm, HAND, atol=5.0)
    # detect_hand is the first candidate.
    np.testing.assert_allclose(detect_hand(depth, CAMERA, SURFACE).center_mm, box, atol=5.0)
    empty = detect_hand_candidates(np.zeros_like(depth), CAMERA, SURFACE)
    assert len(empty) == 1 and not empty[0] and 'no valid depth' in empty[0].reason


def test_a_prepared_frame_serves_tracking_and_candidates_with_one_plane_fit(scene, monkeypatch):
    fits = []
    real_fit = segmentation.dominant_plane
    monkeypatch.setattr(segmentation, 'dominant_plane',
                        lambda *args: fits.append(1) or real_fit(*args))
    config = HandDetectorConfig()
    alone = [detect_hand(scene, CAMERA, config, HAND),
             *detect_hand_candidates(scene, CAMERA, config, count=3)]
    assert len(fits) == 2 and alone[0].seeded and alone[1]
    fits.clear()
    frame = prepare_frame(scene, CAMERA, config)
    valid = frame.valid.copy()
    shared = [detect_hand(scene, CAMERA, config, HAND, frame),
              *detect_hand_candidates(scene, CAMERA, config, 3, frame)]
    assert len(fits) == 1  # the table was fitted once for both
    np.testing.assert_array_equal(frame.valid, valid)  # set-aside objects are put back
    assert [bool(d) for d in shared] == [bool(d) for d in alone]
    for ours, theirs in zip(shared, alone):
        np.testing.assert_allclose(ours.center_mm, theirs.center_mm)
    # Again on the same frame: the same candidates (nothing was used up).
    again = detect_hand_candidates(scene, CAMERA, config, 3, frame)
    np.testing.assert_allclose([d.center_mm for d in again], [d.center_mm for d in shared[1:]])


def test_a_prepared_frame_is_refused_for_another_image_config_or_camera(scene):
    frame = prepare_frame(scene, CAMERA, SURFACE)
    other_camera = dataclasses.replace(CAMERA, fx=CAMERA.fx + 1.0)
    for call in (lambda: detect_hand(scene.copy(), CAMERA, SURFACE, frame=frame),
                 lambda: detect_hand_candidates(scene, CAMERA, HandDetectorConfig(), frame=frame),
                 lambda: detect_hand(scene, other_camera, SURFACE, frame=frame)):
        with pytest.raises(ValueError, match='prepared frame was made from another'):
            call()
    with pytest.raises(ValueError, match='shape'):
        prepare_frame(scene[:100], CAMERA, SURFACE)


def _reaching_arm(step_mm: float = 25.0):
    """An open hand (90 x 180 mm, fingers up) at 600 mm and a forearm of touching balls leaving
    its lower edge downwards and towards the camera (``step_mm`` nearer per ball), plus a box
    nearer than both; returns (depth, hand centre, box centre, ball centres)."""
    hand = np.array([40.0, -60.0, 600.0])
    box = np.array([-180.0, 0.0, 300.0])
    balls = [hand + [0.0, 40.0 + 55.0 * k, -step_mm * k] for k in range(1, 8)]
    depth = render_scene(CAMERA, plates=[(hand, 90.0, 180.0), (box, 70.0, 70.0)],
                         spheres=[(ball, 38.0) for ball in balls], wall_mm=WALL_MM)
    return depth.astype(np.float32), hand, box, balls


def test_an_arm_reaching_nearer_than_its_hand_offers_the_hand_as_an_end():
    # The arm's front is its far end, and the hand lies beyond the nearest-object slab.
    depth, hand, box, balls = _reaching_arm()
    candidates = detect_hand_candidates(depth, CAMERA, SURFACE, count=3)
    assert np.linalg.norm(candidates[0].center_mm - box) < 15  # its ends add nothing
    np.testing.assert_allclose(detect_hand(depth, CAMERA, SURFACE).center_mm,
                               candidates[0].center_mm)
    # Then the arm's front, on the forearm ...
    assert min(np.linalg.norm(candidates[1].center_mm - ball) for ball in balls) < 60
    assert np.linalg.norm(candidates[1].center_mm - hand) > 150
    # ... and the arm's far end: the hand.
    assert np.linalg.norm(candidates[2].center_mm - hand) < 30
    # Fronts alone: the hand would come only after the arm's next slab.
    fronts = detect_hand_candidates(depth, CAMERA, dataclasses.replace(SURFACE, object_ends=False),
                                    count=3)
    assert min(np.linalg.norm(c.center_mm - hand) for c in fronts[:2]) > 100


def test_candidates_keep_their_distance_and_surfaces_end_at_depth_steps():
    depth, hand, _, _ = _reaching_arm()
    many = detect_hand_candidates(depth, CAMERA, SURFACE, count=5)
    assert len(many) >= 3
    for i, first in enumerate(many):
        for second in many[i + 1:]:
            assert np.linalg.norm(first.center_mm - second.center_mm) >= \
                SURFACE.candidate_separation_mm
    # Balls 50 mm apart in depth: the arm's surface breaks at each step, so the hand is no
    # longer an end of the arm (the hand is then reached only as a later object, if at all).
    stepped, hand, _, _ = _reaching_arm(step_mm=50.0)
    cut = detect_hand_candidates(stepped, CAMERA, SURFACE, count=3)
    joined = detect_hand_candidates(
        stepped, CAMERA, dataclasses.replace(SURFACE, depth_jump_mm=80.0), count=3)
    assert min(np.linalg.norm(c.center_mm - hand) for c in cut) > 30
    assert min(np.linalg.norm(c.center_mm - hand) for c in joined) < 30


@pytest.mark.parametrize('field', ['depth_jump_mm', 'end_band_mm', 'candidate_separation_mm'])
def test_object_end_settings_must_be_positive(field):
    with pytest.raises(ValueError, match=field):
        HandDetectorConfig(**{field: 0.0})
