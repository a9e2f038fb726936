"""``ros2 lifecycle`` driving a launched hand_pose_node with ``autostart: false``, as the README
says: configure, activate, deactivate, activate, with frames answered only while active (the
inactive node drops and counts them as ``rejected_inactive`` in /diagnostics).

A camera process streams into the node's namespace throughout; answers are told apart by
stamp (the camera stamps each frame with the wall clock when it publishes it).
"""

import re
import time

import pytest

rclpy = pytest.importorskip('rclpy', reason='rclpy comes with `make test` set-up')
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402

from node_process import Probe, start_camera  # noqa: E402
from ros2_tools import Launch  # noqa: E402

pytestmark = [pytest.mark.ros, pytest.mark.slow]
NAMESPACE = 'tools_lifecycle'
NODE = f'/{NAMESPACE}/hand_pose_node'
START_TIMEOUT_S = 120.0  # activate loads the model: a first one may export it to ONNX
ANSWERS = 5  # answers, or rejections, that show a state's behaviour


class Rejections:
    """The node's ``rejected_inactive`` count, from its newest /diagnostics status."""

    def __init__(self, probe: Probe) -> None:
        self.count = 0
        probe.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_status, 10)

    def _on_status(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith('hand_pose_node:'):
                values = {pair.key: pair.value for pair in status.values}
                self.count = int(values.get('rejected_inactive', 0))


def test_lifecycle_set_drives_the_launched_node(ros2_tools, tmp_path):
    params = tmp_path / 'params.yaml'
    # Diagnostics four times a second: the inactive node's rejections are seen sooner.
    params.write_text('/**:\n  ros__parameters:\n    autostart: false\n'
                      '    diagnostics_period: 0.25\n')
    launch = Launch(ros2_tools, tmp_path / 'launch.log', f'namespace:={NAMESPACE}',
                    f'params_file:={params}')
    probe = None
    try:
        rclpy.init()
        probe = Probe('ros2_lifecycle_probe', namespace=NAMESPACE)
        rejections = Rejections(probe)
        camera = start_camera('--ros-args', '-r', f'__ns:=/{NAMESPACE}')
        alive = (launch.process, camera)

        def state() -> str:
            """``ros2 lifecycle get``: the state's label (Fast DDS may log lines around it)."""
            out = ros2_tools.run('lifecycle', 'get', NODE)
            found = re.search(r'^(\w+) \[\d+\]$', out, re.MULTILINE)
            assert found, out
            return found.group(1)

        def transition(name: str, then: str) -> int:
            """``ros2 lifecycle set``; the wall-clock time once the node is in state ``then``."""
            out = ros2_tools.run('lifecycle', 'set', NODE, name, timeout=START_TIMEOUT_S)
            assert 'Transitioning successful' in out, out
            assert state() == then, launch.output()
            return time.time_ns()

        def answered_since(since: int) -> None:
            assert probe.spin_until(lambda: len(probe.answers_after(since)) >= ANSWERS,
                                    START_TIMEOUT_S, alive), launch.output()

        def silent_since(since: int) -> None:
            # The node received and dropped frames stamped after ``since``, and answered none.
            seen = rejections.count
            assert probe.spin_until(lambda: rejections.count >= seen + ANSWERS, 30.0, alive), \
                launch.output()
            assert not probe.answers_after(since), 'an inactive node answered'

        ros2_tools.wait_for_node(NODE, timeout=START_TIMEOUT_S)
        assert state() == 'unconfigured'
        silent_since(transition('configure', 'inactive'))
        answered_since(transition('activate', 'active'))
        silent_since(transition('deactivate', 'inactive'))
        answered_since(transition('activate', 'active'))
    finally:
        if probe is not None:
            probe.destroy()
        rclpy.try_shutdown()
        launch.stop()
