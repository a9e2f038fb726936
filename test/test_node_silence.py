"""hand_pose_node says when its inputs are silent: a topic nobody publishes, a stream that
stops, camera info missing while images arrive; in its log (read here from /rosout) and in
/diagnostics, naming the resolved topic and its publisher count. The node runs in /foo with a
copy of config/hand.yaml (input_timeout 0.5 s), in this process; spin, no sleeps."""

import time

import pytest

rclpy = pytest.importorskip('rclpy', reason='rclpy comes with `make test` set-up')
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from rcl_interfaces.msg import Log  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

from crossinfonet_ros.node.ros_convert import encode_depth  # noqa: E402
from test_params_namespace import custom_params  # noqa: E402
from training.synth.scene import render_frame  # noqa: E402

pytestmark = pytest.mark.ros
IMAGE, INFO = '/foo/depth/image', '/foo/depth/camera_info'


class Rig:
    """The node in /foo, a probe node reading its log and diagnostics, one executor."""

    def __init__(self, context, weights):
        from crossinfonet_ros.node import HandPoseNode
        self.probe = rclpy.create_node('silence_probe', context=context)
        self.logs, self.reports = [], []
        # /rosout is transient local: the probe also gets what the node logged while starting.
        self.probe.create_subscription(Log, '/rosout', self.logs.append, QoSProfile(
            depth=1000, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.probe.create_subscription(DiagnosticArray, '/diagnostics', self.reports.append, 10)
        self.image_pub = self.probe.create_publisher(Image, IMAGE, 10)
        self.info_pub = self.probe.create_publisher(CameraInfo, INFO, 10)
        self.node = HandPoseNode(context=context, parameter_overrides=[
            Parameter('weights', value=str(weights)), Parameter('backend', value='torch'),
            Parameter('threads', value=1)])
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.probe)
        self.sample = render_frame(0, 1)
        self.stamp = 100

    def spin_until(self, condition, what, timeout=20.0, each=None):
        """Spin until ``condition()``; ``each()`` runs between spins (e.g. a camera sending)."""
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f'timed out waiting for {what}'
            if each is not None:
                each()
            self.executor.spin_once(timeout_sec=0.05)

    def node_lines(self, level, after=0):
        """The node's own log lines at ``level`` from index ``after`` of the log."""
        return [m.msg for m in self.logs[after:] if m.name == 'foo.hand_pose_node'
                and m.level == level]

    def await_line(self, level, *words, after=0, each=None):
        """The first line of the node at ``level`` after ``after`` holding every word."""
        found = lambda: [line for line in self.node_lines(level, after)  # noqa: E731
                         if all(word in line for word in words)]
        self.spin_until(found, f'a log line with {words}', each=each)
        return found()[0]

    def send_image(self):
        self.stamp += 1
        msg = Image(**encode_depth(self.sample.depth_mm))
        msg.header.stamp.sec = self.stamp
        self.image_pub.publish(msg)

    def send_info(self):
        info = CameraInfo(width=640, height=480)
        info.header.stamp.sec = self.stamp
        info.k = [float(v) for v in self.sample.intrinsics.matrix().reshape(-1)]
        self.info_pub.publish(info)


@pytest.fixture(scope='module')
def rig(tmp_path_factory, weights):
    path = custom_params(tmp_path_factory.mktemp('silence'), input_timeout=0.5, max_depth=0.9)
    context = Context()
    rclpy.init(args=['hand_pose_node', '--ros-args', '-r', '__ns:=/foo', '--params-file', path],
               context=context)
    rig = Rig(context, weights)
    yield rig
    rig.node.destroy_node()
    rig.probe.destroy_node()
    rclpy.shutdown(context=context)


WARN, INFO_LEVEL = Log.WARN, Log.INFO


def test_the_namespaced_params_file_applies_to_the_running_node(rig):
    assert rig.node.get_parameter('input_timeout').value == 0.5
    assert 'depth band [0.15, 0.9] m' in rig.await_line(INFO_LEVEL, 'ready:')


def test_a_topic_nobody_publishes_is_named_with_zero_publishers(rig):
    # The probe's publishers count: destroy them for this test and make them again after.
    rig.probe.destroy_publisher(rig.image_pub)
    rig.probe.destroy_publisher(rig.info_pub)
    try:
        after = len(rig.logs)
        line = rig.await_line(WARN, f'no depth image on {IMAGE}', '0 publishers', after=after)
        assert f'no camera info on {INFO}' in line and 'nothing publishes it' in line
    finally:
        rig.image_pub = rig.probe.create_publisher(Image, IMAGE, 10)
        rig.info_pub = rig.probe.create_publisher(CameraInfo, INFO, 10)


def test_camera_info_missing_while_images_arrive_is_named_as_such(rig):
    after = len(rig.logs)
    line = rig.await_line(WARN, f'no camera info on {INFO}', '1 publisher', after=after,
                          each=rig.send_image)
    assert 'depth image' not in line
    assert rig.await_line(INFO_LEVEL, f'depth image arriving on {IMAGE} again', after=after)
    assert rig.await_line(WARN, f'skipping depth frames until a valid camera info arrives on '
                                f'{INFO}', after=after)


def test_a_stream_that_stops_is_named_and_its_return_said(rig):
    rig.send_info()
    rig.send_image()
    after = len(rig.logs)
    rig.await_line(INFO_LEVEL, f'camera info arriving on {INFO} again', each=rig.send_info)
    line = rig.await_line(WARN, f'no depth image on {IMAGE} for', after=after)
    assert 'the stream stopped' in line and '(1 publisher)' in line


def test_diagnostics_carry_the_silence_and_where_the_node_listens(rig):
    after = len(rig.reports)  # reports made from now on: the probe publishes on both topics

    def silent_reports():
        return [r.status[0] for r in rig.reports[after:]
                if f'no depth image on {IMAGE}' in r.status[0].message]
    rig.spin_until(silent_reports, '/diagnostics naming the silent topic')
    status = silent_reports()[-1]
    assert status.level == DiagnosticStatus.WARN
    values = {kv.key: kv.value for kv in status.values}
    assert values['depth_image_topic'] == IMAGE and values['camera_info_topic'] == INFO
    assert values['depth_image_publishers'] == '1' and values['camera_info_publishers'] == '1'


def test_the_installed_node_warns_on_its_console(tmp_path, weights):
    # The installed executable as a user starts it: namespace and a custom file on the command
    # line (/console: the rig above still publishes in /foo). Its output comes line by line;
    # the warning repeats while nothing comes, so reading cannot block for long.
    from node_process import interrupt_and_check, start_test_node
    path = custom_params(tmp_path, input_timeout=1.0, max_depth=0.9)
    child = start_test_node(weights, ros_args=('-r', '__ns:=/console', '--params-file', path))
    lines = []
    while not any('no depth image on' in line for line in lines):
        line = child.stdout.readline()
        assert line, f'hand_pose_node exited: {"".join(lines)}'
        lines.append(line)
    output = ''.join(lines) + interrupt_and_check(child, timeout=10.0)
    assert 'depth band [0.15, 0.9] m' in output, output
    warning = next(line for line in lines if 'no depth image on' in line)
    assert 'no depth image on /console/depth/image since start' in warning
    assert 'no camera info on /console/depth/camera_info since start' in warning
    assert '0 publishers' in warning and '[WARN]' in warning
