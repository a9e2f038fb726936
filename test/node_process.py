"""The installed hand_pose_node and a camera process as children of a test, plus a probe node.

Test helper (not a test module): wraps bench/stream_publisher.py (which starts the processes)
for the DDS tests. Children inherit this session's ROS domain and Fast DDS profile
(test/conftest.py) and import the source tree first, like the tests.
"""

from pathlib import Path
import signal
import subprocess
import sys
import time
from typing import Callable, Dict, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.stream_publisher import start_node, start_stream_process  # noqa: E402,F401


# Every process started here, so a test that fails half-way leaves no node answering the next
# tests' frames (conftest stops the leftovers after each test).
STARTED: list = []


def stop_leftovers() -> None:
    """Stop every process started here that is still running."""
    while STARTED:
        stop(STARTED.pop())


def start_test_node(weights, *parameters: str, log: Optional[Path] = None,
                    backend: Optional[str] = 'torch',
                    ros_args: Sequence[str] = ()) -> subprocess.Popen:
    """hand_pose_node on ``weights`` (``name:=value`` overrides), one inference thread.

    :param log: file for its output; None = a text pipe (``.stdout``)
    :param backend: inference backend; None = config/hand.yaml's
    :param ros_args: more ROS arguments, e.g. ``('-r', '__ns:=/foo')``
    """
    output = dict(stdout=subprocess.PIPE, text=True) if log is None else \
        dict(stdout=open(log, 'w'))
    chosen = () if backend is None else (f'backend:={backend}',)
    process = start_node(f'weights:={weights}', 'threads:=1', *chosen, *parameters,
                         ros_args=ros_args, stderr=subprocess.STDOUT, **output)
    STARTED.append(process)
    return process


def start_camera(*args: str) -> subprocess.Popen:
    """A camera-driver process (bench/stream_publisher.py); waits until it streams."""
    camera = start_stream_process(*args, stdout=subprocess.PIPE, text=True)
    STARTED.append(camera)
    line = camera.stdout.readline()
    if 'streaming' not in line:
        camera.kill()
        raise RuntimeError(f'the camera process did not start: {line!r}')
    return camera


def stop(process: subprocess.Popen, timeout: float = 5.0) -> None:
    """SIGINT, then SIGKILL if it does not stop in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def interrupt_and_check(child: subprocess.Popen, timeout: float) -> str:
    """SIGINT the node (if still running) and assert it exits 0 within ``timeout`` s, with no
    traceback; return its output (stdout is a text pipe)."""
    import pytest
    if child.poll() is None:
        child.send_signal(signal.SIGINT)
    try:
        code = child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        pytest.fail(f'hand_pose_node did not stop within {timeout:g} s of SIGINT')
    output = child.stdout.read()
    assert code == 0, output
    assert 'Traceback' not in output, output
    return output


class Probe:
    """An rclpy node in the test process recording every HandPose by stamp, with arrival time.

    :param namespace: the namespace whose ``hand_pose`` it listens to
    """

    def __init__(self, name: str = 'restart_probe', namespace: str = '') -> None:
        import rclpy
        from crossinfonet_ros.msg import HandPose
        self._rclpy = rclpy
        self.node = rclpy.create_node(name, namespace=namespace)
        self.poses: Dict[Tuple[int, int], Tuple[float, object]] = {}
        self.node.create_subscription(HandPose, 'hand_pose', self._on_pose, 100)

    def _on_pose(self, msg) -> None:
        stamp = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        self.poses.setdefault(stamp, (time.monotonic(), msg))

    def answers_after(self, wall_ns: int) -> list:
        """``(arrival monotonic s, HandPose)`` of frames stamped after a wall-clock time."""
        return sorted((arrival, msg) for (sec, nsec), (arrival, msg) in self.poses.items()
                      if sec * 10**9 + nsec > wall_ns)

    def spin_until(self, condition: Callable[[], bool], timeout: float,
                   alive: Tuple[subprocess.Popen, ...] = ()) -> bool:
        """Spin until ``condition()`` or the timeout; fails if a process in ``alive`` exits."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                return False
            self._rclpy.spin_once(self.node, timeout_sec=0.02)
            for process in alive:
                assert process.poll() is None, f'{process.args[0]} exited with ' \
                                               f'{process.returncode}'
        return True

    def destroy(self) -> None:
        self.node.destroy_node()
