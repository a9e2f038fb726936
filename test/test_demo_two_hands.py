"""The demo's two-hand stream and figures: hands that never swap places between frames, each
side scored by its label, tiles with every skeleton."""

import sys

import numpy as np
import pytest

from training.synth.placement import palm_center
from training.synth.two_hands import back_and_forth

from conftest import ROOT

sys.path.insert(0, str(ROOT / 'scripts'))
from demo_two_hands import sheet_frame, split_truth, two_hand_figures  # noqa: E402

LAYOUT = 'hands2017'


def test_the_demo_stream_crosses_there_and_back_without_a_jump_in_place():
    frames = list(back_and_forth(4, 64, crossing_frames=8))
    assert len(frames) == 64
    x = np.array([[palm_center(f.joints_mm[side])[0] for side in ('left', 'right')]
                  for f in frames])
    right_minus_left = x[:, 1] - x[:, 0]
    # Each crossing of 8 frames swaps the hands; the next one starts where it ended.
    assert right_minus_left[0] < 0 < right_minus_left[7] and right_minus_left[15] < 0
    assert np.all(np.abs(np.diff(x, axis=0)) < 100.0), 'a hand jumped across the view'


def _truth():
    frame = next(back_and_forth(2, 1))
    return np.concatenate([frame.joints_mm['left'], frame.joints_mm['right']])


def test_each_side_is_scored_by_its_label():
    truth = _truth()
    sides = split_truth(truth)
    stamps = [(0, k) for k in range(4)]
    arrays = {stamps[0]: [('left', sides['left'] + 5.0, LAYOUT),
                          ('right', sides['right'], LAYOUT)],
              stamps[1]: [('left', sides['right'], LAYOUT)],  # the right hand called left
              stamps[2]: [('right', sides['right'] + [0.0, 0.0, 300.0], LAYOUT)],  # near none
              }  # stamps[3]: not answered
    figures = two_hand_figures(stamps, arrays, {s: truth for s in stamps},
                               np.array([10.0, 20.0, 30.0]))
    assert figures['hands_frames_answered'] == 3 and figures['hands_answered_percent'] == 75.0
    assert figures['both_hands_found_percent'] == pytest.approx(100.0 / 3)
    assert figures['left_found_percent'] == pytest.approx(100.0 / 3)
    assert abs(figures['left_mean_joint_error_mm'] - np.sqrt(75.0)) < 1e-6
    assert figures['right_side_swaps'] == 1 and figures['left_side_swaps'] == 0
    assert figures['false_hands'] == 1 and figures['hands_latency_ms_p50'] == 20.0
    assert figures['frames_with_left_hand_percent'] == pytest.approx(200.0 / 3)


def test_without_ground_truth_only_the_sides_found_are_reported():
    stamps = [(0, 0), (0, 1)]
    arrays = {stamps[0]: [('right', np.zeros((21, 3)), LAYOUT)], stamps[1]: []}
    figures = two_hand_figures(stamps, arrays, {}, np.array([5.0, 6.0]))
    assert figures['frames_with_right_hand_percent'] == 50.0
    assert 'left_found_percent' not in figures and 'false_hands' not in figures


def test_a_tile_holds_both_skeletons_and_says_each_sides_error():
    truth = _truth()
    sides = split_truth(truth)
    hands = [('left', sides['left'] + 4.0, LAYOUT), ('right', sides['right'], LAYOUT)]
    depth = np.full((480, 640), 600.0, np.float32)
    from training.evaluate_two_hands import CAMERA
    tile = sheet_frame(3, depth, CAMERA, hands, truth)
    assert tile.predicted_mm.shape == (42, 3) and tile.truth_mm.shape == (42, 3)
    assert max(max(edge) for edge in tile.predicted_edges) == 41  # the right hand's bones too
    assert tile.label == f'#3  L {np.sqrt(48.0):.0f} R 0 mm'
    assert sheet_frame(4, depth, CAMERA, [hands[1]], truth).label == '#4  L - R 0 mm'
    assert sheet_frame(5, depth, CAMERA, None, truth).label == '#5  no answer'
    assert sheet_frame(6, depth, CAMERA, [], None).label == '#6  no hand'
