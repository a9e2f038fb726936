"""training.gate_crops: the crops the hand gate checks while the two-hand pipeline runs,
labelled by their centre's distance from the true palms."""

import numpy as np
import pytest

from crossinfonet_ros.estimator import HandPoseEstimator
from crossinfonet_ros.hand_classifier import load_classifier
from training import gate_crops
from training.gate_crops import RecordingGate, collect
from training.hand_crops import HAND_MM, OTHER_MM, crop_label
from training.hand_or_not import SHIPPED


def test_a_crop_is_labelled_by_the_nearest_palm():
    palms = [np.array([0.0, 0.0, 500.0]), np.array([300.0, 0.0, 500.0])]
    assert crop_label([290.0, 0.0, 505.0], palms) == 1
    assert crop_label([0.0, HAND_MM + 10.0, 500.0], palms) is None  # between: left out
    assert crop_label([0.0, OTHER_MM + 1.0, 500.0], palms) == 0
    assert crop_label([0.0, 0.0, 500.0], []) == 0  # no hand in the frame


def test_every_checked_crop_is_kept_with_its_label(trained_weights):
    estimator = HandPoseEstimator.from_weights(trained_weights)
    gate = RecordingGate(load_classifier(SHIPPED))
    crops, labels = collect(estimator, gate, 'apart', 3, 3)
    # Both hands of every frame were checked (at least), each a hand crop of the codec's size.
    assert crops.shape[1:] == (96, 96) and len(crops) == len(labels) >= 6
    assert labels.sum() >= 6 and set(np.unique(labels)) <= {0, 1}
    crops, labels = collect(estimator, gate, 'no_hand', 3, 3)
    assert len(labels) >= 1 and not labels.any()  # whatever the gate saw, no hand was there


def test_bad_arguments_fail_with_one_line(tmp_path, capsys, trained_weights):
    out = str(tmp_path / 'c.npz')
    assert gate_crops.main(['--weights', str(trained_weights), '--scenes', 'moon',
                            '--out', out]) == 2
    assert '--scenes' in capsys.readouterr().err
    assert gate_crops.main(['--weights', str(tmp_path / 'none.safetensors'), '--out', out]) == 2
    assert capsys.readouterr().err.startswith('error:')


@pytest.mark.parametrize('scene', ['crossing'])
def test_a_short_run_writes_the_npz(tmp_path, trained_weights, scene):
    out = tmp_path / 'c.npz'
    assert gate_crops.main(['--weights', str(trained_weights), '--scenes', scene,
                            '--frames', '4', '--out', str(out)]) == 0
    data = np.load(out)
    assert data['crops'].dtype == np.float16 and len(data['crops']) == len(data['labels']) > 0
