"""Restarts and changes mid-stream, over real DDS against the installed node process.

(a) the node killed with SIGKILL and started again while a camera process keeps streaming
answers again (time from process start to the first HandPose is measured and printed; on this
shared 2-core machine it is not asserted against the 2 s goal, only bounded);
(b) the camera process killed and a new one started is picked up by the same node process;
(c) camera info changing resolution and focal length mid-stream is followed from the next frame,
and a frame whose size does not match its camera info is rejected with a warning, not processed.
"""

import re
import signal
import time

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy', reason='rclpy comes with `make test` set-up')

import crossinfonet_ros  # noqa: E402
from crossinfonet_ros.node.params import find_shipped_weights  # noqa: E402

from node_process import Probe, start_camera, start_test_node, stop  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]
START_TIMEOUT_S = 90.0  # a first start may export and probe the ONNX backends
RESTART_BOUND_S = 30.0  # generous bound on a restart with a warm cache (goal: 2 s, not asserted)


@pytest.fixture
def probe():
    rclpy.init()
    probe = Probe()
    yield probe
    probe.destroy()
    rclpy.shutdown()


def _first_answer_after(probe, wall_ns, timeout, alive):
    found = probe.spin_until(lambda: probe.answers_after(wall_ns), timeout, alive)
    return probe.answers_after(wall_ns)[0][0] if found else None


def test_killed_node_answers_again_after_restart(probe, tmp_path, weights):
    # The installed configuration: shipped weights (else the test weights), hand.yaml's backend
    # and the model cache already filled by the first start, as after any earlier run.
    used = find_shipped_weights(crossinfonet_ros.__path__) or weights
    log = tmp_path / 'node.log'
    camera = start_camera('--frames', '30')
    node = start_test_node(used, log=log, backend=None)
    try:
        assert _first_answer_after(probe, 0, START_TIMEOUT_S, (node, camera)) is not None, \
            log.read_text()
        node.send_signal(signal.SIGKILL)
        node.wait(timeout=5)
        killed_ns = time.time_ns()
        probe.spin_until(lambda: False, 0.5, (camera,))  # answers in flight arrive
        log_again = tmp_path / 'node_again.log'
        started = time.monotonic()
        started_ns = time.time_ns()
        node = start_test_node(used, log=log_again, backend=None)
        first = _first_answer_after(probe, max(killed_ns, started_ns), RESTART_BOUND_S,
                                    (node, camera))
        assert first is not None, log_again.read_text()
        ready = re.search(r'\[(\d+\.\d+)\] \[hand_pose_node\]: ready', log_again.read_text())
        to_ready = float(ready.group(1)) - started_ns * 1e-9 if ready else float('nan')
        print(f'\nrestart: process start -> first HandPose {first - started:.2f} s '
              f'(-> ready log {to_ready:.2f} s; goal 2 s)')
        # Answers keep coming after the restart, not just one.
        assert probe.spin_until(lambda: len(probe.answers_after(started_ns)) >= 10, 10.0,
                                (node, camera))
    finally:
        stop(camera)
        stop(node)


def test_camera_driver_restart_is_picked_up_without_node_restart(probe, tmp_path, weights):
    log = tmp_path / 'node.log'
    node = start_test_node(weights, log=log)
    camera = start_camera('--frames', '10')
    try:
        assert _first_answer_after(probe, 0, START_TIMEOUT_S, (node, camera)) is not None, \
            log.read_text()
        camera.send_signal(signal.SIGKILL)  # the driver dies without saying goodbye
        camera.wait(timeout=5)
        probe.spin_until(lambda: False, 1.0, (node,))
        restarted_ns = time.time_ns()
        camera = start_camera('--frames', '10', '--seed', '8')
        assert probe.spin_until(lambda: len(probe.answers_after(restarted_ns)) >= 10, 30.0,
                                (node, camera)), log.read_text()
        assert node.poll() is None
    finally:
        stop(camera)
        stop(node)


def test_camera_info_change_is_followed_and_mismatched_frames_rejected(probe, tmp_path,
                                                                        weights):
    from bench.stream_publisher import StreamPublisher, camera_info, render_loop
    log = tmp_path / 'node.log'
    # No refinement: the crop centre is then where the segmented hand back-projects with the
    # camera's intrinsics, whatever the (random-init) network predicts. One side: a random
    # network cannot tell them apart, and auto would pick among twice the crops by its guess.
    # No hand-or-not check: with random-init weights it refused 6 of 7 frames here (the kept
    # crop is re-centred on the random network's palm), and this test needs detections.
    node = start_test_node(weights, 'refine_passes:=0', 'handedness:=right',
                           'hand_classifier:=none', log=log)
    full, half = render_loop(5, 8, 10.0), render_loop(5, 8, 10.0, scale=0.5)
    assert (half[0].intrinsics.width, half[0].intrinsics.fx) != \
        (full[0].intrinsics.width, full[0].intrinsics.fx)
    stream = StreamPublisher(probe.node, full)

    def send(index, timeout=5.0):
        stamp, _ = stream.publish(index)
        probe.spin_until(lambda: stamp in probe.poses, timeout, (node,))
        return probe.poses.get(stamp, (None, None))[1]

    def centre_error_mm(pose, frame):
        centre = np.array([pose.crop_center.x, pose.crop_center.y, pose.crop_center.z])
        return float(np.linalg.norm(centre * 1000.0 - frame.center_mm))

    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while send(0, 0.5) is None:
            assert time.monotonic() < deadline, log.read_text()
        full_errors = [centre_error_mm(p, full[i]) for i in range(1, len(full))
                       if (p := send(i)) is not None and p.detected]
        assert len(full_errors) >= 5
        stream.frames = half  # the camera switches to 320x240 with half the focal length
        half_answers = [(i, send(i)) for i in range(len(half))]
        assert all(p is not None for _, p in half_answers), 'a frame after the change was lost'
        half_errors = [centre_error_mm(p, half[i]) for i, p in half_answers if p.detected]
        assert len(half_errors) >= 5
        # With the old camera's intrinsics the centre would be off by 100-300 mm.
        assert np.median(half_errors) < max(60.0, np.median(full_errors) + 30.0), \
            (full_errors, half_errors)

        # A 320x240 frame whose camera info (same stamp) still says 640x480: rejected.
        from sensor_msgs.msg import Image
        bad_stamp = divmod(time.time_ns(), 10**9)
        image = Image(**half[0].image)
        image.header.stamp.sec, image.header.stamp.nanosec = bad_stamp
        stream.info_pub.publish(camera_info(full[0].intrinsics, bad_stamp))
        stream.image_pub.publish(image)
        # (Publishers keep one sample: give it time to arrive before the next frame.)
        probe.spin_until(lambda: 'dropping depth image' in log.read_text(), 10.0, (node,))
        assert send(1) is not None, 'the node stopped answering after a mismatched frame'
        assert bad_stamp not in probe.poses
    finally:
        stop(node)
    output = log.read_text()
    assert 'dropping depth image: it is 320x240, the camera info says 640x480' in output, output
    assert 'Traceback' not in output
