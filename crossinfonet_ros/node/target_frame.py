"""The node's ``target_frame`` output: TF messages into a buffer, hands into the target frame.

The node's HandPose and markers come out in the depth image's optical frame unless
``target_frame`` names another frame; then each frame's result is moved into it with the
transform at the image's stamp (:mod:`crossinfonet_ros.node.tf_buffer`, filled from ``/tf`` and
``/tf_static``). The per-joint TF frames stay children of the image frame (exact, no lookup).

Every answer, ``detected=false`` included, needs the transform: a missing transform is then
never mistaken for an empty scene (a consumer in ``target_frame`` would otherwise see only
"no hand" while a hand is in view), and every HandPose on the topic means one thing: this
frame, in ``target_frame``, at the image's stamp.

ROS-free like the rest of the runtime library (test_packaging): messages are read by their
fields (``tf2_msgs/TFMessage``, ``std_msgs/Header``), never imported; the node owns the
subscriptions.
"""

from dataclasses import replace
from typing import Tuple

from crossinfonet_ros.hand_frame import quaternion_from_matrix
from crossinfonet_ros.pipeline import HandResult
from crossinfonet_ros.node.tf_buffer import (DEFAULT_CACHE_S, RigidTransform, TransformBuffer,
                                        TransformError, quaternion_to_matrix)


def stamp_seconds(stamp) -> float:
    """A ``builtin_interfaces/Time`` in seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def add_tf_message(buffer: TransformBuffer, msg, static: bool, skip_prefix: str = '') -> int:
    """Store the transforms of a ``tf2_msgs/TFMessage``; returns how many were stored.

    :param skip_prefix: children whose name starts with this are not stored (the node's own
        joint frames: many per frame, and never on a path to another frame)
    :raises ValueError: a malformed transform (the others are still stored); the message
        names the frames
    """
    stored, problems = 0, []
    for stamped in msg.transforms:
        # ROS 2's tf2 strips a leading '/' from frame ids ('/odom' is 'odom').
        child = stamped.child_frame_id.lstrip('/')
        if skip_prefix and child.startswith(skip_prefix):
            continue
        t, q = stamped.transform.translation, stamped.transform.rotation
        try:
            buffer.add(stamped.header.frame_id.lstrip('/'), child,
                       stamp_seconds(stamped.header.stamp),
                       (t.x, t.y, t.z), (q.x, q.y, q.z, q.w), static)
            stored += 1
        except ValueError as error:
            problems.append(str(error))
    if problems:
        raise ValueError('ignored transforms: ' + '; '.join(problems))
    return stored


def transform_result(result: HandResult, transform: RigidTransform) -> HandResult:
    """The result with its 3D quantities (joints, wrist pose, crop centre) mapped by
    ``transform``; image quantities (roi, crop) and confidences unchanged."""
    if not result.detected:
        return result
    wrist_rotation = transform.rotation @ quaternion_to_matrix(result.wrist_orientation)
    return replace(
        result,
        positions_m=transform.apply(result.positions_m),
        native_m=transform.apply(result.native_m),
        wrist_position_m=tuple(float(v) for v in transform.apply(result.wrist_position_m)),
        wrist_orientation=quaternion_from_matrix(wrist_rotation),
        center_m=tuple(float(v) for v in transform.apply(result.center_m)))


class TargetFrame:
    """The target frame, its TF buffer and the lookup of each image frame's transform.

    :param frame: the frame HandPose and the markers are expressed in
    :param timeout_s: how long a lookup waits for TF to reach the image's stamp, s
    :param frame_prefix: the node's joint TF frames are ``<frame_prefix>/<joint>``; they are
        not stored
    :param cache_s: how long dynamic transforms are kept, s
    """

    def __init__(self, frame: str, timeout_s: float, frame_prefix: str,
                 cache_s: float = DEFAULT_CACHE_S) -> None:
        self.frame = frame
        self.timeout_s = timeout_s
        self.skip_prefix = f'{frame_prefix}/'
        self.buffer = TransformBuffer(cache_s)

    def add(self, msg, static: bool) -> None:
        """Store a ``/tf`` (``static=False``) or ``/tf_static`` message.

        :raises ValueError: malformed transforms (the others are stored); names the frames
        """
        add_tf_message(self.buffer, msg, static, self.skip_prefix)

    def express(self, header, result: HandResult) -> Tuple[object, HandResult]:
        """The output header (``frame_id`` = the target frame, the image's stamp) and the
        result in the target frame, waiting up to ``timeout_s`` for the transform.

        :param header: the image's ``std_msgs/Header`` (the output is a new one of its type)
        :raises TransformError: no transform at the stamp; the message names both frames
        """
        stamp = stamp_seconds(header.stamp)
        try:
            transform = self.buffer.wait_for(self.frame, header.frame_id.lstrip('/'), stamp,
                                             self.timeout_s)
        except TransformError as error:
            raise TransformError(error.kind, (
                f'no transform from the image frame {header.frame_id!r} to target_frame '
                f'{self.frame!r} at {stamp:.6f} (waited {self.timeout_s * 1e3:.0f} ms): '
                f'{error}')) from None
        out_header = type(header)(stamp=header.stamp, frame_id=self.frame)
        return out_header, transform_result(result, transform)

