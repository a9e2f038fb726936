"""The node's output messages built from a :class:`~crossinfonet_ros.pipeline.HandResult`:
HandPose, the TF frames, the RViz skeleton and the debug image (construction only; the node
publishes them)."""

from typing import Sequence, Tuple

from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point, TransformStamped
import numpy as np
from sensor_msgs.msg import Image
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import Marker, MarkerArray

from crossinfonet_ros.msg import HandPose, HandPoseArray
from crossinfonet_ros.pipeline import HandResult
from crossinfonet_ros.visuals import bone_points

# Marker colours per side (joint spheres, bone lines); the namespaces and ids are the same for
# both, so a hand whose side changes replaces its markers instead of leaving the old ones.
JOINT_RGBA = {'right': (1.0, 0.2, 0.2, 1.0), 'left': (0.2, 0.5, 1.0, 1.0)}
BONE_RGBA = {'right': (1.0, 0.8, 0.0, 1.0), 'left': (0.0, 0.9, 0.8, 1.0)}
JOINT_DIAMETER_M = 0.012
BONE_WIDTH_M = 0.005


def hand_pose(header, result: HandResult, layout: str, processing_ns: int) -> HandPose:
    """The HandPose of a frame: joints and wrist pose when detected, else ``detected=false``
    with nothing stale.

    :param header: the input image's header (stamp and frame copied)
    :param result: the pipeline's result
    :param layout: output joint layout name
    :param processing_ns: time from reception to now
    """
    pose = HandPose(header=header, detected=result.detected, handedness=result.handedness,
                    layout=layout)
    if result.detected:
        pose.joint_names = list(result.joint_names)
        pose.positions = [point(p) for p in result.positions_m]
        pose.confidence = [float(c) for c in result.confidence]
        pose.score = float(np.mean(result.confidence)) if len(result.confidence) else 0.0
        pose.wrist_pose.position = point(result.wrist_position_m)
        q = result.wrist_orientation
        pose.wrist_pose.orientation.x, pose.wrist_pose.orientation.y = q[0], q[1]
        pose.wrist_pose.orientation.z, pose.wrist_pose.orientation.w = q[2], q[3]
        pose.crop_center = point(result.center_m)
        pose.cube_size = float(result.cube_m)
        pose.roi.x_offset, pose.roi.y_offset, pose.roi.width, pose.roi.height = result.roi
        pose.tracked = result.tracked
    else:
        pose.wrist_pose.orientation.w = 1.0
    pose.processing_time = Duration(sec=processing_ns // 10**9, nanosec=processing_ns % 10**9)
    return pose


def joint_transforms(header, result: HandResult, prefix: str) -> TFMessage:
    """One frame per joint, ``<prefix>/<joint_name>``, plus ``<prefix>/wrist_frame`` (the wrist
    pose), all children of the image frame with its stamp, in one message."""
    transforms = [transform(header, f'{prefix}/{name}', position)
                  for name, position in zip(result.joint_names, result.positions_m)]
    transforms.append(transform(header, f'{prefix}/wrist_frame', result.wrist_position_m,
                                result.wrist_orientation))
    return TFMessage(transforms=transforms)


def hand_poses(header, hands: Sequence[HandResult], layout: str,
               processing_ns: int) -> HandPoseArray:
    """The HandPoseArray of a frame: one HandPose per hand found (in the order given).

    :param header: the output header (stamp and frame copied)
    """
    return HandPoseArray(header=header, hands=[hand_pose(header, hand, layout, processing_ns)
                                               for hand in hands])


def hands_transforms(header, hands: Sequence[HandResult], prefix: str,
                     per_side: bool) -> TFMessage:
    """:func:`joint_transforms` of every hand in one message; ``per_side``: under
    ``<prefix>/<side>`` (two hands), else ``<prefix>`` (one)."""
    transforms = []
    for hand in hands:
        name = f'{prefix}/{hand.handedness}' if per_side else prefix
        transforms += joint_transforms(header, hand, name).transforms
    return TFMessage(transforms=transforms)


def hands_markers(header, hands: Sequence[HandResult], edges: Sequence[Tuple[int, int]],
                  lifetime_s: float) -> MarkerArray:
    """Every hand's skeleton in its own namespaces (``<side>/hand_joints``, ...), after a
    DELETEALL, so that a hand gone from view leaves nothing behind."""
    markers = clear_markers(header).markers
    for hand in hands:
        markers += skeleton_markers(header, hand, edges, lifetime_s,
                                    f'{hand.handedness}/').markers
    return MarkerArray(markers=markers)


def skeleton_markers(header, result: HandResult, edges: Sequence[Tuple[int, int]],
                     lifetime_s: float, namespace: str = '') -> MarkerArray:
    """Joint spheres and bone lines of a detected hand (native joint order), coloured by its
    side; ``namespace`` goes before the markers' own (``hand_joints``, ``hand_bones``)."""
    lifetime = Duration(sec=int(lifetime_s), nanosec=int(lifetime_s % 1 * 1e9))
    joints = Marker(header=header, ns=f'{namespace}hand_joints', id=0, type=Marker.SPHERE_LIST,
                    action=Marker.ADD, lifetime=lifetime)
    joints.scale.x = joints.scale.y = joints.scale.z = JOINT_DIAMETER_M
    joints.color.r, joints.color.g, joints.color.b, joints.color.a = \
        JOINT_RGBA[result.handedness]
    joints.points = [point(p) for p in result.native_m]
    bones = Marker(header=header, ns=f'{namespace}hand_bones', id=1, type=Marker.LINE_LIST,
                   action=Marker.ADD, lifetime=lifetime)
    bones.scale.x = BONE_WIDTH_M
    bones.color.r, bones.color.g, bones.color.b, bones.color.a = BONE_RGBA[result.handedness]
    bones.points = [point(p) for p in bone_points(result.native_m, edges)]
    for marker in (joints, bones):
        marker.pose.orientation.w = 1.0
    return MarkerArray(markers=[joints, bones])


def clear_markers(header) -> MarkerArray:
    """Remove the skeleton at once (rather than waiting for its lifetime)."""
    return MarkerArray(markers=[Marker(header=header, action=Marker.DELETEALL)])


def point(xyz) -> Point:
    """A geometry_msgs Point of three numbers."""
    return Point(x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2]))


def transform(header, child: str, xyz, quaternion=(0.0, 0.0, 0.0, 1.0)) -> TransformStamped:
    """A TransformStamped from ``header.frame_id`` to ``child``."""
    stamped = TransformStamped(header=header, child_frame_id=child)
    t = stamped.transform
    t.translation.x, t.translation.y, t.translation.z = (float(v) for v in xyz)
    t.rotation.x, t.rotation.y, t.rotation.z, t.rotation.w = (float(v) for v in quaternion)
    return stamped


def bgr_image(header, image: np.ndarray) -> Image:
    """A bgr8 Image of an (H, W, 3) uint8 array."""
    height, width = image.shape[:2]
    return Image(header=header, height=height, width=width, encoding='bgr8', is_bigendian=0,
                 step=width * 3, data=np.ascontiguousarray(image).tobytes())
