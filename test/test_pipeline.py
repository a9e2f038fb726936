"""HandPosePipeline: re-centring on the predicted palm, tracking and either hand, with a real
estimator."""

import numpy as np
import pytest

from crossinfonet_ros.codec import crop_hand, joints_to_crop_uv
from crossinfonet_ros.estimator import HandPoseEstimator
from crossinfonet_ros.hand_frame import wrist_pose
from crossinfonet_ros.mirror import crop_side, mirror_intrinsics, mirror_points
from crossinfonet_ros.pipeline import TIMED_STAGES, HandPosePipeline, PipelineConfig
from crossinfonet_ros.segmentation import (HandDetectorConfig, detect_hand,
                                           detect_hand_candidates)
from training.synth.scene import SynthConfig, render_frame


@pytest.fixture(scope='module')
def estimator(weights):
    return HandPoseEstimator.from_weights(weights, device='cpu', backend='torch', threads=2)


def make_pipeline(estimator, **overrides):
    """A pipeline on the random-init estimator; its confidences mean nothing, so the hand-like
    gate is off unless a test turns it on (every candidate counts as a hand)."""
    detector = HandDetectorConfig(cube_mm=estimator.cube_mm)
    settings = dict(min_hand_confidence=0.0, lost_track_confidence=0.0)
    settings.update(overrides)
    return HandPosePipeline(estimator, PipelineConfig(detector=detector, **settings))


def _timings() -> dict:
    """A zeroed per-stage timing dict, as the pipeline starts each frame with."""
    return dict.fromkeys(TIMED_STAGES, 0.0)


def test_a_frame_times_the_network_and_its_decode_apart(estimator):
    sample = render_frame(0, 1)
    result = make_pipeline(estimator).process(sample.depth_mm, sample.intrinsics, 0.0)
    assert result.detected and set(result.timings_ms) == set(TIMED_STAGES)
    assert result.timings_ms['network'] > 0.0 and result.timings_ms['decode'] > 0.0


def first_pass_palm(estimator, sample):
    detection = detect_hand(sample.depth_mm, sample.intrinsics,
                            HandDetectorConfig(cube_mm=estimator.cube_mm))
    crop = crop_hand(sample.depth_mm, detection.center_mm, estimator.cube_mm, sample.intrinsics)
    joints = estimator.estimate(crop).joints_mm[0]
    return detection.center_mm, estimator.layout.palm_center(joints)


def test_without_refinement_the_crop_is_centred_on_the_detection(estimator):
    sample = render_frame(0, 1)
    result = make_pipeline(estimator, refine_passes=0).process(
        sample.depth_mm, sample.intrinsics, 0.0)
    detected_mm, _ = first_pass_palm(estimator, sample)
    assert result.detected
    np.testing.assert_allclose(np.array(result.center_m) * 1000, detected_mm, atol=1e-6)


def test_refinement_recentres_on_the_predicted_palm(estimator):
    sample = render_frame(0, 1)
    detected_mm, palm_mm = first_pass_palm(estimator, sample)
    result = make_pipeline(estimator, refine_passes=1).process(
        sample.depth_mm, sample.intrinsics, 0.0)
    assert result.detected
    expected = palm_mm if np.linalg.norm(palm_mm - detected_mm) <= estimator.cube_mm / 2 \
        else detected_mm
    np.testing.assert_allclose(np.array(result.center_m) * 1000, expected, atol=1e-3)


def test_tracking_seeds_the_next_frame_and_a_lost_hand_resets(estimator):
    pipeline = make_pipeline(estimator)
    sample = render_frame(0, 1)
    first = pipeline.process(sample.depth_mm, sample.intrinsics, 0.0)
    second = pipeline.process(sample.depth_mm, sample.intrinsics, 1 / 30)
    assert first.detected and not first.tracked
    assert second.detected and second.tracked
    empty = pipeline.process(np.zeros_like(sample.depth_mm), sample.intrinsics, 2 / 30)
    assert not empty.detected and empty.reason
    again = pipeline.process(sample.depth_mm, sample.intrinsics, 3 / 30)
    assert again.detected and not again.tracked


