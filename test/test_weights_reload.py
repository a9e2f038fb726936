"""The weights file replaced on disk: reloaded atomically, bad versions rejected.

:class:`~crossinfonet_ros.node.weights_watch.WeightsWatcher` alone (ROS-free), then the node in
this process: its watcher is polled by hand (the node's own 1 s timer does the same when
spinning) and frames go straight to ``HandPoseNode.process``, so no timing is involved.
"""

import os
from pathlib import Path
import shutil
import time

import numpy as np
import pytest

from crossinfonet_ros.backends.probe import random_weights
from crossinfonet_ros.weights import WeightsError, load_weights
from crossinfonet_ros.node.weights_watch import WeightsWatcher, file_signature


def _replace_atomically(path: Path, payload: bytes) -> None:
    temp = path.with_name(path.name + '.tmp')
    temp.write_bytes(payload)
    os.replace(temp, path)


class Recorder:
    """A watcher on ``path`` building with load_weights, recording what it reports."""

    def __init__(self, path: Path) -> None:
        self.ready, self.errors = [], []
        self.watcher = WeightsWatcher(str(path), lambda p: load_weights(p)[1],
                                      self.ready.append, self.errors.append)

    def poll(self, times: int = 2) -> None:
        for _ in range(times):
            self.watcher.poll()
        self.watcher.wait(30)


@pytest.fixture(scope='module')
def two_weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp('weights')
    return (random_weights(folder / 'a.safetensors', seed=1, input_size=32),
            random_weights(folder / 'b.safetensors', seed=2, input_size=32))


def test_signature_changes_with_an_atomic_replace_of_equal_size(tmp_path):
    path = tmp_path / 'w.bin'
    path.write_bytes(b'x' * 10)
    before = file_signature(str(path))
    _replace_atomically(path, b'y' * 10)
    os.utime(path, ns=(before.mtime_ns, before.mtime_ns))
    assert file_signature(str(path)) != before
    assert file_signature(str(tmp_path / 'missing')) is None


def test_unchanged_file_is_never_rebuilt(tmp_path, two_weights):
    path = tmp_path / 'w.safetensors'
    shutil.copy(two_weights[0], path)
    recorder = Recorder(path)
    recorder.poll(3)
    assert recorder.ready == [] and recorder.errors == []


def test_valid_replacement_is_built_once_after_it_settles(tmp_path, two_weights):
    path = tmp_path / 'w.safetensors'
    shutil.copy(two_weights[0], path)
    recorder = Recorder(path)
    _replace_atomically(path, two_weights[1].read_bytes())
    recorder.poll(1)  # seen once: not settled yet
    assert recorder.ready == []
    recorder.poll(3)
    assert len(recorder.ready) == 1 and recorder.errors == []
    assert recorder.ready[0].tensors_sha256 == load_weights(two_weights[1])[1].tensors_sha256


def test_file_written_in_place_is_not_read_until_complete(tmp_path, two_weights):
    path = tmp_path / 'w.safetensors'
    shutil.copy(two_weights[0], path)
    recorder = Recorder(path)
    payload = two_weights[1].read_bytes()
    with open(path, 'wb') as out:  # a writer that does not rename: still growing at each poll
        for start in range(0, len(payload), len(payload) // 4 + 1):
            out.write(payload[start:start + len(payload) // 4 + 1])
            out.flush()
            os.utime(path, ns=(time.time_ns(), time.time_ns() + start + 1))
            recorder.watcher.poll()
            assert not recorder.watcher.busy and recorder.ready == [] and recorder.errors == []
    recorder.poll(2)
    assert len(recorder.ready) == 1 and recorder.errors == []


@pytest.mark.parametrize('damage', ['truncated', 'garbage', 'corrupt checksum', 'deleted'])
def test_bad_replacement_reports_one_error_and_builds_nothing(tmp_path, two_weights, damage):
    path = tmp_path / 'w.safetensors'
    shutil.copy(two_weights[0], path)
    recorder = Recorder(path)
    good = two_weights[1].read_bytes()
    if damage == 'truncated':
        _replace_atomically(path, good[:len(good) // 2])
    elif damage == 'garbage':
        _replace_atomically(path, os.urandom(4096))
    elif damage == 'corrupt checksum':
        _replace_atomically(path, good[:-8] + bytes(b ^ 0xFF for b in good[-8:]))
    else:
        path.unlink()
    recorder.poll(5)
    assert recorder.ready == []
    assert len(recorder.errors) == 1, recorder.errors
    assert str(path) in recorder.errors[0] and 'keeping the loaded model' in recorder.errors[0]
    # Fixed afterwards: the good version is picked up.
    _replace_atomically(path, good)
    recorder.poll(2)
    assert len(recorder.ready) == 1


# --- the node --------------------------------------------------------------------------------
class LogRecorder:
    def __init__(self) -> None:
        self.lines = []

    def __getattr__(self, level):
        return lambda message, **_: self.lines.append((level, message))


@pytest.fixture
def node(tmp_path, weights, monkeypatch):
    rclpy = pytest.importorskip('rclpy', reason='rclpy comes with `make test` set-up')
    from rclpy.parameter import Parameter
    from crossinfonet_ros.node import HandPoseNode
    path = tmp_path / 'live.safetensors'
    shutil.copy(weights, path)
    rclpy.init()
    node = HandPoseNode(parameter_overrides=[
        Parameter('weights', value=str(path)), Parameter('backend', value='torch'),
        Parameter('threads', value=1), Parameter('tracking', value=False),
        Parameter('refine_passes', value=0)])
    log = LogRecorder()
    monkeypatch.setattr(node, 'get_logger', lambda: log)
    node.log = log
    yield node
    node.destroy_node()
    rclpy.shutdown()


def frame_answerer(node):
    """Give the node a rendered frame's camera info; return a function that runs the frame
    through it and returns the joints (metres) of its detected hand."""
    from sensor_msgs.msg import CameraInfo, Image
    from crossinfonet_ros.node.ros_convert import encode_depth
    from training.synth.scene import render_frame
    sample = render_frame(0, 1)
    info = CameraInfo(width=640, height=480)
    info.k = [float(v) for v in sample.intrinsics.matrix().reshape(-1)]
    node._on_camera_info(info)
    image = Image(**encode_depth(sample.depth_mm))

    def answer():
        found = node.process(image, time.monotonic_ns())
        assert found is not None and found.primary.detected
        result = found.primary
        return result.positions_m.copy()
    return answer


@pytest.mark.ros
def test_node_swaps_in_new_weights_and_keeps_the_old_on_a_bad_file(node, tmp_path):
    answer = frame_answerer(node)
    first_model, first = node.estimator, answer()
    path = Path(node.weights_path)
    _replace_atomically(path, random_weights(tmp_path / 'other.safetensors', seed=99)
                        .read_bytes())
    for _ in range(3):
        node.weights_watcher.poll()
    node.weights_watcher.wait(60)
    assert node.estimator is not first_model
    second_model, second = node.estimator, answer()
    assert not np.allclose(first, second, atol=1e-4), 'answers did not change with the weights'
    assert any(level == 'info' and 'weights reloaded' in m for level, m in node.log.lines)

    _replace_atomically(path, path.read_bytes()[:-100])  # truncated
    for _ in range(3):
        node.weights_watcher.poll()
    node.weights_watcher.wait(60)
    errors = [m for level, m in node.log.lines if level == 'error']
    assert len(errors) == 1 and str(path) in errors[0], node.log.lines
    with pytest.raises(WeightsError):
        load_weights(path)
    assert node.estimator is second_model
    np.testing.assert_allclose(answer(), second, atol=1e-6)
