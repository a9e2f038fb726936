"""The demo's input: a rosbag2 of depth frames, checked, with its topics chosen, read in order.

The default stream is synthetic (moving hands with ground truth, rendered by
``training.synth``); a user's bag of a real camera works the same way, without ground truth.
Everything that can be wrong with a bag (missing, unreadable, no depth topic, ambiguous topics)
raises :class:`DemoError` with one line naming the problem and the bag.
"""

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import numpy as np

from crossinfonet_ros.camera import Intrinsics
from crossinfonet_ros.node.ros_convert import image_to_mm

IMAGE_TYPE = 'sensor_msgs/msg/Image'
INFO_TYPE = 'sensor_msgs/msg/CameraInfo'
TRUTH_TYPE = 'geometry_msgs/msg/PoseArray'
SYNTH_SEED = 7  # the demo stream's seed (not used by training or evaluation)
SYNTH_FRAMES = 300  # the default stream: 10 s at 30 Hz
SYNTH_RATE_HZ = 30.0  # frame rate of the synthetic stream (a D435's depth rate)
SYNTH_START_NS = 1_700_000_000 * 10**9  # stamp of the first synthetic frame
TRUTH_SIDES = ('left', 'right')  # a two-hand bag's ground truth: these hands' joints in turn

Stamp = Tuple[int, int]  # header stamp (sec, nanosec): the key that ties a frame to its answers


class DemoError(Exception):
    """The demo cannot run; the message is one line naming what is wrong."""


@dataclass(frozen=True)
class BagTopics:
    """The topics of a bag the demo plays."""

    depth: str  # sensor_msgs/msg/Image depth topic
    info: str  # sensor_msgs/msg/CameraInfo topic of the same camera
    truth: Optional[str]  # geometry_msgs/msg/PoseArray ground-truth joints, None if absent
    frames: int  # depth messages in the bag


@dataclass(frozen=True)
class BagMessage:
    """One message of the input bag, in bag-time order."""

    time_ns: int  # bag (receive) time
    kind: str  # 'depth', 'info' or 'truth'
    raw: bytes  # CDR as recorded: what the player publishes unchanged
    stamp: Stamp  # header stamp of the message


def spread(count: int, wanted: int) -> List[int]:
    """Up to ``wanted`` distinct indices spread evenly over ``range(count)``, first and last in.

    :param count: number of items
    :param wanted: number of indices
    """
    if count <= 0 or wanted <= 0:
        return []
    return sorted({int(round(i)) for i in np.linspace(0, count - 1, min(wanted, count))})


def _topic_list(connections) -> str:
    return ', '.join(f'{c.topic} ({c.msgtype})' for c in connections) or 'none'


class InputBag:
    """An open rosbag2 of depth frames (use as a context manager)."""

    def __init__(self, path: Path) -> None:
        """Open the bag folder (or its .mcap / .db3 file).

        :param path: the bag
        :raises DemoError: missing path, not a readable rosbag2
        """
        from rosbags.highlevel import AnyReader
        from rosbags.typesys import Stores, get_typestore
        self.path = Path(path)
        if not self.path.exists():
            raise DemoError(f'no rosbag2 at {self.path}')
        if self.path.is_file() and (self.path.parent / 'metadata.yaml').is_file():
            self.path = self.path.parent  # the folder knows the bag's time span and counts
        self._reader = AnyReader([self.path], default_typestore=get_typestore(Stores.ROS2_JAZZY))
        try:
            self._reader.open()
        except Exception as error:  # rosbags raises several unrelated types; all mean the same
            raise DemoError(f'cannot read {self.path} as a rosbag2: '
                            f'{str(error).splitlines()[0] if str(error) else type(error).__name__}'
                            ) from None
        if not self._reader.is2:
            self._reader.close()
            raise DemoError(f'{self.path} is a ROS 1 bag; the demo plays rosbag2 (convert it '
                            f'with `rosbags-convert`)')
        self._connections = {c.topic: c for c in self._reader.connections}

    def __enter__(self) -> 'InputBag':
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the bag's files."""
        self._reader.close()

    def select_topics(self, depth_topic: Optional[str] = None,
                      info_topic: Optional[str] = None,
                      truth_topic: Optional[str] = None) -> BagTopics:
        """Choose the depth, camera-info and ground-truth topics.

        A topic not given is the bag's only one of its type; the ground truth is optional.

        :param depth_topic: the depth image topic, or None to detect it
        :param info_topic: the camera info topic, or None to detect it
        :param truth_topic: the ground-truth topic, used only if the bag has it
        :raises DemoError: a given topic is missing or has the wrong type, none or several
            candidates, no messages
        """
        depth = self._choose(depth_topic, IMAGE_TYPE, 'depth image', '--depth-topic')
        info = self._choose(info_topic, INFO_TYPE, 'camera info', '--info-topic')
        for topic in (depth, info):
            if not self._connections[topic].msgcount:
                raise DemoError(f'topic {topic} in {self.path} holds no messages')
        truth = self._connections.get(truth_topic)
        truth_name = truth.topic if truth is not None and truth.msgtype == TRUTH_TYPE else None
        return BagTopics(depth, info, truth_name, int(self._connections[depth].msgcount))

    def _choose(self, given: Optional[str], msgtype: str, what: str, option: str) -> str:
        candidates = [c for c in self._connections.values() if c.msgtype == msgtype]
        if given:
            connection = self._connections.get(given)
            if connection is None:
                raise DemoError(f'topic {given} is not in {self.path} ({what} topics there: '
                                f'{_topic_list(candidates)})')
            if connection.msgtype != msgtype:
                raise DemoError(f'topic {given} in {self.path} is {connection.msgtype}, '
                                f'not a {what} ({msgtype})')
            return given
        if len(candidates) == 1:
            return candidates[0].topic
        if not candidates:
            raise DemoError(f'{self.path} has no {what} topic ({msgtype}); its topics: '
                            f'{_topic_list(self._connections.values())}')
        raise DemoError(f'{self.path} has {len(candidates)} {what} topics, choose one with '
                        f'{option}: {", ".join(c.topic for c in candidates)}')

    def messages(self, topics: BagTopics, frames: int) -> Iterator[BagMessage]:
        """The bag's depth, info and truth messages in time order, up to frame ``frames``.

        Messages stamped like the last wanted depth frame (its camera info, its ground truth)
        still come; the stream stops at the next depth frame or later time.

        :param topics: the chosen topics
        :param frames: how many depth frames to play
        """
        kinds = {topics.depth: 'depth', topics.info: 'info'}
        if topics.truth:
            kinds[topics.truth] = 'truth'
        wanted = [self._connections[topic] for topic in kinds]
        played, last_ns = 0, None
        for connection, time_ns, raw in self._reader.messages(connections=wanted):
            kind = kinds[connection.topic]
            if last_ns is not None and (kind == 'depth' or time_ns > last_ns):
                return
            message = self._reader.deserialize(raw, connection.msgtype)
            stamp = (int(message.header.stamp.sec), int(message.header.stamp.nanosec))
            yield BagMessage(int(time_ns), kind, bytes(raw), stamp)
            if kind == 'depth':
                played += 1
                if played >= frames:
                    last_ns = time_ns

    def first_raw(self, topic: str) -> bytes:
        """The CDR of the first message on a topic of the bag.

        :param topic: a topic of the bag with messages
        """
        for _, _, raw in self._reader.messages(connections=[self._connections[topic]]):
            return bytes(raw)
        raise DemoError(f'topic {topic} in {self.path} holds no messages')

    def decode_depth(self, raw: bytes) -> np.ndarray:
        """Depth in mm of a recorded Image (the node's own converter: encoding, step, endianness).

        :param raw: the Image's CDR
        """
        return image_to_mm(self._reader.deserialize(raw, IMAGE_TYPE))

    def decode_info(self, raw: bytes) -> Intrinsics:
        """The pinhole intrinsics of a recorded CameraInfo.

        :param raw: the CameraInfo's CDR
        """
        info = self._reader.deserialize(raw, INFO_TYPE)
        return Intrinsics.from_k(info.k, info.width, info.height)

    def decode_truth(self, raw: bytes) -> np.ndarray:
        """Ground-truth joints (J, 3) in metres of a recorded PoseArray.

        :param raw: the PoseArray's CDR
        """
        poses = self._reader.deserialize(raw, TRUTH_TYPE).poses
        return np.array([[p.position.x, p.position.y, p.position.z] for p in poses])


