"""Up to two hands per frame (HandsPipeline): one track alone is the one-hand pipeline, a found
hand is cut out before the next search, and with the shipped weights two-hand renders give both
hands with their sides, also while they cross or one is hidden behind a board for a while."""

import numpy as np
import pytest

from crossinfonet_ros.camera import D435_640X480
from crossinfonet_ros.estimator import HandPoseEstimator
from crossinfonet_ros.hand_gate import gate_from_setting
from crossinfonet_ros.hand_mask import cut_out_hand
from crossinfonet_ros.hands import SEARCH_EVERY, HandsPipeline
from crossinfonet_ros.layouts import get_layout
from crossinfonet_ros.pipeline import HandPosePipeline, PipelineConfig
from crossinfonet_ros.segmentation import HandDetectorConfig
from training.synth.placement import palm_center
from training.synth.scene import render_frame
from training.synth.two_hands import crossing_stream, hidden_stream, two_hand_frame

from conftest import ROOT, CountingEstimator

CLASSIFIER = ROOT / 'crossinfonet_ros' / 'weights' / 'hand_or_not.safetensors'
LAYOUT = get_layout('hands2017')
NEAR_MM = 50.0  # a hand this close (mean joint error) to a true hand is that hand


@pytest.fixture(scope='module')
def estimator(trained_weights):
    return HandPoseEstimator.from_weights(trained_weights, device='cpu', backend='torch',
                                          threads=2)


def _config(estimator, **overrides) -> PipelineConfig:
    """The node's defaults: 'auto' sides, the shipped hand classifier."""
    gate = gate_from_setting('', 0.0, CLASSIFIER, estimator.cube_mm)
    return PipelineConfig(detector=HandDetectorConfig(cube_mm=estimator.cube_mm),
                          handedness='auto', hand_gate=gate, **overrides)


def _nearest(hand, joints_mm: dict):
    """The true hand nearest a found one, and its mean joint error, mm."""
    errors = {side: float(np.mean(np.linalg.norm(hand.native_m * 1000 - joints, axis=1)))
              for side, joints in joints_mm.items()}
    side = min(errors, key=errors.get)
    return side, errors[side]


def _is(hand, side: str, joints_mm: dict) -> bool:
    """The found hand is the true ``side`` hand (nearest it, within NEAR_MM)."""
    nearest, error = _nearest(hand, joints_mm)
    return nearest == side and error < NEAR_MM


def test_one_track_is_the_one_hand_pipeline(estimator):
    config = _config(estimator)
    single, hands = HandPosePipeline(estimator, config), HandsPipeline(estimator, config)
    for index in range(3):
        sample = render_frame(0, index)
        expected = single.process(sample.depth_mm, sample.intrinsics, index / 30)
        found = hands.process(sample.depth_mm, sample.intrinsics, index / 30)
        assert found.primary.detected == expected.detected
        if expected.detected:
            assert len(found.hands) == 1 and found.hands[0].track_id == found.primary.track_id
            np.testing.assert_array_equal(found.primary.positions_m, expected.positions_m)
        else:
            assert found.hands == () and found.reason == expected.reason


def test_cutting_out_a_hand_removes_it_and_its_forearm_only():
    sample = render_frame(0, 1)
    depth = sample.depth_mm.copy()
    joints = sample.joints_mm
    cut_out_hand(depth, sample.intrinsics, joints, LAYOUT.edges, LAYOUT.wrist,
                 palm_center(joints))
    removed = (sample.depth_mm > 0) & (depth == 0)
    kept = depth > 0
    assert removed.sum() > 500, 'the hand has hundreds of pixels at this distance'
    # Every joint's pixel is gone; the far wall (and anything a hand-width off) stays.
    intrinsics = sample.intrinsics
    for x, y, z in joints:
        u = int(intrinsics.fx * x / z + intrinsics.cx)
        v = int(intrinsics.fy * y / z + intrinsics.cy)
        if 0 <= u < intrinsics.width and 0 <= v < intrinsics.height:
            assert depth[v, u] == 0
    far = sample.depth_mm > joints[:, 2].max() + 400
    assert far.any() and np.all(kept[far])


