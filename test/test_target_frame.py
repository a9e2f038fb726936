"""target_frame glue: TF messages into the buffer, a hand result into the target frame, and the
checks of the two parameters (message types, no node)."""

import math

import numpy as np
import pytest

pytest.importorskip('tf2_msgs', reason='tf2_msgs comes with `make test` set-up')
from geometry_msgs.msg import TransformStamped  # noqa: E402
from std_msgs.msg import Header  # noqa: E402
from tf2_msgs.msg import TFMessage  # noqa: E402

from crossinfonet_ros.node import ros_messages  # noqa: E402
from crossinfonet_ros.hand_frame import quaternion_from_matrix  # noqa: E402
from crossinfonet_ros.node.params import PARAMETERS, NodeParams  # noqa: E402
from crossinfonet_ros.pipeline import HandResult  # noqa: E402
from crossinfonet_ros.node.target_frame import (TargetFrame, add_tf_message,  # noqa: E402
                                           transform_result)
from crossinfonet_ros.node.tf_buffer import (RigidTransform, TransformBuffer,  # noqa: E402
                                        TransformError, quaternion_to_matrix)

QUARTER_TURN_Z = (0.0, 0.0, math.sqrt(0.5), math.sqrt(0.5))


def stamped(parent, child, stamp_s, xyz, q=(0.0, 0.0, 0.0, 1.0)):
    """A TransformStamped ``parent -> child`` at ``stamp_s`` (the node's own builder)."""
    header = Header(frame_id=parent)
    header.stamp.sec, header.stamp.nanosec = int(stamp_s), round(stamp_s % 1 * 1e9)
    return ros_messages.transform(header, child, xyz, q)


def hand(detected=True):
    rng = np.random.default_rng(0)
    joints = rng.normal(size=(21, 3))
    rotation = quaternion_to_matrix((0.1, 0.2, 0.3, 0.9))
    return HandResult(detected=detected, joint_names=tuple(f'j{i}' for i in range(21)),
                      positions_m=joints[::-1], confidence=np.ones(21, np.float32),
                      native_m=joints, wrist_position_m=tuple(joints[0]),
                      wrist_orientation=quaternion_from_matrix(rotation),
                      center_m=(0.0, 0.1, 0.5), cube_m=0.2, roi=(1, 2, 3, 4))


def test_tf_messages_fill_the_buffer_without_the_joint_frames():
    buffer = TransformBuffer()
    msg = TFMessage(transforms=[stamped('world', 'camera', 3.5, (1, 2, 3), QUARTER_TURN_Z),
                                stamped('camera', 'hand/wrist', 3.5, (0, 0, 0.4))])
    assert add_tf_message(buffer, msg, static=False, skip_prefix='hand/') == 1
    assert buffer.frames() == ['camera', 'world']
    found = buffer.lookup('world', 'camera', 3.5)
    assert np.allclose(found.apply([1.0, 0.0, 0.0]), [1.0, 3.0, 3.0])
    with pytest.raises(TransformError, match='future'):  # dynamic: only its own stamp
        buffer.lookup('world', 'camera', 3.6)
    add_tf_message(buffer, msg, static=True, skip_prefix='hand/')
    assert np.allclose(buffer.lookup('world', 'camera', 99.0).translation, [1, 2, 3])


def test_a_malformed_transform_is_named_and_the_others_kept():
    buffer = TransformBuffer()
    msg = TFMessage(transforms=[stamped('world', 'bad', 1.0, (0, 0, 0), (0, 0, 0, 0)),
                                stamped('world', 'good', 1.0, (0, 0, 0))])
    with pytest.raises(ValueError, match="ignored transforms: .*'world' -> 'bad'"):
        add_tf_message(buffer, msg, static=True)
    assert buffer.frames() == ['good', 'world']


def test_a_result_moves_into_the_target_frame_whole():
    transform = RigidTransform.from_quaternion((0.5, -1.0, 2.0), QUARTER_TURN_Z)
    result = hand()
    moved = transform_result(result, transform)
    assert np.allclose(moved.positions_m, transform.apply(result.positions_m))
    assert np.allclose(moved.native_m, transform.apply(result.native_m))
    assert np.allclose(moved.wrist_position_m, transform.apply(result.wrist_position_m))
    assert np.allclose(moved.center_m, transform.apply(result.center_m))
    assert np.allclose(quaternion_to_matrix(moved.wrist_orientation),
                       transform.rotation @ quaternion_to_matrix(result.wrist_orientation))
    assert moved.roi == result.roi and moved.cube_m == result.cube_m
    assert moved.joint_names == result.joint_names
    assert np.allclose(result.native_m, hand().native_m)  # the input is left as it was
    empty = hand(detected=False)
    assert transform_result(empty, transform) is empty


def test_express_waits_for_the_transform_and_names_both_frames():
    target = TargetFrame('world', timeout_s=0.02, frame_prefix='hand')
    header = Header(frame_id='camera')
    header.stamp.sec, header.stamp.nanosec = 10, 500_000_000
    with pytest.raises(TransformError, match="'camera' to target_frame 'world' at 10.500000 "
                                             r"\(waited 20 ms\): frame 'world' does not exist"):
        target.express(header, hand())
    target.add(TFMessage(transforms=[stamped('world', 'camera', 0.0, (0, 0, 1))]), static=True)
    out_header, moved = target.express(header, hand())
    assert out_header.frame_id == 'world' and out_header.stamp == header.stamp
    assert np.allclose(moved.native_m, hand().native_m + [0, 0, 1])


def _values(**changes):
    values = {name: default for name, default, _ in PARAMETERS}
    values.update(changes)
    return values


def test_target_frame_defaults_to_the_image_frame():
    params = NodeParams.from_values(_values())
    assert params.target_frame == '' and params.transform_timeout == 0.05


@pytest.mark.parametrize('changes, words', [
    (dict(transform_timeout=-0.1), 'transform_timeout must be in 0..1 s'),
    (dict(transform_timeout=5.0), 'transform_timeout must be in 0..1 s'),
    (dict(target_frame='/world'), "target_frame must be a TF frame name"),
    (dict(target_frame='base link'), "target_frame must be a TF frame name"),
    (dict(target_frame='hand/wrist'), 'is one of the joint frames'),
])
def test_bad_target_frame_parameters_are_named(changes, words):
    with pytest.raises(ValueError, match=words):
        NodeParams.from_values(_values(**changes))
