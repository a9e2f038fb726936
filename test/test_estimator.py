"""HandPoseEstimator: rebuilt from the weights file, every input form, backends within the
accuracy bar of the fp32 torch model on hand crops, auto selection, the model cache."""

import os
import threading
import time

import numpy as np
import pytest
import torch

from crossinfonet_ros.backends import AUTO_RECORD, ModelSource, cache
from crossinfonet_ros.backends.probe import ACCURACY_BAR_MM, joint_deviation, probe_crops
from crossinfonet_ros.camera import Intrinsics
from crossinfonet_ros.codec import crop_hand, denormalize_joints
from crossinfonet_ros.heatmaps import decode_heatmap_confidence
from crossinfonet_ros.estimator import HandPoseEstimator, resolve_device
from crossinfonet_ros.weights import WeightsError, load_weights

torch.set_num_threads(2)


@pytest.fixture(scope='module')
def model(weights):
    return ModelSource(*load_weights(weights)).model()


@pytest.fixture(scope='module')
def estimators(weights):
    return {name: HandPoseEstimator.from_weights(weights, device='cpu', backend=name)
            for name in ('torch', 'onnxruntime', 'onnxruntime-int8x2')}


@pytest.fixture(scope='module')
def hand_crops():
    """Crops of rendered hands (training.synth) when available, else synthetic probe hands."""
    try:
        from training.synth.scene import render_crop
    except ImportError:
        return probe_crops(6, seed=21)[:, 0], np.tile([[0.0, 0.0, 450.0]], (6, 1))
    samples = [render_crop(5, index) for index in range(6)]
    crops = [crop_hand(s.depth_mm, s.center_mm, s.cube_mm, s.intrinsics) for s in samples]
    return np.stack([c.depth for c in crops]), np.stack([c.center_mm for c in crops])


def frame_crop(center_z: float = 420.0):
    """A codec Crop of a synthetic frame: a hand-sized disc in front of a wall."""
    camera = Intrinsics(fx=380.0, fy=380.0, cx=160.0, cy=120.0, width=320, height=240)
    v, u = np.mgrid[:240, :320]
    depth = np.full((240, 320), 900.0)
    disc = (u - 170) ** 2 + (v - 110) ** 2 < 45 ** 2
    depth[disc] = center_z - 20 + 0.1 * (u[disc] - 170)
    return crop_hand(depth, np.array([25.0, -25.0, center_z]), 250.0, camera)


