"""The installed hand_pose_node with ``target_frame`` over real DDS.

One node process, started with ``target_frame:=world`` before anyone publishes ``world``:
rendered frames get no HandPose and /diagnostics counts ``rejected_no_transform`` while the
node keeps running. Then this process publishes ``world -> base`` on /tf_static and a moving
``base -> camera`` on /tf (two samples around each image stamp, so the node interpolates), and
every answer must be in ``world``, stamped like its image, with its joints equal to R p + t of
the node's own camera-frame joint TF frames of that stamp (R, t computed here by hand).
"""

import math

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy', reason='rclpy comes with `make test` set-up')
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image  # noqa: E402
from tf2_msgs.msg import TFMessage  # noqa: E402
from visualization_msgs.msg import MarkerArray  # noqa: E402

import crossinfonet_ros  # noqa: E402
from crossinfonet_ros.node.params import find_shipped_weights  # noqa: E402
from crossinfonet_ros.node.tf_buffer import quaternion_to_matrix  # noqa: E402

from node_process import Probe, interrupt_and_check, start_test_node  # noqa: E402
from test_target_frame import stamped  # noqa: E402
# Importable once node_process has put the checkout on sys.path.
from bench.stream_publisher import FRAME_ID, camera_info, reliable_qos, render_loop  # noqa: E402

pytestmark = pytest.mark.ros
TOLERANCE_M = 1e-5
FRAMES = 5
# world -> base (static) and base -> camera (dynamic: samples 0.1 s before and 0.3 s after
# each image stamp, so the node's answer is a quarter of the way between them).
WORLD_BASE = ((1.0, -0.5, 0.8), (0.0, 0.0, math.sin(math.radians(15)),
                                 math.cos(math.radians(15))))  # 30 deg about z
BEFORE_S, AFTER_S = 0.1, 0.3
CAMERA_BEFORE = ((0.10, 0.00, 0.40), -100.0)  # translation, degrees about x
CAMERA_AFTER = ((0.18, 0.04, 0.36), -120.0)


def about_x(degrees):
    half = math.radians(degrees) / 2
    return (math.sin(half), 0.0, 0.0, math.cos(half))


def expected_world_from_camera():
    """R, t of camera -> world at an image stamp, by hand: the static edge after the
    interpolated dynamic one (translation lerp and the angle about x at 1/4)."""
    fraction = BEFORE_S / (BEFORE_S + AFTER_S)
    t_before, t_after = np.array(CAMERA_BEFORE[0]), np.array(CAMERA_AFTER[0])
    t_camera = t_before + fraction * (t_after - t_before)
    angle = math.radians(CAMERA_BEFORE[1] + fraction * (CAMERA_AFTER[1] - CAMERA_BEFORE[1]))
    r_camera = np.array([[1, 0, 0], [0, math.cos(angle), -math.sin(angle)],
                         [0, math.sin(angle), math.cos(angle)]])
    c, s = math.cos(math.radians(30)), math.sin(math.radians(30))
    r_base = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    return r_base @ r_camera, r_base @ t_camera + np.array(WORLD_BASE[0])


def xyz(v):
    return np.array([v.x, v.y, v.z])