def test_both_hands_are_found_with_their_sides(estimator):
    pipeline = HandsPipeline(estimator, _config(estimator), max_hands=2, search_every=1)
    both = 0
    for index in range(8):
        frame = two_hand_frame(7, index, 'apart')
        pipeline.reset()
        for step in range(3):
            found = pipeline.process(frame.depth_mm, D435_640X480, step / 30)
        sides = [hand.handedness for hand in found.hands]
        assert len(found.hands) <= 2 and len(set(sides)) == len(sides), sides
        assert sides == sorted(sides), 'left before right'
        matched = [_nearest(hand, frame.joints_mm) for hand in found.hands]
        if len(found.hands) == 2 and all(side == hand.handedness and error < NEAR_MM
                                         for hand, (side, error) in zip(found.hands, matched)):
            both += 1
    assert both >= 5, f'both hands right in {both} of 8 frames (6 when measured)'


# 5151: the hand in front took the track of the one behind it until the nearest went first.
@pytest.mark.parametrize('seed', [1, 2, 5151])
def test_crossing_hands_keep_their_sides(estimator, seed):
    pipeline = HandsPipeline(estimator, _config(estimator), max_hands=2)
    frames, both = 30, 0
    for step, frame in enumerate(crossing_stream(seed, frames)):
        found = pipeline.process(frame.depth_mm, D435_640X480, step / 30)
        sides = [hand.handedness for hand in found.hands]
        assert len(set(sides)) == len(sides), f'frame {step}: two hands labelled {sides}'
        for hand in found.hands:
            side, error = _nearest(hand, frame.joints_mm)
            assert error >= NEAR_MM or side == hand.handedness, \
                f'frame {step}: the {side} hand labelled {hand.handedness}'
        both += len(found.hands) == 2
    # Both hands in 26 and 30 frames for seeds 1 and 2 when measured.
    assert both >= 18, f'both hands in {both} of {frames} frames'


def test_two_hands_never_share_a_side(estimator):
    # Seed 5158: a hand lost and found again took the side of the other, still tracked one,
    # in 12 of 30 frames before the sides still tracked were taken into account.
    pipeline = HandsPipeline(estimator, _config(estimator), max_hands=2)
    for step, frame in enumerate(crossing_stream(5158, 30)):
        sides = [hand.handedness for hand in
                 pipeline.process(frame.depth_mm, D435_640X480, step / 30).hands]
        assert len(set(sides)) == len(sides), f'frame {step}: two hands labelled {sides}'


def test_tracked_hands_share_one_network_run(estimator):
    counting = CountingEstimator(estimator)
    pipeline = HandsPipeline(counting, _config(estimator), max_hands=2)
    both_tracked = 0
    for step, frame in enumerate(crossing_stream(2, 12)):
        counting.batches.clear()
        found = pipeline.process(frame.depth_mm, D435_640X480, step / 30)
        if len(found.hands) == 2 and all(hand.tracked for hand in found.hands):
            both_tracked += 1
            assert counting.batches[0] == 2, counting.batches  # both crops, one run
    assert both_tracked >= 6, f'both hands tracked in {both_tracked} of 12 frames'


def test_cutting_out_a_hand_keeps_the_other_one_beside_it():
    kept = []
    for index in range(6):
        frame = two_hand_frame(3, index, 'close')
        for side, other in (('left', 'right'), ('right', 'left')):
            depth = frame.depth_mm.copy()
            joints = frame.joints_mm[side]
            cut_out_hand(depth, D435_640X480, joints, LAYOUT.edges, LAYOUT.wrist,
                         palm_center(joints))
            # The other hand's joints whose pixel shows its finger (a reading within 30 mm).
            x, y, z = frame.joints_mm[other].T
            u = np.round(D435_640X480.fx * x / z + D435_640X480.cx).astype(int)
            v = np.round(D435_640X480.fy * y / z + D435_640X480.cy).astype(int)
            inside = (u >= 0) & (u < 640) & (v >= 0) & (v < 480)
            u, v, z = u[inside], v[inside], z[inside]
            shown = np.abs(frame.depth_mm[v, u] - z) < 30
            kept.append(np.mean(depth[v[shown], u[shown]] > 0))
    assert np.mean(kept) >= 0.95 and min(kept) >= 0.75, np.round(kept, 2)


