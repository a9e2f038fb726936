"""handedness auto: a new track's side voted on over its first frames (both sides through the
network, surface fits summed), on rendered moving-hand streams and the shipped weights."""

import json

import numpy as np
import pytest

from crossinfonet_ros.estimator import HandPoseEstimator
from crossinfonet_ros.pipeline import (SIDE_VOTE_MIN_FRAMES, HandPosePipeline,
                                       PipelineConfig)
from crossinfonet_ros.segmentation import HandDetectorConfig
from training import evaluate
from training.synth.motion import stream_frames
from training.synth.scene import SynthConfig

from conftest import ROOT, CountingEstimator

WEIGHTS = ROOT / 'crossinfonet_ros' / 'weights' / 'hands2017_synth.safetensors'


@pytest.fixture(scope='module')
def estimator():
    return HandPoseEstimator.from_weights(WEIGHTS, backend='onnxruntime')


def _pipeline(estimator, votes: int, margin_mm: float = 0.0) -> HandPosePipeline:
    return HandPosePipeline(estimator, PipelineConfig(
        HandDetectorConfig(cube_mm=estimator.cube_mm), handedness='auto',
        side_vote_frames=votes, side_vote_margin_mm=margin_mm))


def _stream(seed: int, frames: int, left: bool):
    return list(stream_frames(seed, frames, 30.0, SynthConfig(left_hand_prob=float(left))))


def test_a_young_track_runs_both_sides_until_its_vote_ends(estimator):
    counting = CountingEstimator(estimator)
    pipeline = _pipeline(counting, votes=4)
    tracked_batches = []
    for time_s, sample in _stream(3, 8, left=False):
        counting.batches.clear()
        result = pipeline.process(sample.depth_mm, sample.intrinsics, time_s)
        assert result.detected
        if result.tracked:
            tracked_batches.append(list(counting.batches))
    # The fresh detection votes once; three tracked frames more, then one side per frame.
    assert tracked_batches[:3] == [[2]] * 3 and tracked_batches[3:] == [[1]] * 4
    once = _pipeline(CountingEstimator(estimator), votes=1)
    for time_s, sample in _stream(3, 3, left=False):
        once.estimator.batches.clear()
        if once.process(sample.depth_mm, sample.intrinsics, time_s).tracked:
            assert once.estimator.batches == [1]


def test_votes_are_a_frame_time_apart_at_60_hz_and_keep_their_count(estimator):
    def tracked_batches(stamps):
        counting = CountingEstimator(estimator)
        pipeline = _pipeline(counting, votes=3)
        batches = []
        for time_s, (_, sample) in zip(stamps, _stream(3, len(stamps), left=False)):
            counting.batches.clear()
            result = pipeline.process(sample.depth_mm, sample.intrinsics, time_s)
            assert result.detected
            if result.tracked:
                batches.append(list(counting.batches))
        return batches

    # The fresh detection votes at 0 s; then every other frame (>= 30 ms on) until three.
    assert tracked_batches([i / 60.0 for i in range(9)]) == \
        [[1], [2], [1], [2]] + [[1]] * 4
    # Stamps going back (a bag played again) vote at once.
    assert tracked_batches([1.0 - i / 60.0 for i in range(5)]) == [[2], [2], [1], [1]]


def test_a_vote_clear_by_its_margin_ends_after_its_first_frames(estimator):
    def tracked_batches(margin_mm, frames):
        counting = CountingEstimator(estimator)
        pipeline = _pipeline(counting, votes=30, margin_mm=margin_mm)
        batches = []
        for time_s, sample in _stream(3, frames, left=False):
            counting.batches.clear()
            if pipeline.process(sample.depth_mm, sample.intrinsics, time_s).tracked:
                batches.append(list(counting.batches))
        return batches, pipeline.side_evidence_mm

    batches, evidence = tracked_batches(0.0, frames=9)  # no margin: every frame votes
    assert batches == [[2]] * 8 and evidence != 0.0
    # Half the nine votes' sum is reached by the ninth vote at the latest, never before the
    # fifth: the first single-side frame follows.
    batches, _ = tracked_batches(abs(evidence) / 2, frames=10)
    first_single = batches.index([1])
    assert SIDE_VOTE_MIN_FRAMES - 1 <= first_single <= 8
    assert batches == [[2]] * first_single + [[1]] * (9 - first_single)


def test_a_second_hand_ends_the_vote_and_its_side_is_kept(estimator):
    counting = CountingEstimator(estimator)
    pipeline = _pipeline(counting, votes=10)
    frames = _stream(4, 4, left=True)
    pipeline.process(frames[0][1].depth_mm, frames[0][1].intrinsics, 0.0)
    side = pipeline.side
    for time_s, sample in frames[1:]:
        counting.batches.clear()
        other = 'left' if side == 'right' else 'right'
        result = pipeline.process(sample.depth_mm, sample.intrinsics, time_s, new_side=other)
        assert result.handedness == side
    assert counting.batches == [1]  # the vote ended on the first frame with the other hand


def test_the_vote_decides_the_side_of_more_frames_than_one_detection(tmp_path):
    # Unseen stream seeds, 2 streams of 30 frames per side, tracked with the detector.
    args = ['--weights', str(WEIGHTS), '--seed', '700', '--num', '120', '--stream', '30',
            '--hand', 'both', '--handedness', 'auto', '--backend', 'onnxruntime-int8']
    shares = {}
    for votes in (1, 30):
        out = tmp_path / f'votes{votes}.json'
        assert evaluate.main(args + ['--side-vote-frames', str(votes), '--json', str(out)]) == 0
        summary = json.loads(out.read_text())
        assert summary['center'].startswith('detect') and summary['stream'] == 30
        shares[votes] = np.mean([summary['per_side'][side]['handedness_accuracy']
                                 for side in ('right', 'left')])
    assert shares[30] >= shares[1] + 0.05 and shares[30] >= 0.85, shares  # 0.75 -> 0.88


@pytest.mark.parametrize('argv, words', [
    (['--side-vote-frames', '0'], '--side-vote-frames must be >= 1'),
    (['--stream', '10', '--center', 'given'], '--stream needs'),
    (['--stream', '10', '--scene', 'egocentric'], '--stream needs'),
])
def test_evaluate_refuses_bad_vote_and_stream_options(argv, words, capsys):
    assert evaluate.main(['--weights', str(WEIGHTS), '--num', '2'] + argv) == 2
    assert words in capsys.readouterr().err
