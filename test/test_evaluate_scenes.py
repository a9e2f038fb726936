"""training.evaluate --scene: each named scene renders its own frames, the scene's share of
left hands holds unless --hand says otherwise, and the summary names the scene."""

import json

import numpy as np
import pytest

from training import evaluate
from training.synth.scene import render_frame
from training.synth.scenes import SCENES, scene_config
from training.synth_dataset import synth_config


def _frames(*argv: str) -> list:
    args = evaluate.build_parser().parse_args(['--weights', 'unused', '--num', '3', *argv])
    return list(evaluate.frames(args, 250.0, 'hands2017'))


@pytest.mark.parametrize('scene', sorted(SCENES))
def test_each_scene_renders_its_configured_frames(scene):
    config = scene_config(scene, synth_config(250.0))
    for index, sample in enumerate(_frames('--seed', '17', '--scene', scene)):
        expected = render_frame(17, index, config)
        assert np.array_equal(sample.depth_mm, expected.depth_mm) and sample.side == expected.side


def test_scenes_differ_from_the_default_and_hand_overrides_the_scene():
    default = _frames('--seed', '17')
    egocentric = _frames('--seed', '17', '--scene', 'egocentric')
    assert not any(np.array_equal(a.joints_mm, b.joints_mm)
                   for a, b in zip(default, egocentric))
    assert {sample.side for sample in _frames('--scene', 'left')} == {'left'}
    assert {sample.side for sample in _frames('--scene', 'left', '--hand', 'right')} == \
        {'right'}
    assert [s.side for s in _frames('--scene', 'left', '--hand', 'both')] == \
        ['right', 'left'] * 3


def test_unknown_scene_names_are_rejected():
    with pytest.raises(ValueError, match="unknown scene 'underwater'"):
        scene_config('underwater', synth_config(250.0))
    with pytest.raises(evaluate.EvaluationError, match="invalid choice: 'underwater'"):
        evaluate.build_parser().parse_args(['--weights', 'w', '--scene', 'underwater'])


def test_summary_names_the_scene(weights, tmp_path):
    path = tmp_path / 'eval.json'
    assert evaluate.main(['--weights', str(weights), '--seed', '5', '--num', '1',
                          '--scene', 'left', '--handedness', 'left', '--json', str(path)]) == 0
    summary = json.loads(path.read_text())
    assert summary['scene'] == 'left' and set(summary['per_side']) == {'left'}
    assert 'synthetic seed 5 left' in evaluate.plot_title(summary)
