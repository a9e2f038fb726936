"""Hand or not: the classifier file, the gate, the pipeline's answer on renders with the shipped
weights, and the checking command."""

import json
from dataclasses import replace

import numpy as np
import pytest

from crossinfonet_ros.codec import Crop
from crossinfonet_ros.estimator import HandPoseEstimator
from crossinfonet_ros.hand_classifier import (TENSORS, HandClassifier, HandClassifierError,
                                              load_classifier, save_classifier)
from crossinfonet_ros.hand_gate import HandGate, gate_from_setting
from crossinfonet_ros.pipeline import HandPosePipeline, PipelineConfig
from crossinfonet_ros.segmentation import HandDetectorConfig, detect_hand_candidates
from training import hand_or_not
from training.synth.scene import SynthConfig, render_frame

from conftest import ROOT, CountingEstimator

WEIGHTS = ROOT / 'crossinfonet_ros' / 'weights' / 'hands2017_synth.safetensors'
CLASSIFIER = ROOT / 'crossinfonet_ros' / 'weights' / 'hand_or_not.safetensors'


def _tensors(seed: int = 0, bias: float = 0.0) -> dict:
    rng = np.random.default_rng(seed)
    tensors = {name: rng.normal(0.0, 0.1, shape).astype(np.float32)
               for name, shape in TENSORS.items()}
    tensors['fc2.bias'][:] = bias
    return tensors


def test_classifier_file_round_trip_and_torch_twin(tmp_path):
    import torch
    from training.train_hand_classifier import build_model
    path = tmp_path / 'c.safetensors'
    save_classifier(path, _tensors(), 250.0, 0.4, dict(note='test'))
    loaded = load_classifier(path)
    assert loaded.threshold == 0.4 and loaded.cube_mm == 250.0
    crops = np.random.default_rng(1).uniform(-1.0, 1.0, (3, 96, 96)).astype(np.float32)
    model = build_model()
    model.load_state_dict({name: torch.from_numpy(v) for name, v in loaded.tensors.items()})
    with torch.no_grad():
        expected = torch.sigmoid(model(torch.from_numpy(crops)[:, None])).numpy()
    assert np.allclose(loaded.probability(crops), expected, atol=1e-5)
    assert np.isclose(loaded.probability(crops[1]), expected[1], atol=1e-5)


def test_bad_classifier_files_are_refused(tmp_path):
    from safetensors.numpy import save_file
    with pytest.raises(HandClassifierError, match='no such file'):
        load_classifier(tmp_path / 'missing.safetensors')
    foreign = tmp_path / 'foreign.safetensors'
    save_file({'x': np.zeros(2, np.float32)}, str(foreign), metadata={'format': 'other'})
    with pytest.raises(HandClassifierError, match="format is 'other'"):
        load_classifier(foreign)
    misshapen = tmp_path / 'misshapen.safetensors'
    tensors = _tensors()
    tensors['fc1.weight'] = np.zeros((32, 10), np.float32)
    save_file(tensors, str(misshapen), metadata={'format': 'crossinfonet_ros.hand_classifier/1',
                                                 'threshold': '0.5', 'cube_mm': '250'})
    with pytest.raises(HandClassifierError, match='do not fit'):
        load_classifier(misshapen)
    garbage = tmp_path / 'garbage.safetensors'
    garbage.write_bytes(b'\x00' * 20)
    with pytest.raises(HandClassifierError, match='unreadable'):
        load_classifier(garbage)


def test_gate_answers_with_the_bar_it_is_given():
    crop = Crop(np.ones((96, 96), np.float32), np.array([0.0, 0.0, 500.0]), 250.0, np.eye(3),
                (0, 0, 96, 96))
    sure_not = HandClassifier(_tensors(bias=-3.0), 250.0, 0.4)
    probability, reason = HandGate(sure_not).check(crop)
    assert probability < 0.4 and reason == f'not a hand (score {probability:.2f} < 0.40)'
    assert HandGate(sure_not, threshold=probability / 2).check(crop)[1] == ''
    assert HandGate().check(crop)[1] == '' and HandGate().bar == 0.0
    with pytest.raises(ValueError, match='hand threshold must be in'):
        HandGate(sure_not, threshold=1.0)


def test_gate_from_node_settings(tmp_path):
    assert gate_from_setting('none', 0.0, None, 250.0).classifier is None
    with pytest.raises(ValueError, match='no hand classifier'):
        gate_from_setting('', 0.0, None, 250.0)
    with pytest.raises(ValueError, match='trained on 250 mm crops; the pipeline cuts 200 mm'):
        gate_from_setting('', 0.0, CLASSIFIER, 200.0)
    assert gate_from_setting(str(CLASSIFIER), 0.7, None, 250.0).bar == 0.7


@pytest.fixture(scope='module')
def pipeline():
    estimator = HandPoseEstimator.from_weights(WEIGHTS)
    return HandPosePipeline(estimator, PipelineConfig(
        HandDetectorConfig(cube_mm=estimator.cube_mm), tracking=False, handedness='auto',
        hand_gate=gate_from_setting('', 0.0, CLASSIFIER, estimator.cube_mm)))


