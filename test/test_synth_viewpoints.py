"""Renderer viewpoints: third person unchanged to the byte, the geometry of egocentric and
overhead scenes, mixtures drawn from their own stream, and the renderer CLI switches."""

from dataclasses import replace

import numpy as np
import pytest

from training.synth import stream_frames
from training.synth.__main__ import parse_args
from training.synth.clutter import TAG_BACKGROUND
from training.synth.placement import forearm_frame, palm_center
from training.synth.scene import SynthConfig, render_crop, render_frame, sample_scene
from training.synth.viewpoints import (DORSAL, RADIAL, draw_viewpoint, facing_roll,
                                       parse_viewpoint_mix)

from render_digest import render_digest

# Digests of renders made by the renderer before viewpoints existed (commit 0ca9f01): the
# third-person data, and so the shipped weights' training distribution, must not move.
FROZEN = {'frames': '46e5c2f50155ceca', 'crops': 'b74634ca162e9a37',
          'left': '8f9184d95c3a7572', 'stream': '89ed51c23562eec6'}
SCENES = 120  # scenes per geometry check (drawing a scene does not render it)


def _dorsal(joints: np.ndarray) -> np.ndarray:
    """Back-of-hand normal of a right hand from its joints: distal x radial (hand frame z)."""
    distal, radial = joints[3] - joints[0], joints[2] - joints[5]
    normal = np.cross(distal, radial)
    return normal / np.linalg.norm(normal)


def _toward_camera(point: np.ndarray) -> np.ndarray:
    return -point / np.linalg.norm(point)


@pytest.mark.parametrize('config', [SynthConfig(), SynthConfig(viewpoint_mix=(
    ('third_person', 1.0), ('egocentric', 0.0)))], ids=['default', 'mix_of_one'])
def test_third_person_renders_are_byte_identical_to_the_frozen_ones(config):
    assert render_digest([render_frame(3, i, config) for i in range(3)]) == FROZEN['frames']
    assert render_digest([render_crop(3, i, config) for i in range(6)]) == FROZEN['crops']
    assert render_digest([render_crop(5, i, replace(config, left_hand_prob=0.5))
                    for i in range(6)]) == FROZEN['left']
    assert render_digest(sample for _, sample in stream_frames(2, 4, 30.0, config)) == \
        FROZEN['stream']


def test_egocentric_forearm_comes_from_the_camera_and_shows_the_back_of_the_hand():
    config = SynthConfig(viewpoint='egocentric')
    nearer, facing, rows, depths = [], [], [], []
    for index in range(SCENES):
        scene = sample_scene(11, index, config)
        joints, palm = scene.hand.joints_mm, palm_center(scene.hand.joints_mm)
        assert scene.viewpoint == 'egocentric'
        nearer.append(0.0 < scene.hand.elbow_mm[2] < joints[0, 2])
        facing.append(_dorsal(joints) @ _toward_camera(palm) > 0.0)
        rows.append(config.intrinsics.project(palm)[1] / config.intrinsics.height)
        depths.append(palm[2])
    assert all(nearer)
    assert np.mean(facing) >= 0.85
    assert min(rows) >= 0.45  # the lower part of the image
    assert 200.0 <= min(depths) and max(depths) <= 620.0  # kept in front: up to ~20 mm more


def test_third_person_is_not_egocentric():
    # The checks above fail on the original viewpoint: its elbow is mostly behind the hand.
    scenes = [sample_scene(11, index, SynthConfig()) for index in range(SCENES)]
    assert np.mean([s.hand.elbow_mm[2] < s.hand.joints_mm[0, 2] for s in scenes]) < 0.3
    assert np.mean([_dorsal(s.hand.joints_mm) @ _toward_camera(s.center_mm) > 0
                    for s in scenes]) < 0.7