def test_answers_in_target_frame_only_once_its_transform_is_known(weights):
    child = start_test_node(find_shipped_weights(crossinfonet_ros.__path__) or weights,
                            'target_frame:=world', 'diagnostics_period:=0.5')
    rclpy.init()
    probe = Probe('target_frame_probe')
    node = probe.node
    joint_tfs, markers, rejected = {}, {}, [0]

    def on_tf(msg):
        for t in msg.transforms:
            if t.child_frame_id.startswith('hand/') and t.header.frame_id == FRAME_ID:
                stamp = (t.header.stamp.sec, t.header.stamp.nanosec)
                joint_tfs.setdefault(stamp, {})[t.child_frame_id] = t.transform

    def on_diagnostics(msg):
        for status in msg.status:
            for pair in status.values:
                if pair.key == 'rejected_no_transform':
                    rejected[0] = max(rejected[0], int(pair.value))

    node.create_subscription(TFMessage, '/tf', on_tf, 100)
    node.create_subscription(MarkerArray, 'hand_markers', lambda m: markers.setdefault(
        (m.markers[0].header.stamp.sec, m.markers[0].header.stamp.nanosec), m), 20)
    node.create_subscription(DiagnosticArray, '/diagnostics', on_diagnostics, 10)
    image_pub = node.create_publisher(Image, 'depth/image', reliable_qos())
    info_pub = node.create_publisher(CameraInfo, 'depth/camera_info', reliable_qos())
    tf_pub = node.create_publisher(TFMessage, '/tf', 100)
    static_pub = node.create_publisher(TFMessage, '/tf_static', QoSProfile(
        depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
    frames = render_loop(seed=3, count=FRAMES)
    sent = [0]

    def send(index, stamp_s):
        frame = frames[index % FRAMES]
        stamp = (int(stamp_s), round(stamp_s % 1 * 1e9))
        msg = Image(**frame.image)
        msg.header.frame_id = FRAME_ID
        msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
        info_pub.publish(camera_info(frame.intrinsics, stamp))
        image_pub.publish(msg)
        return stamp

    try:
        # 1. Nobody publishes 'world': frames are dropped and counted, the node keeps running.
        def rejected_twice():
            if node.get_clock().now().nanoseconds > sent[0]:  # one frame every 0.3 s
                send(0, 100.0 + sent[0] * 1e-9)
                sent[0] = node.get_clock().now().nanoseconds + 300_000_000
            return rejected[0] >= 2
        assert probe.spin_until(rejected_twice, 60.0, alive=(child,)), \
            'no rejected_no_transform in /diagnostics'
        assert not probe.poses, 'a HandPose was sent without the transform to world'

        # 2. The transforms appear: every later frame is answered, in 'world'.
        static_pub.publish(TFMessage(transforms=[stamped('world', 'base', 0.0,
                                                               *WORLD_BASE)]))
        stamps = []
        for i in range(FRAMES):
            stamp_s = 200.0 + i
            tf_pub.publish(TFMessage(transforms=[
                stamped('base', FRAME_ID, stamp_s - BEFORE_S, CAMERA_BEFORE[0],
                              about_x(CAMERA_BEFORE[1])),
                stamped('base', FRAME_ID, stamp_s + AFTER_S, CAMERA_AFTER[0],
                              about_x(CAMERA_AFTER[1]))]))
            stamp = send(i, stamp_s)
            stamps.append(stamp)
            probe.spin_until(lambda: stamp in probe.poses and stamp in joint_tfs, 10.0,
                             alive=(child,))
        answered = [stamp for stamp in stamps if stamp in probe.poses]
        assert len(answered) >= FRAMES - 1, f'answered {len(answered)} of {FRAMES} frames'
        rotation, translation = expected_world_from_camera()
        checked = 0
        for stamp in answered:
            pose = probe.poses[stamp][1]
            assert pose.header.frame_id == 'world'
            assert (pose.header.stamp.sec, pose.header.stamp.nanosec) == stamp
            if not pose.detected or stamp not in joint_tfs:
                continue
            in_camera = joint_tfs[stamp]
            for name, position in zip(pose.joint_names, pose.positions):
                camera_p = xyz(in_camera[f'hand/{name}'].translation)
                assert np.allclose(xyz(position), rotation @ camera_p + translation,
                                   atol=TOLERANCE_M, rtol=0), name
            wrist = in_camera['hand/wrist_frame']
            q = pose.wrist_pose.orientation
            assert np.allclose(quaternion_to_matrix((q.x, q.y, q.z, q.w)), rotation @
                               quaternion_to_matrix((wrist.rotation.x, wrist.rotation.y,
                                                     wrist.rotation.z, wrist.rotation.w)),
                               atol=1e-6)
            assert np.allclose(xyz(pose.wrist_pose.position),
                               rotation @ xyz(wrist.translation) + translation, atol=TOLERANCE_M)
            if stamp in markers:
                spheres = markers[stamp].markers[0]
                assert spheres.header.frame_id == 'world'
                assert np.allclose([xyz(p) for p in spheres.points],
                                   [xyz(p) for p in pose.positions], atol=TOLERANCE_M)
            checked += 1
        assert checked, 'no detected hand with its joint TF frames to compare'
        assert any(stamp in markers for stamp in answered), 'no markers received'
    finally:
        probe.destroy()
        rclpy.shutdown()
    output = interrupt_and_check(child, 5.0)
    assert f"no transform from the image frame '{FRAME_ID}' to target_frame 'world'" in output
