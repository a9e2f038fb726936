"""Scenes without a hand (training/synth/no_hand.py) and the renderer switch that draws them."""

import numpy as np
import pytest

from training.hand_crops import frame_crops
from training.synth.no_hand import KINDS, sample_no_hand
from training.synth.raster import Primitives, render_depth
from training.synth.scene import SynthConfig, render_crop, render_frame, sample_scene
from training.synth.shape import TAG_HAND

from render_digest import render_digest

# render_digest of samples rendered by the code before scenes without a hand existed (grasps
# and viewpoints included): the switch at 0 must leave every sample as it was.
FROZEN_FRAMES = {0: '9e139ca12eb6e167', 1: 'c9f6d686c8a6eea2', 2: 'a07544d704b5804a'}
FROZEN_CROPS = {0: '887ce394b8e3ca3c', 1: '0d7d8432a41e4565', 2: 'cc466034b0d77432'}
NO_HAND = SynthConfig(no_hand_prob=1.0)


def test_default_renders_are_unchanged():
    assert {i: render_digest([render_frame(11, i)]) for i in FROZEN_FRAMES} == FROZEN_FRAMES
    config = SynthConfig(grasp_prob=1.0, left_hand_prob=0.5)
    assert {i: render_digest([render_crop(11, i, config)]) for i in FROZEN_CROPS} == FROZEN_CROPS


def test_no_hand_scenes_have_no_hand_and_keep_the_other_streams():
    for index in range(8):
        scene = sample_scene(21, index, NO_HAND)
        with_hand = sample_scene(21, index, SynthConfig())
        assert not scene.has_hand and with_hand.has_hand
        assert scene.name.split('/')[-1] in KINDS
        # The hand drawn (and left out) is the default one: the switch has its own stream.
        assert np.array_equal(scene.hand.joints_mm, with_hand.hand.joints_mm)
        _, tags = render_depth(scene.hand.primitives, NO_HAND.intrinsics, with_tags=True)
        assert not np.any(tags == TAG_HAND)


def test_no_hand_frames_put_something_in_the_detectors_band():
    with_candidate = 0
    for index in range(6):
        sample = render_frame(22, index, NO_HAND)
        assert not sample.has_hand
        depth = sample.depth_mm
        with_candidate += int(np.count_nonzero((depth > 150.0) & (depth < 1000.0)) > 2000)
    assert with_candidate >= 5


def test_every_kind_is_drawn_and_holds_geometry():
    scene = sample_scene(23, 0, SynthConfig())
    seen = set()
    for draw in range(60):
        kind, stand_in, objects = sample_no_hand(np.random.default_rng(draw),
                                                 scene.hand.joints_mm, scene.hand.elbow_mm)
        seen.add(kind)
        depth, _ = render_depth(Primitives.concatenate([stand_in, objects]),
                                NO_HAND.intrinsics)
        assert np.count_nonzero(depth) > 0, kind
    assert seen == set(KINDS)


@pytest.mark.parametrize('prob', [-0.1, 1.5])
def test_no_hand_prob_outside_0_1_is_refused(prob):
    with pytest.raises(ValueError, match='no_hand_prob must be in'):
        sample_scene(1, 0, SynthConfig(no_hand_prob=prob))


def test_classifier_crops_are_labelled_by_what_they_show():
    rng = np.random.default_rng(0)
    crops, labels = frame_crops(render_frame(24, 0, NO_HAND), rng)
    assert crops and set(labels) == {0}
    crops, labels = frame_crops(render_frame(24, 0, SynthConfig()), rng)
    assert labels[-1] == 1 and all(crop.shape == (96, 96) for crop in crops)
    assert all(np.all(np.abs(crop) <= 1.0) for crop in crops)