def _answers(pipeline, config: SynthConfig, count: int) -> list:
    results = []
    for index in range(count):
        sample = render_frame(31, index, config)  # seed 31: neither trained nor calibrated on
        results.append(pipeline.process(sample.depth_mm, sample.intrinsics, 0.0))
    return results


def test_no_hand_renders_answer_not_detected_and_hands_are_found(pipeline):
    no_hands = _answers(pipeline, SynthConfig(no_hand_prob=1.0), 6)
    hands = _answers(pipeline, SynthConfig(), 6)
    assert sum(not result.detected for result in no_hands) >= 5
    rejected = [result for result in no_hands if result.reason.startswith('not a hand')]
    assert rejected and all(result.hand_probability < pipeline.config.hand_gate.bar
                            for result in rejected)
    assert sum(result.detected for result in hands) >= 5
    assert all(result.hand_probability >= pipeline.config.hand_gate.bar
               for result in hands if result.detected)


def test_candidates_the_classifier_rules_out_run_as_one_side_only(pipeline):
    counting = CountingEstimator(pipeline.estimator)
    cut = HandPosePipeline(counting, pipeline.config)
    every = HandPosePipeline(pipeline.estimator, replace(pipeline.config, candidate_hand_bar=0.0))
    gate, fewer = pipeline.config.hand_gate, 0
    for index in range(4):  # two renders without a hand, two with one
        sample = render_frame(31, index, SynthConfig(no_hand_prob=float(index < 2)))
        candidates = detect_hand_candidates(sample.depth_mm, sample.intrinsics,
                                            cut.config.detector, cut.config.max_candidates)
        crops, _ = cut._crops(candidates, sample.depth_mm, sample.intrinsics,
                              dict(crop=0.0), ('right', 'left'))
        likely = {id(d) for d, _, crop in crops
                  if gate.probability(crop.depth) >= cut.config.candidate_hand_bar}
        expected = sum(2 if key in likely else 1 for key in {id(d) for d, _, _ in crops})
        counting.batches.clear()
        ours = cut.process(sample.depth_mm, sample.intrinsics, 0.0)
        assert counting.batches[0] == expected  # the candidates' batch
        fewer += len(crops) - expected
        theirs = every.process(sample.depth_mm, sample.intrinsics, 0.0)
        assert ours.detected == theirs.detected
    assert fewer > 0, 'no candidate was ruled out: the check checked nothing'


def test_a_track_the_gate_refuses_is_detected_afresh_without_its_network_run(pipeline):
    counting = CountingEstimator(pipeline.estimator)
    config = replace(pipeline.config, tracking=True, handedness='right', refine_passes=0)
    track = HandPosePipeline(counting, config)
    sample = render_frame(31, 0, SynthConfig())
    assert track.process(sample.depth_mm, sample.intrinsics, 0.0).detected
    assert track.holds_hand  # the same frame again: the track finds its hand where it was
    # The same classifier with a bar no crop reaches: the tracked crop is refused unseen.
    track.config = replace(config, hand_gate=HandGate(config.hand_gate.classifier, 0.9999))
    counting.batches.clear()
    result = track.process(sample.depth_mm, sample.intrinsics, 1 / 30)
    candidates = detect_hand_candidates(sample.depth_mm, sample.intrinsics, config.detector,
                                        config.max_candidates)
    assert counting.batches == [len(candidates)]  # the candidates only, in one run
    assert not result.detected and result.reason.startswith('not a hand')


def _rows(set_name, probabilities):
    return [dict(set=set_name, name=f'{set_name}/{i}', detected=bool(p >= 0.5), found=True,
                 hand_probability=float(p), hand_score=0.5, reason='')
            for i, p in enumerate(probabilities)]


def test_shares_at_the_measured_and_at_another_bar(tmp_path, capsys):
    rows = _rows('hand', [0.9, 0.8, 0.6, 0.45]) + _rows('no_hand', [0.1, 0.2, 0.55, 0.3])
    assert hand_or_not.shares(rows)['hand']['correct'] == 0.75
    assert hand_or_not.shares(rows)['no_hand']['correct'] == 0.75
    assert hand_or_not.shares(rows, 0.4)['hand']['correct'] == 1.0
    path = tmp_path / 'rows.json'
    path.write_text(json.dumps(dict(seed=1, rows=rows)))
    assert hand_or_not.main(['--features', str(path), '--threshold', '0.58']) == 0
    assert json.loads(capsys.readouterr().out)['no_hand']['correct'] == 1.0


@pytest.mark.parametrize('argv, words', [
    (['--sets', 'hand,cats'], '--sets must name some of'),
    (['--features', 'missing.json'], 'no such file'),
    (['--threshold', '1.5', '--features', 'x'], '--threshold must be in'),
    ([], 'give --weights'),
    (['--weights', str(WEIGHTS), '--classifier', 'nope.safetensors', '--num', '1'],
     'no such file'),
])
def test_checking_command_refuses_bad_input_in_one_line(argv, words, capsys):
    assert hand_or_not.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and '\n' not in err
