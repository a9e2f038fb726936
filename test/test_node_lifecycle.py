"""hand_pose_node as a lifecycle node (autostart:=false): silent until configured and
activated, answers while active, frees the model and answers nothing while inactive, answers
again after a re-activation. Transitions go through the lifecycle API in this process."""

import time

import pytest

rclpy = pytest.importorskip('rclpy', reason='rclpy comes with `make test` set-up')
from lifecycle_msgs.msg import State  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.lifecycle import TransitionCallbackReturn  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402

from crossinfonet_ros.msg import HandPose  # noqa: E402
from crossinfonet_ros.node.ros_convert import encode_depth  # noqa: E402
from training.synth.scene import render_frame  # noqa: E402

pytestmark = pytest.mark.ros
NS = 'lifecycle'
SUCCESS = TransitionCallbackReturn.SUCCESS


class Rig:
    """A hand_pose_node with autostart off, a probe node and one executor."""

    def __init__(self, weights, *extra):
        from crossinfonet_ros.node import HandPoseNode
        self.node = HandPoseNode(namespace=NS, parameter_overrides=[
            Parameter('weights', value=str(weights)), Parameter('backend', value='torch'),
            Parameter('threads', value=1), Parameter('autostart', value=False), *extra])
        self.probe = rclpy.create_node('lifecycle_probe', namespace=NS)
        self.poses = []
        self.probe.create_subscription(HandPose, 'hand_pose', self.poses.append, 50)
        self.image_pub = self.probe.create_publisher(Image, 'depth/image', 10)
        self.info_pub = self.probe.create_publisher(CameraInfo, 'depth/camera_info', 10)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.executor.add_node(self.probe)
        self.sample = render_frame(0, 1)
        self.stamp = 100

    def state(self) -> int:
        return self.node._state_machine.current_state[0]

    def spin_until(self, condition, what, timeout=20.0):
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f'timed out waiting for {what}'
            self.executor.spin_once(timeout_sec=0.05)

    def spin_for(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.05)

    def send_info(self):
        info = CameraInfo(width=640, height=480)
        info.k = [float(v) for v in self.sample.intrinsics.matrix().reshape(-1)]
        self.info_pub.publish(info)
        self.spin_until(lambda: self.node._camera_infos.newest is not None, 'camera info')

    def send_frame(self):
        """Publish one hand frame, spin until the node has dealt with it; its stamp."""
        self.stamp += 1
        msg = Image(**encode_depth(self.sample.depth_mm))
        msg.header.frame_id = 'cam'
        msg.header.stamp.sec = self.stamp
        seen = self.node.stats.totals().get('input', 0)
        self.image_pub.publish(msg)
        self.spin_until(lambda: self.node.stats.totals().get('input', 0) > seen, 'input')

        def settled():
            t = self.node.stats.totals()
            return t.get('processed', 0) + t.get('dropped', 0) >= t.get('input', 0)
        self.spin_until(settled, 'processing')
        return self.stamp

    def answered(self, sec):
        return [p for p in self.poses if p.header.stamp.sec == sec]


@pytest.fixture
def rig(weights):
    rclpy.init()
    rig = Rig(weights)
    yield rig
    rig.node.destroy_node()
    rig.probe.destroy_node()
    rclpy.shutdown()


def test_unconfigured_node_has_no_topics_and_no_model(rig):
    assert rig.state() == State.PRIMARY_STATE_UNCONFIGURED
    assert rig.node.pipeline is None
    assert rig.node.count_subscribers(f'/{NS}/hand_pose') == 1  # the probe only
    assert rig.node.count_publishers(f'/{NS}/hand_pose') == 0
    assert rig.node.count_subscribers(f'/{NS}/depth/image') == 0


def test_lifecycle_configure_activate_deactivate_reactivate_cleanup(rig):
    node = rig.node
    assert node.trigger_configure() == SUCCESS
    assert rig.state() == State.PRIMARY_STATE_INACTIVE
    assert node.pipeline is None, 'configure must not load the model'
    rig.send_info()
    silent = rig.send_frame()
    rig.spin_for(0.3)
    assert not rig.answered(silent), 'a configured but inactive node answered'
    assert node.stats.totals()['rejected_inactive'] == 1

    assert node.trigger_activate() == SUCCESS
    assert rig.state() == State.PRIMARY_STATE_ACTIVE
    assert node.pipeline is not None
    live = rig.send_frame()
    rig.spin_until(lambda: rig.answered(live), 'HandPose while active')
    assert rig.answered(live)[0].detected

    assert node.trigger_deactivate() == SUCCESS
    assert rig.state() == State.PRIMARY_STATE_INACTIVE
    assert node.pipeline is None, 'deactivate must free the model'
    with pytest.raises(RuntimeError, match='not active'):
        node.estimator
    dropped = [rig.send_frame() for _ in range(3)]
    rig.spin_for(0.3)
    assert not any(rig.answered(sec) for sec in dropped)
    assert node.stats.totals()['rejected_inactive'] == 4

    assert node.trigger_activate() == SUCCESS
    again = rig.send_frame()
    rig.spin_until(lambda: rig.answered(again), 'HandPose after re-activation')
    assert rig.answered(again)[0].detected

    assert node.trigger_deactivate() == SUCCESS
    assert node.trigger_cleanup() == SUCCESS
    assert rig.state() == State.PRIMARY_STATE_UNCONFIGURED
    assert node.count_publishers(f'/{NS}/hand_pose') == 0
    assert node.count_subscribers(f'/{NS}/depth/image') == 0


def test_change_state_service_drives_the_node(rig):
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState, GetState
    change = rig.probe.create_client(ChangeState, f'/{NS}/hand_pose_node/change_state')
    get = rig.probe.create_client(GetState, f'/{NS}/hand_pose_node/get_state')

    def call(client, request):
        rig.spin_until(lambda: client.service_is_ready(), 'lifecycle service')
        future = client.call_async(request)
        rig.spin_until(future.done, 'service answer')
        return future.result()

    for transition in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
        assert call(change, ChangeState.Request(transition=Transition(id=transition))).success
    assert call(get, GetState.Request()).current_state.id == State.PRIMARY_STATE_ACTIVE
    rig.send_info()
    live = rig.send_frame()
    rig.spin_until(lambda: rig.answered(live), 'HandPose after service activation')


def test_bad_weights_fail_activation_and_leave_the_node_inactive(tmp_path):
    bad = tmp_path / 'bad.safetensors'
    bad.write_bytes(b'not a weights file')
    rclpy.init()
    try:
        rig = Rig(bad)
        errors = []
        rig.node.get_logger = lambda: type('Log', (), {
            'error': lambda _, message: errors.append(message),
            'info': lambda _, message: None, 'warning': lambda _, message: None})()
        assert rig.node.trigger_configure() == SUCCESS
        assert rig.node.trigger_activate() == TransitionCallbackReturn.FAILURE
        assert rig.state() == State.PRIMARY_STATE_INACTIVE
        assert rig.node.pipeline is None
        assert len(errors) == 1 and errors[0].startswith('cannot activate') \
            and str(bad) in errors[0], errors
        rig.node.destroy_node()
        rig.probe.destroy_node()
    finally:
        rclpy.shutdown()