def reference_joints(model, depth: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        x = torch.from_numpy(np.ascontiguousarray(depth[:, None], dtype=np.float32))
        return model(x, outputs='inference').joints.numpy()


def test_from_weights_rebuilds_the_model_exactly(estimators, model, hand_crops):
    depth, centers = hand_crops
    result = estimators['torch'].estimate(depth, centers)
    expected = reference_joints(model, depth).reshape(len(depth), -1, 3)
    assert np.abs(result.joints_normalized - expected).max() < 1e-5
    np.testing.assert_allclose(result.joints_mm,
                               denormalize_joints(result.joints_normalized, centers, 250.0))


def test_properties_come_from_the_weights_file(estimators):
    estimator = estimators['onnxruntime']
    assert estimator.layout.name == 'hands2017'
    assert estimator.joint_names == estimator.layout.joint_names
    assert estimator.cube_mm == 250.0 and estimator.input_size == 96
    assert estimator.backend == 'onnxruntime' and estimator.device == 'cpu'
    assert 'hands2017' in repr(estimator)


@pytest.mark.parametrize('backend', ['torch', 'onnxruntime', 'onnxruntime-int8x2'])
def test_single_crop_equals_the_same_crop_in_a_batch(estimators, backend):
    crops = [frame_crop(400.0), frame_crop(420.0), frame_crop(450.0)]
    single = estimators[backend].estimate(crops[1])
    batch = estimators[backend].estimate(crops)
    assert single.joints_mm.shape == (1, 21, 3) and batch.joints_mm.shape == (3, 21, 3)
    np.testing.assert_allclose(single.joints_mm[0], batch.joints_mm[1], atol=1e-3)
    np.testing.assert_allclose(single.confidence[0], batch.confidence[1], atol=1e-5)


def test_an_entry_of_a_batch_is_that_crop_alone(estimators):
    crops = [frame_crop(400.0), frame_crop(420.0), frame_crop(450.0)]
    batch = estimators['torch'].estimate(crops)
    for index in (1, -1):
        entry = batch.entry(index)
        assert len(entry) == 1
        np.testing.assert_array_equal(entry.joints_mm[0], batch.joints_mm[index])
        np.testing.assert_array_equal(entry.confidence[0], batch.confidence[index])
        np.testing.assert_array_equal(entry.heatmaps[0], batch.heatmaps[index])
    with pytest.raises(IndexError):
        batch.entry(3)


def test_crop_objects_and_raw_arrays_give_the_same_result(estimators):
    crop = frame_crop()
    from_crop = estimators['torch'].estimate(crop)
    from_array = estimators['torch'].estimate(crop.depth, crop.center_mm, crop.cube_mm)
    from_4d = estimators['torch'].estimate(crop.depth[None, None], crop.center_mm[None])
    for other in (from_array, from_4d):
        np.testing.assert_allclose(other.joints_mm, from_crop.joints_mm)
    # Joints live around the crop centre, in mm (cube 250: within +-125 mm per axis + slack).
    assert np.abs(from_crop.joints_mm - crop.center_mm).max() < 1000


def test_confidence_is_the_codec_decode_of_the_heatmaps(estimators, hand_crops):
    depth, centers = hand_crops
    result = estimators['onnxruntime'].estimate(depth, centers)
    assert result.confidence.shape == (len(depth), 21)
    assert result.confidence.dtype == np.float32
    assert np.all((result.confidence >= 0) & (result.confidence <= 1))
    np.testing.assert_array_equal(result.confidence, decode_heatmap_confidence(result.heatmaps))
    assert result.heatmaps.shape == (len(depth), 21, 24, 24)
    assert set(result.timings) == {'prepare_ms', 'network_ms', 'decode_ms', 'total_ms'}


@pytest.mark.parametrize('backend, bar_mm', [('onnxruntime', 0.001),
                                             ('onnxruntime-int8x2', ACCURACY_BAR_MM)])
def test_backends_stay_within_the_accuracy_bar_on_hand_crops(estimators, model, hand_crops,
                                                             backend, bar_mm):
    depth, centers = hand_crops
    result = estimators[backend].estimate(depth, centers)
    deviation = joint_deviation(reference_joints(model, depth),
                                result.joints_normalized.reshape(len(depth), -1), 250.0)
    assert deviation['mean_mm'] < bar_mm, deviation
    assert deviation['relative'] < 0.01, deviation  # also small against the output spread


def test_auto_times_the_accurate_cpu_backends_once_and_keeps_the_faster(weights):
    assert resolve_device('auto') == ('cuda:0' if torch.cuda.is_available() else 'cpu')
    key = ModelSource(*load_weights(weights)).key
    (cache.entry_dir(key) / AUTO_RECORD).unlink(missing_ok=True)
    chosen = HandPoseEstimator.from_weights(weights, device='cpu').backend
    record = cache.read_record(key, AUTO_RECORD)
    int8 = cache.read_record(key, 'int8.json')  # random weights sit near int8's bar
    assert set(record['batch1_ms']) == {'onnxruntime', 'onnxruntime-int8x2'} | (
        {'onnxruntime-int8'} if int8['passed'] else set())
    assert chosen == record['choice'] == min(record['batch1_ms'], key=record['batch1_ms'].get)
    for choice in ('onnxruntime', 'onnxruntime-int8x2'):  # later starts follow the record
        cache.write_record(key, AUTO_RECORD, {**record, 'choice': choice})
        assert HandPoseEstimator.from_weights(weights, device='cpu').backend == choice


def test_a_failed_accuracy_record_keeps_auto_off_the_fast_path(weights):
    source = ModelSource(*load_weights(weights))
    record = cache.read_record(source.key, 'int8x2.json')
    cache.write_record(source.key, AUTO_RECORD, {'choice': 'onnxruntime-int8x2'})
    try:
        cache.write_record(source.key, 'int8x2.json',
                           {**record, 'mean_mm': 0.5, 'passed': False})
        chosen = HandPoseEstimator.from_weights(weights, 'cpu').backend
        int8 = cache.read_record(source.key, 'int8.json')  # the next candidate, if accurate
        assert chosen == ('onnxruntime-int8' if int8 and int8['passed'] else 'onnxruntime')
        with pytest.raises(ValueError, match='deviates 0.500 mm'):
            HandPoseEstimator.from_weights(weights, 'cpu', backend='onnxruntime-int8x2')
    finally:
        cache.write_record(source.key, 'int8x2.json', record)


def test_threads_set_torchs_threads_for_the_torch_backend(weights):
    before = torch.get_num_threads()
    try:
        HandPoseEstimator.from_weights(weights, 'cpu', 'torch', threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize('kwargs, message', [
    ({'device': 'tpu'}, "device must be 'auto', 'cpu'"),
    ({'backend': 'tensorrt'}, 'unknown backend'),
])
def test_bad_device_or_backend_is_rejected(weights, kwargs, message):
    with pytest.raises(ValueError, match=message):
        HandPoseEstimator.from_weights(weights, **kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the no-CUDA message')
def test_cuda_without_cuda_says_so():
    with pytest.raises(ValueError, match='CUDA is not available'):
        resolve_device('cuda:0')


def test_bad_weights_file_reaches_the_caller_as_weights_error(tmp_path):
    bad = tmp_path / 'model.pt'
    bad.write_bytes(b'PK\x03\x04 not weights')
    with pytest.raises(WeightsError, match='model.pt'):
        HandPoseEstimator.from_weights(bad)


@pytest.mark.parametrize('args, message', [
    ((np.zeros((2, 96, 96), np.float32),), 'need centers_mm'),
    ((np.zeros((2, 64, 64), np.float32), np.zeros((2, 3))), r'\(N, 96, 96\)'),
    ((np.full((1, 96, 96), 400.0, np.float32), np.zeros(3)), 'normalised to'),
    ((np.full((1, 96, 96), np.nan, np.float32), np.zeros(3)), 'NaN'),
    ((np.zeros((2, 96, 96), np.float32), np.zeros((3, 3))), 'need centers_mm'),
    (('crop',), 'takes a Crop'),
])
def test_bad_crop_input_is_rejected(estimators, args, message):
    with pytest.raises(ValueError, match=message):
        estimators['torch'].estimate(*args)


def test_an_empty_batch_gives_empty_results(estimators):
    result = estimators['onnxruntime'].estimate([])
    assert result.joints_mm.shape == (0, 21, 3) and result.confidence.shape == (0, 21)


def test_the_cache_survives_concurrent_builders(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    payload = bytes(range(256)) * 4096
    results, calls = [], []
    barrier = threading.Barrier(4)

    def build() -> bytes:
        calls.append(1)
        barrier.wait(timeout=10)  # all four build at the same time
        return payload

    def worker():
        results.append(cache.cached_file('k', 'model.onnx', build).read_bytes())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert len(calls) == 4 and results == [payload] * 4
    entry = cache.entry_dir('k')
    assert [p.name for p in entry.iterdir()] == ['model.onnx']  # no temp files left
    # A second call finds the file and does not build.
    assert cache.cached_file('k', 'model.onnx', lambda: b'other').read_bytes() == payload


def test_old_cache_entries_are_pruned_and_an_unwritable_cache_falls_back(tmp_path,
                                                                         monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    old, recent = tmp_path / 'old-entry', tmp_path / 'recent-entry'
    for folder, age_days in ((old, cache.MAX_AGE_DAYS + 1), (recent, 1)):
        folder.mkdir()
        stamp = time.time() - age_days * 86400
        os.utime(folder, (stamp, stamp))
    assert cache.entry_dir('new').is_dir()
    assert not old.exists() and recent.exists()
    blocker = tmp_path / 'a-file'
    blocker.write_text('not a folder')
    monkeypatch.setenv(cache.CACHE_ENV, str(blocker))
    monkeypatch.setattr(cache, '_fallback_root', tmp_path / 'fallback')  # not a real /tmp dir
    fallback = cache.cached_file('k', 'x.bin', lambda: b'data')
    assert fallback.read_bytes() == b'data' and blocker.read_text() == 'not a folder'
    assert (tmp_path / 'fallback') in fallback.parents
