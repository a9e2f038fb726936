"""hand_pose_node's input QoS is set from a parameters file, by the names README.md and
docs/node.md give: ``qos_overrides.<resolved topic>.subscription.<policy>``, the topic after
remapping."""

import pytest

rclpy = pytest.importorskip('rclpy', reason='rclpy comes with `make test` set-up')
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import HistoryPolicy, ReliabilityPolicy  # noqa: E402

pytestmark = pytest.mark.ros
DEPTH = '/camera/camera/depth/image_rect_raw'
INFO = '/camera/camera/depth/camera_info'
# The README's snippet for a realsense-ros 4.x camera (its two overrides).
PARAMS = f"""\
hand_pose_node:
  ros__parameters:
    qos_overrides:
      {DEPTH}:
        subscription:
          reliability: reliable
          depth: 2
"""


@pytest.fixture
def node(weights, tmp_path):
    from crossinfonet_ros.node import HandPoseNode
    params = tmp_path / 'qos.yaml'
    params.write_text(PARAMS)
    rclpy.init()
    node = HandPoseNode(
        cli_args=['--ros-args', '-r', f'depth/image:={DEPTH}', '-r', f'depth/camera_info:={INFO}',
                  '--params-file', str(params)],
        parameter_overrides=[Parameter('weights', value=str(weights)),
                             Parameter('autostart', value=False)])
    node.trigger_configure()  # the subscriptions, and their QoS parameters, come with configure
    yield node
    node.destroy_node()
    rclpy.shutdown()


def test_overrides_apply_to_the_remapped_topic_and_leave_the_other_alone(node):
    value = lambda name: node.get_parameter(name).value  # noqa: E731
    assert value(f'qos_overrides.{DEPTH}.subscription.reliability') == 'reliable'
    assert value(f'qos_overrides.{DEPTH}.subscription.depth') == 2
    assert value(f'qos_overrides.{INFO}.subscription.reliability') == 'best_effort'
    assert value(f'qos_overrides.{INFO}.subscription.history') == 'keep_last'
    profiles = {s.topic_name: s.qos_profile for s in node.subscriptions}
    assert profiles[DEPTH].reliability == ReliabilityPolicy.RELIABLE
    assert profiles[DEPTH].depth == 2
    assert profiles[INFO].reliability == ReliabilityPolicy.BEST_EFFORT
    assert profiles[INFO].history == HistoryPolicy.KEEP_LAST and profiles[INFO].depth == 1


def test_the_shared_default_profile_is_left_as_it_was(node):
    from crossinfonet_ros.node.hand_pose_node import SENSOR_QOS
    # Overrides of one node must not become another subscription's (or node's) defaults.
    assert SENSOR_QOS.reliability == ReliabilityPolicy.BEST_EFFORT and SENSOR_QOS.depth == 1
