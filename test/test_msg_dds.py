"""HandPose crosses a process boundary over real DDS, field for field."""

import subprocess
import sys
import time

import pytest

rclpy = pytest.importorskip('rclpy', reason='rclpy comes with `make test` set-up')
from crossinfonet_ros.msg import HandPose  # noqa: E402

pytestmark = pytest.mark.ros

PUBLISHER = r'''
import sys, time
import rclpy
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from crossinfonet_ros.msg import HandPose

rclpy.init()
node = rclpy.create_node('hand_pose_sender')
pub = node.create_publisher(HandPose, 'hand_pose_probe', 10)
msg = HandPose()
msg.header.stamp.sec = 1700000000
msg.header.stamp.nanosec = 123456789
msg.header.frame_id = 'camera_depth_optical_frame'
msg.detected = True
msg.handedness = HandPose.HANDEDNESS_RIGHT
msg.layout = 'hands2017'
msg.joint_names = ['j%d' % i for i in range(21)]
msg.positions = [Point(x=0.01 * i, y=-0.02 * i, z=0.4 + 0.001 * i) for i in range(21)]
msg.confidence = [i / 20.0 for i in range(21)]
msg.score = 0.5
msg.wrist_pose.position = Point(x=0.1, y=0.2, z=0.3)
msg.wrist_pose.orientation.x = 0.5
msg.wrist_pose.orientation.y = 0.5
msg.wrist_pose.orientation.z = 0.5
msg.wrist_pose.orientation.w = 0.5
msg.crop_center = Point(x=-0.05, y=0.02, z=0.45)
msg.cube_size = 0.25
msg.roi.x_offset, msg.roi.y_offset, msg.roi.width, msg.roi.height = 200, 120, 180, 181
msg.tracked = True
msg.processing_time = Duration(sec=0, nanosec=8500000)
deadline = time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline:
    pub.publish(msg)
    time.sleep(0.05)
rclpy.shutdown()
'''


def test_hand_pose_round_trip_between_processes():
    rclpy.init()
    node = rclpy.create_node('hand_pose_receiver')
    received = []
    node.create_subscription(HandPose, 'hand_pose_probe', received.append, 10)
    sender = subprocess.Popen([sys.executable, '-c', PUBLISHER, '20'])
    try:
        deadline = time.monotonic() + 20
        while not received and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
        assert received, 'no HandPose arrived from the other process within 20 s'
        msg = received[0]
        assert msg.header.stamp.sec == 1700000000
        assert msg.header.stamp.nanosec == 123456789
        assert msg.header.frame_id == 'camera_depth_optical_frame'
        assert msg.detected is True
        assert msg.handedness == 'right'
        assert msg.layout == 'hands2017'
        assert list(msg.joint_names) == ['j%d' % i for i in range(21)]
        assert len(msg.positions) == 21
        for i, p in enumerate(msg.positions):
            assert (p.x, p.y, p.z) == pytest.approx((0.01 * i, -0.02 * i, 0.4 + 0.001 * i))
        assert list(msg.confidence) == pytest.approx([i / 20.0 for i in range(21)])
        assert msg.score == pytest.approx(0.5)
        pose = msg.wrist_pose
        assert (pose.position.x, pose.position.y, pose.position.z) == (0.1, 0.2, 0.3)
        assert (pose.orientation.x, pose.orientation.w) == (0.5, 0.5)
        assert (msg.crop_center.x, msg.crop_center.z) == (-0.05, 0.45)
        assert msg.cube_size == pytest.approx(0.25)
        assert (msg.roi.x_offset, msg.roi.y_offset, msg.roi.width, msg.roi.height) == (
            200, 120, 180, 181)
        assert msg.tracked is True
        assert (msg.processing_time.sec, msg.processing_time.nanosec) == (0, 8500000)
    finally:
        sender.terminate()
        sender.wait(timeout=10)
        node.destroy_node()
        rclpy.shutdown()


def test_message_fields_are_documented():
    """Every field of the public interface carries a comment with its meaning."""
    from conftest import ROOT
    lines = (ROOT / 'msg' / 'HandPose.msg').read_text().splitlines()
    fields = [i for i, line in enumerate(lines)
              if line.strip() and not line.startswith('#') and '=' not in line]
    assert len(fields) == len(HandPose.get_fields_and_field_types())
    for i in fields:
        assert lines[i - 1].startswith('#'), f'field without a comment: {lines[i]}'