def _depth_frames_in(bag: Path) -> int:
    """Depth frames of an existing synthetic bag, 0 when it is unreadable."""
    try:
        with InputBag(bag) as existing:
            return existing.select_topics().frames
    except DemoError:
        return 0


def synthetic_bag(out: Path, frames: int = SYNTH_FRAMES, hands: int = 1) -> Path:
    """The demo's synthetic stream as a rosbag2 of at least ``frames`` frames, rendered once.

    The bag (``out/input_bag``, or ``out/input_bag_two_hands`` for ``hands=2``; mcap, topics
    of :mod:`training.synth.writers`) is reused while it holds enough frames, so a second run
    starts at once. The two-hand stream crosses the hands there and back, once a second
    (``training.synth.two_hands.back_and_forth``, the left hand passing behind the right one);
    its ground truth holds the left hand's joints, then the right hand's (:data:`TRUTH_SIDES`).

    :param out: the demo's output folder
    :param frames: the number of frames needed
    :param hands: 1 or 2 hands in the stream
    """
    from training.synth.writers import Rosbag2Writer
    bag = out / ('input_bag' if hands == 1 else 'input_bag_two_hands')
    if (bag / 'metadata.yaml').exists() and _depth_frames_in(bag) >= frames:
        return bag
    print(f'[demo] rendering {frames} synthetic frames into {bag} (first run only)', flush=True)
    # Rendered aside and moved in place: an interrupted run never leaves half a bag behind.
    # The bag's file is named after its folder, hence the folder named like the final one.
    partial = out / f'.{bag.name}.partial'
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    with Rosbag2Writer(partial / bag.name) as writer:
        for index, (depth_mm, intrinsics, joints_mm) in enumerate(_synthetic_frames(frames,
                                                                                    hands)):
            writer.write_frame(SYNTH_START_NS + round(index / SYNTH_RATE_HZ * 1e9), depth_mm,
                               intrinsics, joints_mm)
    shutil.rmtree(bag, ignore_errors=True)
    (partial / bag.name).rename(bag)
    partial.rmdir()
    return bag


def _synthetic_frames(frames: int, hands: int) -> Iterator[tuple]:
    """(depth mm, intrinsics, joints mm) of the synthetic stream's frames."""
    if hands == 1:
        from training.synth.motion import stream_frames
        for _, sample in stream_frames(SYNTH_SEED, frames, SYNTH_RATE_HZ):
            yield sample.depth_mm, sample.intrinsics, sample.joints_mm
        return
    from training.evaluate_two_hands import CAMERA
    from training.synth.two_hands import back_and_forth
    for frame in back_and_forth(SYNTH_SEED, frames):
        yield frame.depth_mm, CAMERA, np.concatenate([frame.joints_mm[side]
                                                      for side in TRUTH_SIDES])