def test_a_frame_without_hands_gives_none(estimator):
    pipeline = HandsPipeline(estimator, _config(estimator), max_hands=2)
    found = pipeline.process(np.full((480, 640), 2500.0, np.float32), D435_640X480, 0.0)
    assert found.hands == () and not found.primary.detected and found.reason
    with pytest.raises(ValueError, match='max_hands must be 1 or 2'):
        HandsPipeline(estimator, _config(estimator), max_hands=3)


def test_a_second_hand_below_the_score_bar_is_not_taken(estimator):
    frame = two_hand_frame(7, 0, 'apart')
    open_bar = HandsPipeline(estimator, _config(estimator), max_hands=2, second_hand_score=0.0)
    strict = HandsPipeline(estimator, _config(estimator), max_hands=2, second_hand_score=0.99)
    both = open_bar.process(frame.depth_mm, D435_640X480, 0.0)
    assert len(both.hands) == 2 and min(hand.hand_score for hand in both.hands) < 0.99
    one = strict.process(frame.depth_mm, D435_640X480, 0.0)
    # One of the pair (the one found first; the pair decision may have run it as another side).
    gaps = [np.linalg.norm(np.subtract(one.hands[0].center_m, h.center_m)) for h in both.hands]
    assert len(one.hands) == 1 and sorted(gaps)[0] < 0.03 < sorted(gaps)[1], gaps
    assert not strict.tracks[1].holds_hand  # the refused hand is not tracked either
    with pytest.raises(ValueError, match='second_hand_score must be in'):
        HandsPipeline(estimator, _config(estimator), max_hands=2, second_hand_score=1.0)


# Seed 3: with the left hand hidden, the search takes the right arm's elbow (350 mm behind the
# right hand; P(hand) 0.7-0.9, heat-map score 0.47) for the left hand, and that track holds the
# second slot from then on (docs/detection.md).
@pytest.mark.parametrize('seed', [1, 2, pytest.param(3, marks=pytest.mark.xfail(
    strict=True, reason="a phantom left hand on the right arm's elbow keeps the slot"))])
def test_a_hand_behind_a_board_leaves_the_other_alone_and_is_found_again(estimator, seed):
    hidden, slide, frames = (12, 22), 4, 36
    gone = hidden[1] + slide  # the first frame without the board in front of the left hand
    pipeline = HandsPipeline(estimator, _config(estimator), max_hands=2)
    right_tracks, back = set(), None
    for step, frame in enumerate(hidden_stream(seed, frames, hidden, slide)):
        found = pipeline.process(frame.depth_mm, D435_640X480, step / 30)
        sides = [hand.handedness for hand in found.hands]
        assert len(set(sides)) == len(sides), f'frame {step}: two hands labelled {sides}'
        right = [hand for hand in found.hands if hand.handedness == 'right']
        assert right and _is(right[0], 'right', frame.joints_mm), \
            f'frame {step}: the right hand was disturbed ({sides})'
        right_tracks.add(right[0].track_id)
        left = [hand for hand in found.hands if hand.handedness == 'left']
        near = bool(left) and _is(left[0], 'left', frame.joints_mm)
        if step >= gone and back is None and near:
            back = step
        assert back is None or near, f'frame {step}: the left hand lost again after {back}'
    assert len(right_tracks) == 1, f'the right hand changed tracks: {right_tracks}'
    assert back is not None and back < gone + SEARCH_EVERY, \
        f'the left hand found again at frame {back}, the board gone at {gone}'


# Seed 9100 'apart', frames 23 and 24: the hand found first is decided right on weak evidence
# (its left and right views' surface fits 2-3 mm apart), the second hand's own fits say right
# by 5-19 mm; the first is taken again as the left hand. Given the side left over instead (the
# rule before the pair decision), both hands came out with their sides swapped.
@pytest.mark.parametrize('index', [23, 24])
def test_a_pair_found_together_gets_the_sides_its_stronger_evidence_says(estimator, index):
    frame = two_hand_frame(9100, index, 'apart')
    pipeline = HandsPipeline(estimator, _config(estimator), max_hands=2)
    found = pipeline.process(frame.depth_mm, D435_640X480, 0.0)
    assert [hand.handedness for hand in found.hands] == ['left', 'right']
    for hand in found.hands:
        assert _is(hand, hand.handedness, frame.joints_mm), _nearest(hand, frame.joints_mm)
    assert not any(track.voting for track in pipeline.tracks), 'a pair: the sides are kept'