def test_overhead_has_a_table_behind_the_hand_and_a_level_forearm():
    config = SynthConfig(viewpoint='overhead')
    table_depths, facing = [], []
    for index in range(SCENES):
        scene = sample_scene(11, index, config)
        joints, palm = scene.hand.joints_mm, palm_center(scene.hand.joints_mm)
        planes = scene.clutter.static.planes
        assert np.all(scene.clutter.static.plane_tags == TAG_BACKGROUND)
        ray = palm / np.linalg.norm(palm)
        tables = planes[planes[:, 2] < -np.cos(np.radians(35.0))]  # facing the camera
        assert len(tables) >= 1
        depths = tables[:, 3] / (tables[:, :3] @ ray) * ray[2]  # along the palm's ray
        normal, offset = tables[np.argmin(depths), :3], tables[np.argmin(depths), 3]
        assert np.all(np.vstack([joints, scene.hand.elbow_mm]) @ normal > offset)  # above it
        table_depths.append(depths.min())
        forearm = (scene.hand.elbow_mm - joints[0]) / np.linalg.norm(
            scene.hand.elbow_mm - joints[0])
        assert abs(forearm[2]) <= np.sin(np.radians(26.0))  # near the image plane
        radial = (joints[2] - joints[5]) / np.linalg.norm(joints[2] - joints[5])
        toward = _toward_camera(palm)
        facing.append(max(_dorsal(joints) @ toward, radial @ toward) > 0.3)  # down or side on
    assert np.mean([300.0 <= depth <= 900.0 for depth in table_depths]) >= 0.95
    assert np.mean(facing) >= 0.8


def test_facing_roll_turns_the_chosen_axis_to_the_target():
    rng = np.random.default_rng(0)
    for _ in range(20):
        elbow = rng.normal(size=3)
        elbow /= np.linalg.norm(elbow)
        target = rng.normal(size=3)
        target /= np.linalg.norm(target)
        for axis in (RADIAL, DORSAL):
            best = forearm_frame(elbow, facing_roll(elbow, target, axis))[:, axis] @ target
            others = [forearm_frame(elbow, roll)[:, axis] @ target
                      for roll in np.linspace(-180, 180, 73)]
            assert best >= max(others) - 1e-9


def test_a_mixture_draws_its_shares_and_keeps_third_person_frames():
    mix = (('third_person', 0.5), ('egocentric', 0.3), ('overhead', 0.2))
    config = SynthConfig(viewpoint_mix=mix)
    drawn = [sample_scene(9, index, config).viewpoint for index in range(300)]
    for name, share in mix:
        assert abs(drawn.count(name) / len(drawn) - share) < 0.1
    index = drawn.index('third_person')
    assert render_crop(9, index, config).depth_mm.tobytes() == \
        render_crop(9, index, SynthConfig()).depth_mm.tobytes()
    other = drawn.index('egocentric')
    assert not np.array_equal(render_crop(9, other, config).joints_mm,
                              render_crop(9, other, SynthConfig()).joints_mm)


def test_bad_viewpoints_are_named():
    with pytest.raises(ValueError, match="unknown viewpoint 'side'"):
        sample_scene(0, 0, SynthConfig(viewpoint='side'))
    with pytest.raises(ValueError, match='positive sum'):
        draw_viewpoint(np.random.SeedSequence(0), 'third_person', (('overhead', 0.0),))
    with pytest.raises(ValueError, match='name=share'):
        parse_viewpoint_mix('overhead:1')
    assert parse_viewpoint_mix('egocentric=1, overhead=3') == \
        (('egocentric', 1.0), ('overhead', 3.0))


def test_renderer_cli_takes_a_viewpoint_or_a_mix(tmp_path, capsys):
    _, config = parse_args(['--out', str(tmp_path / 'a'), '--num', '1', '--viewpoint',
                            'overhead'])
    assert (config.viewpoint, config.viewpoint_mix) == ('overhead', ())
    _, config = parse_args(['--out', str(tmp_path / 'b'), '--num', '1', '--viewpoint-mix',
                            'third_person=1,egocentric=1', '--left-hand-prob', '0.5'])
    assert config.viewpoint_mix == (('third_person', 1.0), ('egocentric', 1.0))
    assert config.left_hand_prob == 0.5
    for argv, message in ((['--viewpoint-mix', 'egocentric'], 'name=share'),
                          (['--viewpoint', 'egocentric', '--stream'], '--stream')):
        with pytest.raises(SystemExit) as exit_info:
            parse_args(['--out', str(tmp_path / 'c'), '--num', '1', *argv])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0]
