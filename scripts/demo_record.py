"""The demo's recorder: subscribes to the node's outputs like any user and keeps them as a bag.

HandPose, /tf and the RViz markers are received as raw CDR (nothing is decoded while the stream
plays) with their receive times, and written unchanged into an mcap rosbag2 that ``rosbags``
reads back and ``ros2 bag play`` replays into RViz.
"""

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Set, Tuple

ROOT = Path(__file__).resolve().parent.parent
HANDPOSE_MSG = ROOT / 'msg' / 'HandPose.msg'
HANDPOSE_TYPE = 'crossinfonet_ros/msg/HandPose'
HANDPOSE_ARRAY_MSG = ROOT / 'msg' / 'HandPoseArray.msg'
HANDPOSE_ARRAY_TYPE = 'crossinfonet_ros/msg/HandPoseArray'
# topic the node publishes on (root namespace) -> message type, as the recorder records them
RECORDED_TOPICS = {
    '/hand_pose': HANDPOSE_TYPE,
    '/hands': HANDPOSE_ARRAY_TYPE,
    '/tf': 'tf2_msgs/msg/TFMessage',
    '/hand_markers': 'visualization_msgs/msg/MarkerArray',
}


@dataclass(frozen=True)
class Received:
    """One recorded message."""

    wall_ns: int  # receive time, system clock, ns: the output bag's time stamp
    mono_s: float  # receive time, monotonic clock, s: for latency against the player's clock
    raw: bytes  # the message's CDR, as it came over DDS


def message_class(msgtype: str):
    """The rclpy message class of one of :data:`RECORDED_TOPICS`' types."""
    from tf2_msgs.msg import TFMessage
    from visualization_msgs.msg import MarkerArray

    from crossinfonet_ros.msg import HandPose, HandPoseArray
    return {HANDPOSE_TYPE: HandPose, HANDPOSE_ARRAY_TYPE: HandPoseArray,
            'tf2_msgs/msg/TFMessage': TFMessage,
            'visualization_msgs/msg/MarkerArray': MarkerArray}[msgtype]


class OutputRecorder:
    """Raw subscriptions to the node's outputs on an rclpy node; keeps every message."""

    def __init__(self, node) -> None:
        """Subscribe on ``node`` to :data:`RECORDED_TOPICS`.

        :param node: an rclpy node spun by the caller
        """
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
        # Reliable with a deep queue: a recorder must not lose what the node sent.
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=200,
                         reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.VOLATILE)
        self.messages: Dict[str, List[Received]] = {topic: [] for topic in RECORDED_TOPICS}
        for topic, msgtype in RECORDED_TOPICS.items():
            node.create_subscription(message_class(msgtype), topic, self._keeper(topic), qos,
                                     raw=True)

    def _keeper(self, topic: str):
        store = self.messages[topic]

        def keep(raw: bytes) -> None:
            store.append(Received(time.time_ns(), time.monotonic(), bytes(raw)))
        return keep

    def clear(self) -> None:
        """Forget everything received so far (e.g. the answers to warm-up frames)."""
        for items in self.messages.values():
            items.clear()


    def answering(self, stamps: Set[Tuple[int, int]]) -> Tuple[Dict[str, List[Received]], int]:
        """The messages that answer the given frames (by header stamp), and how many did not.

        Another process on the same ROS domain may publish on the same topics; its messages
        carry other stamps and stay out of the demo's figures and output bag.

        :param stamps: header stamps (sec, nanosec) of the frames the demo sent
        :returns: (topic -> kept messages, number of messages left out)
        """
        from rclpy.serialization import deserialize_message

        def headers(topic: str, raw: bytes):
            message = deserialize_message(raw, message_class(RECORDED_TOPICS[topic]))
            if topic == '/tf':
                return [t.header for t in message.transforms]
            if topic == '/hand_markers':
                return [m.header for m in message.markers]
            return [message.header]

        kept, left_out = {}, 0
        for topic, items in self.messages.items():
            kept[topic] = [item for item in items
                           if any((h.stamp.sec, h.stamp.nanosec) in stamps
                                  for h in headers(topic, item.raw))]
            left_out += len(items) - len(kept[topic])
        return kept, left_out


def hand_poses(received: List[Received], kind: str = HANDPOSE_TYPE) -> list:
    """Decode received HandPose (or HandPoseArray) messages.

    :param received: the messages of ``/hand_pose`` (or ``/hands``)
    :param kind: their type, :data:`HANDPOSE_TYPE` or :data:`HANDPOSE_ARRAY_TYPE`
    :returns: list of (Received, message)
    """
    from rclpy.serialization import deserialize_message

    return [(item, deserialize_message(item.raw, message_class(kind))) for item in received]


def output_typestore():
    """A Jazzy ``rosbags`` typestore that also knows the package's HandPose and HandPoseArray."""
    from rosbags.typesys import Stores, get_typestore, get_types_from_msg
    typestore = get_typestore(Stores.ROS2_JAZZY)
    for path, name in ((HANDPOSE_MSG, HANDPOSE_TYPE), (HANDPOSE_ARRAY_MSG, HANDPOSE_ARRAY_TYPE)):
        typestore.register(get_types_from_msg(path.read_text(encoding='utf-8'), name))
    return typestore


def write_output_bag(path: Path, messages: Dict[str, List[Received]]) -> int:
    """Write the recorded messages into a new mcap rosbag2, stamped with their receive times.

    :param path: the bag folder to create (replaced if it exists; its parent must exist)
    :param messages: topic -> received messages (topics of :data:`RECORDED_TOPICS`)
    :returns: the number of messages written
    """
    import shutil

    from rosbags.rosbag2 import StoragePlugin, Writer
    typestore = output_typestore()
    shutil.rmtree(path, ignore_errors=True)
    ordered = sorted((item.wall_ns, topic, item.raw)
                     for topic, items in messages.items() for item in items)
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        connections = {topic: writer.add_connection(topic, RECORDED_TOPICS[topic],
                                                    typestore=typestore)
                       for topic in messages}
        for wall_ns, topic, raw in ordered:
            writer.write(connections[topic], wall_ns, raw)
    return len(ordered)
