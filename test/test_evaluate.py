"""training.metrics against hand computations on a toy prediction file, and training.evaluate
end to end on a few rendered frames."""

import json

import numpy as np
import pytest
import torch

from crossinfonet_ros.layouts import get_layout
from training import evaluate, metrics

torch.set_num_threads(1)


def _toy(tmp_path):
    """Two frames x two joints; frame 0 errors 3 and 5 mm, frame 1 errors 0 and 12 mm."""
    truth = np.array([[[0, 0, 0], [10, 10, 10]], [[1, 2, 3], [4, 5, 6]]], dtype=float)
    predicted = truth.copy()
    predicted[0, 0] += [3, 0, 0]  # 3 mm
    predicted[0, 1] += [0, 3, 4]  # 5 mm
    predicted[1, 1] += [0, 0, -12]  # 12 mm
    path = metrics.write_uvd(tmp_path / 'pred.txt', predicted)
    return path, truth


def test_toy_prediction_file_matches_hand_computation(tmp_path):
    path, truth = _toy(tmp_path)
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and lines[0].split()[0] == '3.0000' and len(lines[0].split()) == 6
    errors = metrics.joint_errors(metrics.read_uvd(path, 2), truth)
    np.testing.assert_allclose(errors, [[3, 5], [0, 12]])
    summary = metrics.summarize(errors, ('a', 'b'))
    assert summary['mean_error_mm'] == pytest.approx((3 + 5 + 0 + 12) / 4)
    assert summary['per_joint_error_mm'] == pytest.approx({'a': 1.5, 'b': 8.5})
    assert summary['max_error_mean_mm'] == pytest.approx((5 + 12) / 2)
    curve = dict(zip(summary['success_curve']['thresholds_mm'],
                     summary['success_curve']['fraction']))
    # frame maxima are 5 and 12 mm
    assert (curve[4.0], curve[5.0], curve[11.0], curve[12.0], curve[80.0]) == \
        (0.0, 0.5, 0.5, 1.0, 1.0)


def test_failed_frames_count_as_failures_not_in_the_mean():
    errors = np.array([[1.0, 2.0], [np.nan, np.nan], [3.0, 4.0]])
    summary = metrics.summarize(errors)
    assert summary['failures'] == 1 and summary['frames'] == 3
    assert summary['mean_error_mm'] == pytest.approx(2.5)
    assert summary['success_curve']['fraction'][-1] == pytest.approx(2 / 3)


def test_bad_prediction_file_names_file_and_line(tmp_path):
    path = tmp_path / 'bad.txt'
    path.write_text('1 2 3 4 5 6\n1 2 3\n')
    with pytest.raises(ValueError, match=r'bad.txt:2: expected 6 numbers'):
        metrics.read_uvd(path, 2)


@pytest.mark.parametrize('center', ['given', 'detect'])
def test_evaluate_synthetic_end_to_end(weights, tmp_path, capsys, center):
    out = tmp_path / 'eval'
    status = evaluate.main(['--weights', str(weights), '--dataset', 'synthetic', '--seed', '5',
                            '--num', '3', '--json', str(out / 'eval.json'), '--out', str(out),
                            '--center', center])
    assert status == 0
    summary = json.loads((out / 'eval.json').read_text())
    names = get_layout('hands2017').joint_names
    assert summary['frames'] == 3 and summary['center'].startswith(center)
    if center == 'given':  # every frame has a centre: no failures
        assert summary['failures'] == 0
    assert list(summary['per_joint_error_mm']) == list(names)
    fraction = summary['success_curve']['fraction']
    assert len(fraction) == 81 and all(a <= b for a, b in zip(fraction, fraction[1:]))
    detected = summary['frames'] - summary['failures']
    if detected:
        assert summary['mean_error_mm'] > 0
    uvd = metrics.read_uvd(out / 'predictions_uvd.txt', len(names))
    assert uvd.shape == (3, len(names), 3)
    assert (out / 'curve.png').stat().st_size > 0 and (out / 'per_joint.png').stat().st_size > 0
    assert 'mean joint error' in capsys.readouterr().out
    # The figures name what they show, so a copy in the docs reads alone.
    title = evaluate.plot_title(summary)
    assert weights.name in title and 'synthetic seed 5' in title and '3 frames' in title
    assert f'--center {center}' in title


def test_plot_title_of_a_real_dataset_without_a_mean():
    summary = dict(weights='/some/where/nyu.safetensors', dataset='nyu', split='test',
                   frames=8252, center='detect (the node\'s detector and re-centring)',
                   mean_error_mm=None)
    title = evaluate.plot_title(summary)
    assert title == 'nyu.safetensors\nnyu test, 8252 frames, --center detect, mean n/a'


def test_evaluate_rejects_missing_root(weights, capsys):
    assert evaluate.main(['--weights', str(weights), '--dataset', 'nyu']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and '--root' in err[0]


def test_evaluate_both_hands_reports_each_side(trained_weights, tmp_path, capsys):
    path = tmp_path / 'eval.json'
    status = evaluate.main(['--weights', str(trained_weights), '--seed', '4242', '--num', '2',
                            '--hand', 'both', '--handedness', 'auto', '--json', str(path)])
    assert status == 0
    summary = json.loads(path.read_text())
    assert summary['frames'] == 4 and summary['handedness'] == 'auto'
    sides = summary['per_side']
    assert set(sides) == {'right', 'left'}
    for row in sides.values():
        assert row['frames'] == 2 and row['mean_error_mm'] > 0
        assert 0.0 <= row['handedness_accuracy'] <= 1.0
    # The frame-weighted side means make the overall mean (every frame has a given centre).
    overall = (sides['right']['mean_error_mm'] + sides['left']['mean_error_mm']) / 2
    assert summary['mean_error_mm'] == pytest.approx(overall)
    assert 'left hands (2 frames, handedness auto)' in capsys.readouterr().out


def test_forced_sides_score_every_frame_as_that_side(trained_weights, tmp_path):
    path = tmp_path / 'eval.json'
    assert evaluate.main(['--weights', str(trained_weights), '--seed', '4242', '--num', '2',
                          '--hand', 'left', '--handedness', 'right', '--json', str(path)]) == 0
    left_as_right = json.loads(path.read_text())['per_side']['left']
    assert left_as_right['handedness_accuracy'] == 0.0
    assert evaluate.main(['--weights', str(trained_weights), '--seed', '4242', '--num', '2',
                          '--hand', 'left', '--handedness', 'left', '--json', str(path)]) == 0
    left = json.loads(path.read_text())['per_side']['left']
    assert left['handedness_accuracy'] == 1.0
    # Mirroring a left hand is what makes the right-hand network answer it well.
    assert left['mean_error_mm'] < left_as_right['mean_error_mm']
