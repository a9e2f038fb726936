"""Writers and command line of the renderer (python -m training.synth)."""

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_typestore

from crossinfonet_ros.camera import D435_640X480
from training.datasets.hands2017 import HANDS2017_INTRINSICS, Hands2017Dataset
from training.synth.__main__ import main, parse_args
from training.synth.motion import stream_frames
from training.synth.scene import SynthConfig, render_frame
from training.synth.writers import (DEPTH_TOPIC, FRAME_ID, INFO_TOPIC, JOINTS_TOPIC,
                                    write_hands2017)

REPO = Path(__file__).resolve().parents[1]


def _files(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob('*'))
            if p.is_file()}


def test_hands2017_output_reads_back_with_the_dataset_loader(tmp_path):
    assert main(['--out', str(tmp_path / 'a'), '--num', '4', '--seed', '5']) == 0
    dataset = Hands2017Dataset(tmp_path / 'a')
    assert len(dataset) == 4 and dataset.intrinsics == HANDS2017_INTRINSICS
    for index in range(4):
        expected = render_frame(5, index, SynthConfig(intrinsics=HANDS2017_INTRINSICS))
        sample = dataset[index]
        assert np.abs(sample.joints_mm - expected.joints_mm).max() < 0.5
        assert np.array_equal(sample.depth_mm, expected.depth_mm)
    image = cv2.imread(str(tmp_path / 'a/training/images/image_D00000001.png'),
                       cv2.IMREAD_UNCHANGED)
    assert image.dtype == np.uint16 and image.shape == (480, 640)
    camera = json.loads((tmp_path / 'a/training/intrinsics.json').read_text())
    assert camera['fx'] == pytest.approx(475.065948) and camera['width'] == 640


def test_same_seed_writes_identical_files(tmp_path):
    for name in ('a', 'b'):
        assert main(['--out', str(tmp_path / name), '--num', '3', '--seed', '2',
                     '--no-clutter', '--width', '320', '--height', '240', '--cx', '160',
                     '--cy', '120']) == 0
    first, second = _files(tmp_path / 'a'), _files(tmp_path / 'b')
    assert first == second and len(first) == 5
    assert main(['--out', str(tmp_path / 'c'), '--num', '3', '--seed', '3']) == 0
    assert _files(tmp_path / 'c') != first


def test_mixed_cameras_are_refused(tmp_path):
    frames = [render_frame(0, 0), render_frame(0, 1)]
    frames[1] = replace(frames[1], intrinsics=HANDS2017_INTRINSICS)
    with pytest.raises(ValueError, match='differs from the first frame'):
        write_hands2017(tmp_path, frames)


def test_rosbag2_stream_reads_back_with_types_stamps_and_frames(tmp_path):
    bag = tmp_path / 'bag'
    assert main(['--out', str(bag), '--num', '6', '--seed', '4', '--format', 'rosbag2',
                 '--stream', '--rate', '15', '--start-time', '100.5']) == 0
    typestore = get_typestore(Stores.ROS2_JAZZY)
    expected = list(stream_frames(4, 6, 15.0))
    with Reader(bag) as reader:
        assert {c.topic: (c.msgtype, c.msgcount) for c in reader.connections} == {
            DEPTH_TOPIC: ('sensor_msgs/msg/Image', 6),
            INFO_TOPIC: ('sensor_msgs/msg/CameraInfo', 6),
            JOINTS_TOPIC: ('geometry_msgs/msg/PoseArray', 6)}
        messages = {}
        for connection, timestamp, raw in reader.messages():
            message = typestore.deserialize_cdr(raw, connection.msgtype)
            stamp = message.header.stamp.sec * 10**9 + message.header.stamp.nanosec
            assert stamp == timestamp and message.header.frame_id == FRAME_ID
            messages.setdefault(connection.topic, []).append(message)
    stamps = [m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in messages[DEPTH_TOPIC]]
    assert np.allclose(np.diff(stamps), 1 / 15.0, atol=1e-6) and stamps[0] == pytest.approx(100.5)
    for frame, (image, info, joints) in enumerate(zip(*(messages[t] for t in (
            DEPTH_TOPIC, INFO_TOPIC, JOINTS_TOPIC)))):
        assert (image.encoding, image.width, image.height, image.step) == ('16UC1', 640, 480,
                                                                            1280)
        depth = np.frombuffer(image.data.tobytes(), '<u2').reshape(480, 640)
        assert np.array_equal(depth, expected[frame][1].depth_mm.astype(np.uint16))
        assert np.allclose(info.k, D435_640X480.matrix().ravel())
        assert info.p[0] == D435_640X480.fx and info.p[2] == D435_640X480.cx
        assert info.distortion_model == 'plumb_bob' and not np.any(info.d)
        assert (info.width, info.height) == (640, 480)
        positions = np.array([[p.position.x, p.position.y, p.position.z] for p in joints.poses])
        assert positions.shape == (21, 3)
        assert np.allclose(positions, expected[frame][1].joints_mm / 1000.0)


@pytest.mark.parametrize('arguments, message', [
    (['--num', '0'], '--num must be positive'),
    (['--num', '2', '--seed', '-1'], '--seed must be non-negative'),
    (['--num', '2', '--rate', '0'], '--rate must be positive'),
    (['--num', '2', '--fy', '-3'], 'bad camera'),
    (['--num', 'many'], "invalid int value: 'many'"),
    (['--num', '2', '--format', 'bag'], 'invalid choice'),
    (['--num', '2', '--left-hand-prob', '1.5'], '--left-hand-prob must be in [0, 1]'),
])
def test_bad_arguments_fail_with_one_line(tmp_path, capsys, arguments, message):
    with pytest.raises(SystemExit) as stop:
        main(['--out', str(tmp_path / 'x')] + arguments)
    error = capsys.readouterr().err
    assert stop.value.code != 0 and message in error and error.count('\n') == 1


def test_output_directory_problems_are_named(tmp_path):
    # A missing parent is created (test_out_paths.py); a file in the way or a full folder is not.
    run = [sys.executable, '-m', 'training.synth', '--num', '1', '--out']
    (tmp_path / 'full').mkdir()
    (tmp_path / 'full' / 'file').write_text('x')
    below = subprocess.run(run + [str(tmp_path / 'full' / 'file' / 'x')], cwd=REPO,
                           capture_output=True, text=True)
    assert below.returncode != 0 and 'file, not a directory' in below.stderr
    busy = subprocess.run(run + [str(tmp_path / 'full')], cwd=REPO, capture_output=True,
                          text=True)
    assert busy.returncode != 0 and 'not an empty directory' in busy.stderr
    assert below.stderr.count('\n') == 1 and busy.stderr.count('\n') == 1


def test_left_hands_are_written_when_asked(tmp_path):
    _, config = parse_args(['--out', str(tmp_path / 'x'), '--num', '1',
                               '--left-hand-prob', '1'])
    assert config.left_hand_prob == 1.0 and render_frame(0, 0, config).side == 'left'