def test_the_most_hand_like_candidate_wins_when_none_reaches_the_bar(estimator):
    sample = render_frame(0, 1)
    # An unreachable bar: every candidate is tried, the highest mean confidence is kept.
    pipeline = make_pipeline(estimator, tracking=False, min_hand_confidence=2.0,
                             refine_passes=0)
    candidates = detect_hand_candidates(sample.depth_mm, sample.intrinsics,
                                        pipeline.config.detector, pipeline.config.max_candidates)
    assert len(candidates) >= 2  # the hand and some clutter
    scores = [pipeline._estimate_at(c, c.center_mm, 'right', sample.depth_mm,
                                    sample.intrinsics, _timings()).score
              for c in candidates]
    result = pipeline.process(sample.depth_mm, sample.intrinsics, 0.0)
    assert float(np.mean(result.confidence)) == pytest.approx(max(scores), abs=1e-6)
    # A bar every candidate reaches: the nearest object is taken, as without the gate.
    first = make_pipeline(estimator, tracking=False, min_hand_confidence=0.0, refine_passes=0)
    nearest = first.process(sample.depth_mm, sample.intrinsics, 0.0)
    assert float(np.mean(nearest.confidence)) == pytest.approx(scores[0], abs=1e-6)


def test_candidates_run_as_one_batch_and_only_the_winner_is_recentred(estimator, monkeypatch):
    sample = render_frame(0, 1)
    pipeline = make_pipeline(estimator, tracking=False, min_hand_confidence=2.0,
                             refine_passes=1)
    candidates = detect_hand_candidates(sample.depth_mm, sample.intrinsics,
                                        pipeline.config.detector, pipeline.config.max_candidates)
    calls = []
    run = estimator.estimate

    def counted(crops):
        calls.append([np.asarray(crop.center_mm, dtype=np.float64) for crop in
                      (crops if isinstance(crops, list) else [crops])])
        return run(crops)

    monkeypatch.setattr(estimator, 'estimate', counted)
    result = pipeline.process(sample.depth_mm, sample.intrinsics, 0.0)
    assert result.detected
    # One batched run over the candidates, then one more on the winner's predicted palm.
    assert len(calls) == 2 and len(calls[0]) == len(candidates) and len(calls[1]) == 1
    for centre, candidate in zip(calls[0], candidates):
        np.testing.assert_allclose(centre, candidate.center_mm)
    # The batched scores are those of one run per crop, and the winner is the best of them.
    scores = [pipeline._estimate_at(c, c.center_mm, 'right', sample.depth_mm,
                                    sample.intrinsics, _timings()).score
              for c in candidates]
    batched = pipeline._attempts([(c, 'right', pipeline._crop_at(
        c.center_mm, 'right', sample.depth_mm, sample.intrinsics, {'crop': 0.0}))
        for c in candidates], sample.intrinsics, _timings())
    np.testing.assert_allclose([a.score for a in batched], scores, atol=1e-5)
    winner = max(batched, key=lambda attempt: attempt.score)
    np.testing.assert_allclose(calls[1][0], winner.palm_mm, atol=1e-6)
    np.testing.assert_allclose(np.array(result.center_m) * 1000, winner.palm_mm, atol=1e-6)


def test_a_lost_track_fits_the_plane_once(estimator, monkeypatch):
    from crossinfonet_ros import segmentation
    fits = []
    real_fit = segmentation.dominant_plane
    monkeypatch.setattr(segmentation, 'dominant_plane',
                        lambda *args: fits.append(1) or real_fit(*args))
    # A bar no track reaches: every tracked frame also detects afresh, on the same frame.
    pipeline = make_pipeline(estimator, lost_track_confidence=2.0, refine_passes=0)
    sample = render_frame(0, 1)
    assert pipeline.process(sample.depth_mm, sample.intrinsics, 0.0).detected
    fits.clear()
    second = pipeline.process(sample.depth_mm, sample.intrinsics, 1 / 30)
    assert second.detected and len(fits) == 1


