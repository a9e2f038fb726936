"""hand_pose_node with ``max_hands:=2`` in this process: HandPoseArray on ``hands`` (left before
right), TF frames per side, markers per side, and nothing left over when the hands go."""

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy', reason='rclpy comes with `make test` set-up')
from visualization_msgs.msg import Marker  # noqa: E402

from crossinfonet_ros.camera import D435_640X480  # noqa: E402
from crossinfonet_ros.msg import HandPoseArray  # noqa: E402
from crossinfonet_ros.node.ros_convert import encode_depth  # noqa: E402
from training.synth.scene import render_frame  # noqa: E402
from training.synth.two_hands import two_hand_frame  # noqa: E402

from test_node_inprocess import Harness  # noqa: E402

pytestmark = pytest.mark.ros


@pytest.fixture(scope='module')
def harness(trained_weights):
    rclpy.init()
    h = Harness(trained_weights, namespace='two_hands', max_hands=2, hand_classifier='')
    h.arrays = []
    h.probe.create_subscription(HandPoseArray, 'hands', h.arrays.append, 100)
    h.frame = two_hand_frame(7, 2, 'apart')  # both hands found within 15 mm (torch, measured)
    h.send_info(D435_640X480.matrix())
    yield h
    h.node.destroy_node()
    h.probe.destroy_node()
    rclpy.shutdown()


def _array_for(h, msg):
    return h.answer_for(msg, h.arrays, 'HandPoseArray')


def test_two_hands_come_on_hands_with_sides_tf_and_markers(harness):
    h = harness
    for _ in range(4):  # a first frame finds one hand, the other within search_every frames
        msg = h.image(encode_depth(h.frame.depth_mm))
        h.send(msg)
    array = _array_for(h, msg)
    assert array.header == msg.header
    assert [pose.handedness for pose in array.hands] == ['left', 'right']
    for pose in array.hands:
        assert pose.detected and pose.header == msg.header and len(pose.positions) == 21
        truth = h.frame.joints_mm[pose.handedness] / 1000.0
        found = np.array([[p.x, p.y, p.z] for p in pose.positions])
        assert np.mean(np.linalg.norm(found - truth, axis=1)) < 0.05, pose.handedness
    single = h.pose_for(msg)  # hand_pose: one of the two (the one tracked longest)
    assert single.detected and single.handedness in ('left', 'right')
    h.spin_until(lambda: any(t.transforms[0].header.stamp == msg.header.stamp
                             for t in h.tfs if t.transforms), what='TF')
    frames = {t.child_frame_id for m in h.tfs for t in m.transforms
              if t.header.stamp == msg.header.stamp}
    assert {'hand/left/wrist', 'hand/right/wrist', 'hand/left/wrist_frame',
            'hand/right/index_tip'} <= frames
    h.spin_until(lambda: any(len(m.markers) == 5 for m in h.markers), what='markers')
    markers = [m for m in h.markers if len(m.markers) == 5][-1].markers
    assert markers[0].action == Marker.DELETEALL
    assert {m.ns for m in markers[1:]} == {'left/hand_joints', 'left/hand_bones',
                                           'right/hand_joints', 'right/hand_bones'}


def test_no_hand_gives_an_empty_array_and_clears_the_markers(harness):
    h = harness
    msg = h.image(encode_depth(np.full((480, 640), 2500.0)))
    h.send(msg)
    assert _array_for(h, msg).hands == []
    assert not h.pose_for(msg).detected
    # markers of the last frame with hands may still arrive after clear(): match this frame's
    h.spin_until(lambda: any(m.markers and m.markers[0].header.stamp == msg.header.stamp
                             for m in h.markers), what='markers')
    markers = [m for m in h.markers if m.markers[0].header.stamp == msg.header.stamp][0]
    assert [m.action for m in markers.markers] == [Marker.DELETEALL]


def test_hands_leaving_coming_back_and_a_resolution_switch(harness):
    # Issue 21's faults in short: the right hand alone, no hand, both again, and the camera
    # switching to 320x240 and back mid-stream; every frame answered, never one side twice.
    h = harness
    two = h.frame.depth_mm
    one = render_frame(31, 0).depth_mm  # one right hand, the same camera
    empty = np.full((480, 640), 2500.0)

    def stream(depths):
        counts = []
        for depth in depths:
            msg = h.image(encode_depth(depth))
            h.send(msg)
            sides = [pose.handedness for pose in _array_for(h, msg).hands]
            assert len(set(sides)) == len(sides), sides
            counts.append(len(sides))
        return counts

    counts = stream([two] * 4 + [one] * 3 + [empty] * 2 + [two] * 4)
    assert counts[3] == 2 and counts[6] >= 1 and counts[7:9] == [0, 0]
    assert counts[-1] == 2, f'both hands back within 4 frames: {counts}'
    small = D435_640X480.matrix() * np.array([[0.5], [0.5], [1.0]])
    h.send_info(small, width=320, height=240)
    try:
        counts = stream([two[::2, ::2]] * 4)
        assert counts[-1] >= 1, f'hands at 320x240: {counts}'
    finally:
        h.send_info(D435_640X480.matrix())
    assert stream([two] * 4)[-1] == 2
