"""training.train's synthetic scene options (--left-hand-prob, --viewpoint, --viewpoint-mix,
--grasp-prob, --occluder-prob):
they reach the rendered samples and the weights' training record, a resumed run may change
them, and bad values stop with one line."""

import numpy as np
import pytest

from training import train
from training.synth.scene import SynthConfig, render_crop, sample_scene

TINY = ['--dataset', 'synthetic', '--batch-size', '2', '--train-size', '4', '--val-size', '2',
        '--threads', '1', '--progress', 'none', '--seed', '3']


def test_scene_options_reach_the_rendered_samples(tmp_path):
    args = train.parse_args(TINY + ['--out', str(tmp_path / 'run'), '--left-hand-prob', '1',
                                    '--viewpoint', 'egocentric'])
    data = train.build_data(args)
    samples = data.train.samples
    assert (samples.config.left_hand_prob, samples.config.viewpoint) == (1.0, 'egocentric')
    expected = SynthConfig(cube_mm=250.0, left_hand_prob=1.0, viewpoint='egocentric')
    for index in range(2):
        sample = samples[index]
        assert sample.side == 'left'
        assert np.array_equal(sample.depth_mm, render_crop(3, index, expected).depth_mm)
        assert not np.array_equal(sample.joints_mm, render_crop(3, index).joints_mm)
    assert data.val.samples.config == samples.config  # validation sees the same scenes
    record = train.training_record(args, 1, 20.0)
    assert (record['left_hand_prob'], record['viewpoint'], record['viewpoint_mix']) == \
        (1.0, 'egocentric', [])


def test_a_viewpoint_mix_draws_every_named_viewpoint(tmp_path):
    args = train.parse_args(TINY + ['--out', str(tmp_path / 'run'), '--train-size', '40',
                                    '--viewpoint-mix', 'egocentric=1,overhead=1'])
    config = train.build_data(args).train.samples.config
    assert config.viewpoint_mix == (('egocentric', 1.0), ('overhead', 1.0))
    drawn = {sample_scene(3, index, config).viewpoint for index in range(40)}
    assert drawn == {'egocentric', 'overhead'}
    assert train.training_record(args, 1, 20.0)['viewpoint_mix'] == \
        [['egocentric', 1.0], ['overhead', 1.0]]


def test_a_resumed_run_can_move_to_other_scenes(tmp_path):
    run_dir = tmp_path / 'run'
    train.run(train.parse_args(TINY + ['--out', str(run_dir), '--epochs', '1']))
    args = train.parse_args(['--out', str(run_dir), '--resume', '--epochs', '2',
                             '--viewpoint-mix', 'third_person=1,egocentric=1',
                             '--left-hand-prob', '0.5'])
    assert args.viewpoint_mix == (('third_person', 1.0), ('egocentric', 1.0))
    assert args.left_hand_prob == 0.5 and args.seed == 3
    train.run(args)
    again = train.parse_args(['--out', str(run_dir), '--resume', '--epochs', '3'])
    assert again.viewpoint_mix == (('third_person', 1.0), ('egocentric', 1.0))
    assert again.left_hand_prob == 0.5


def test_grasp_and_occluder_shares_reach_the_renders_and_the_record(tmp_path):
    args = train.parse_args(TINY + ['--out', str(tmp_path / 'run'), '--grasp-prob', '1',
                                    '--occluder-prob', '0.5'])
    samples = train.build_data(args).train.samples
    assert (samples.config.grasp_prob, samples.config.occluder_prob) == (1.0, 0.5)
    expected = SynthConfig(cube_mm=250.0, grasp_prob=1.0, occluder_prob=0.5)
    assert np.array_equal(samples[0].depth_mm, render_crop(3, 0, expected).depth_mm)
    assert not np.array_equal(samples[0].joints_mm, render_crop(3, 0).joints_mm)  # closed hand
    record = train.training_record(args, 1, 20.0)
    assert (record['grasp_prob'], record['occluder_prob']) == (1.0, 0.5)


@pytest.mark.parametrize('argv, message', [
    (['--left-hand-prob', '1.5'], '--left-hand-prob must be in [0, 1], got 1.5'),
    (['--grasp-prob', '-0.1'], '--grasp-prob must be in [0, 1], got -0.1'),
    (['--dataset', 'nyu', '--root', '.', '--occluder-prob', '0.2'], 'synthetic only'),
    (['--viewpoint', 'side'], 'invalid choice'),
    (['--viewpoint-mix', 'egocentric:1'], 'name=share'),
    (['--viewpoint-mix', 'egocentric=0'], 'positive sum'),
    (['--dataset', 'nyu', '--root', '.', '--viewpoint', 'overhead'], 'synthetic only'),
])
def test_bad_scene_options_exit_with_one_line(tmp_path, capsys, argv, message):
    status = train.main(['--out', str(tmp_path / 'run'), *argv])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / 'run').exists()