def test_a_left_hand_runs_mirrored_and_its_joints_are_mirrored_back(estimator):
    sample = render_frame(0, 1)
    pipeline = make_pipeline(estimator, handedness='left')
    result = pipeline.estimate_at(sample.depth_mm, sample.intrinsics, sample.center_mm)
    # Exactly the network's answer on the mirrored crop, reflected back (x -> -x).
    crop = crop_side(sample.depth_mm, sample.center_mm, estimator.cube_mm, sample.intrinsics,
                     'left')
    expected = mirror_points(estimator.estimate(crop).joints_mm[0])
    assert result.detected and result.handedness == 'left' and result.crop_side == 'left'
    np.testing.assert_allclose(result.native_m * 1000.0, expected, atol=1e-9)
    np.testing.assert_allclose(np.array(result.center_m) * 1000.0, sample.center_mm, atol=1e-9)
    # The ROI is reported in the original image (the crop's own box mirrored back).
    x0, y0, x1, y1 = crop_hand(sample.depth_mm, sample.center_mm, estimator.cube_mm,
                               sample.intrinsics).roi
    x, y, w, h = result.roi
    assert abs(x - x0) <= 1 and abs(x + w - x1) <= 1 and (y, h) == (y0, y1 - y0)
    # The debug overlay maps the joints into the crop the network saw.
    np.testing.assert_allclose(result.crop_joints_uv(sample.intrinsics), joints_to_crop_uv(
        estimator.estimate(crop).joints_mm[0], crop, mirror_intrinsics(sample.intrinsics)),
        atol=1e-6)
    # Its wrist frame follows the left-hand convention of hand_frame.
    assert result.wrist_orientation == wrist_pose(result.native_m, estimator.layout, 'left')[1]


@pytest.fixture(scope='module')
def trained(trained_weights):
    return HandPoseEstimator.from_weights(trained_weights, device='cpu', backend='torch',
                                          threads=2)


def test_auto_decides_the_side_on_a_fresh_detection_and_the_track_keeps_it(trained):
    # Renders of unseen seed 4242 whose side the surface fit gets right (most do; see
    # crossinfonet_ros.hand_fit for the rate).
    right = render_frame(4242, 0)
    left = render_frame(4242, 0, SynthConfig(left_hand_prob=1.0))
    pipeline = make_pipeline(trained, handedness='auto', side_vote_frames=1)
    for sample, side in ((right, 'right'), (left, 'left')):
        given = pipeline.estimate_at(sample.depth_mm, sample.intrinsics, sample.center_mm)
        assert given.handedness == side
        pipeline.reset()
        first = pipeline.process(sample.depth_mm, sample.intrinsics, 0.0)
        assert first.detected and not first.tracked and first.handedness == side
        # Tracked frames after the side vote (test_side_vote.py) run only the track's side:
        # one crop per network run.
        calls = []
        run = trained.estimate
        trained.estimate = lambda crops: calls.append(len(crops)) or run(crops)
        try:
            second = pipeline.process(sample.depth_mm, sample.intrinsics, 1 / 30)
        finally:
            del trained.estimate
        assert second.tracked and second.handedness == side and calls == [1]
        pipeline.reset()
    # A fresh detection runs every candidate both ways in one batch.
    pipeline = make_pipeline(trained, handedness='auto', tracking=False, refine_passes=0)
    candidates = detect_hand_candidates(left.depth_mm, left.intrinsics,
                                        pipeline.config.detector, pipeline.config.max_candidates)
    calls = []
    trained.estimate = lambda crops: calls.append(len(crops)) or run(crops)
    try:
        assert pipeline.process(left.depth_mm, left.intrinsics, 0.0).handedness == 'left'
    finally:
        del trained.estimate
    assert calls == [2 * len(candidates)]


def test_handedness_must_be_a_known_mode(estimator):
    with pytest.raises(ValueError, match='handedness'):
        make_pipeline(estimator, handedness='both')
