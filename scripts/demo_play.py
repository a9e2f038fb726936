"""The demo's player: publishes a bag's depth stream in real time while the recorder listens.

One rclpy node publishes the recorded CDR unchanged (depth, camera info) on the bag's topics at
the bag's pace and spins the :class:`demo_record.OutputRecorder` subscriptions in between, so
the latency of every answer is measured on one clock.
"""

import time
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Set

import numpy as np

from demo_input import BagMessage, BagTopics, DemoError, Stamp
from demo_record import OutputRecorder

START_TIMEOUT_S = 120.0  # model load on a busy machine; the node subscribes once it is ready
SETTLE_S = 1.0  # after discovery, before the stream: the recorder's readers match the node
TAIL_S = 3.0  # after the last frame: longest wait for its answer
# Warm-up: the first inferences of a fresh process run several times slower (allocations,
# caches, thread pools), so the node sees the first frame this long before the measured stream.
WARMUP_S = 2.0
WARMUP_RATE_HZ = 15.0  # warm-up frames per second (slow enough never to drop one)
QUIET_S = 0.5  # no answer for this long: every warm-up frame is answered
LOCKSTEP_TIMEOUT_S = 3.0  # lockstep: the next frame goes out at the latest this long after one


@dataclass
class Still:
    """The raw input of a frame kept for the contact sheet."""

    depth: bytes  # the Image's CDR
    info: bytes  # CDR of the last CameraInfo before (or with) the frame


@dataclass
class Playback:
    """What the player sent and kept."""

    stamps: List[Stamp] = field(default_factory=list)  # header stamp of each depth frame sent
    sent_s: Dict[Stamp, float] = field(default_factory=dict)  # monotonic publish time
    truth: Dict[Stamp, bytes] = field(default_factory=dict)  # ground-truth CDR by stamp
    stills: Dict[Stamp, Still] = field(default_factory=dict)  # contact-sheet frames
    stream_s: float = 0.0  # wall time from the first frame to the end of the tail
    node_cpu_percent: float = float('nan')  # node process CPU over that time, % of one core


class PlayerRecorder:
    """An rclpy context with the player's publishers and the recorder (a context manager)."""

    def __init__(self, topics: BagTopics) -> None:
        """Create the node, the publishers on the bag's topics and the recorder.

        :param topics: the bag's depth and camera-info topics
        """
        import rclpy
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CameraInfo, Image
        self._rclpy = rclpy
        rclpy.init()
        self.node = rclpy.create_node('demo_player_recorder')
        # Reliable with a short queue, like a camera driver; the node reads best effort.
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self._publishers = {'depth': self.node.create_publisher(Image, topics.depth, qos),
                            'info': self.node.create_publisher(CameraInfo, topics.info, qos)}
        self.recorder = OutputRecorder(self.node)

    def __enter__(self) -> 'PlayerRecorder':
        return self

    def __exit__(self, *exc) -> None:
        self.node.destroy_node()
        self._rclpy.try_shutdown()

    def _spin_until(self, deadline: float) -> None:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._rclpy.spin_once(self.node, timeout_sec=min(left, 0.005))

    def wait_for_node(self, process, log_path) -> None:
        """Wait until the node subscribed to both topics (it does so once its model is loaded).

        :param process: the node's subprocess.Popen
        :param log_path: the node's log, named in errors
        :raises DemoError: the node exited or did not subscribe in time
        """
        deadline = time.monotonic() + START_TIMEOUT_S
        while any(p.get_subscription_count() == 0 for p in self._publishers.values()):
            if process.poll() is not None:
                lines = log_path.read_text(errors='replace').strip().splitlines()
                raise DemoError(f'hand_pose_node exited with code {process.returncode}: '
                                f'{lines[-1] if lines else "no output"} (log: {log_path})')
            if time.monotonic() > deadline:
                raise DemoError(f'hand_pose_node did not subscribe within {START_TIMEOUT_S:g} s '
                                f'(log: {log_path})')
            self._rclpy.spin_once(self.node, timeout_sec=0.1)
        self._spin_until(time.monotonic() + SETTLE_S)

    def warm_up(self, depth: bytes, info: bytes) -> int:
        """Feed the node one frame repeatedly until it answers (the lifecycle node subscribes
        when configured and loads its model on activate: new weights are compiled first), then
        for :data:`WARMUP_S` more, then forget its answers.

        :param depth: CDR of the frame
        :param info: CDR of its camera info
        :returns: the number of warm-up answers received (and discarded)
        :raises DemoError: no answer within :data:`START_TIMEOUT_S`
        """
        answers = self.recorder.messages['/hand_pose']
        deadline = time.monotonic() + START_TIMEOUT_S
        end = None
        while end is None or time.monotonic() < end:
            if end is None and answers:
                end = time.monotonic() + WARMUP_S
            if time.monotonic() > deadline:
                raise DemoError(f'hand_pose_node did not answer a frame within '
                                f'{START_TIMEOUT_S:g} s')
            self._publishers['info'].publish(info)
            self._publishers['depth'].publish(depth)
            self._spin_until(time.monotonic() + 1.0 / WARMUP_RATE_HZ)
        count, deadline = -1, time.monotonic() + TAIL_S
        while count != len(answers) and time.monotonic() < deadline:
            count = len(answers)
            self._spin_until(time.monotonic() + QUIET_S)
        self.recorder.clear()
        return count

    def play(self, messages: Iterable[BagMessage], stills: Set[int], process,
             first_info: Optional[bytes] = None, lockstep: bool = False) -> Playback:
        """Publish the messages at the bag's pace; keep what the report and figures need.

        In lockstep each depth frame waits for the answer to the previous one instead of the
        bag's clock: every frame is measured even when the machine is too busy for real time.

        :param messages: the bag's messages in time order (:meth:`InputBag.messages`)
        :param stills: indices of the depth frames to keep for the contact sheet
        :param process: the node's subprocess.Popen (its CPU use is measured)
        :param first_info: CDR of a camera info to send before the stream (a camera driver
            publishes it all along; a bag may start with a depth frame)
        :param lockstep: pace by the node's answers, not by the bag's time
        """
        import psutil
        node_process = psutil.Process(process.pid)
        node_process.cpu_percent(None)  # starts the measurement interval
        playback = Playback()
        info = first_info
        if info is not None:
            self._publishers['info'].publish(info)
        t0_bag = t0_wall = None
        for message in messages:
            if t0_bag is None:
                t0_bag, t0_wall = message.time_ns, time.monotonic()
            if not lockstep:
                self._spin_until(t0_wall + (message.time_ns - t0_bag) / 1e9)
            if message.kind == 'truth':
                playback.truth[message.stamp] = message.raw
                continue
            if message.kind == 'info':
                info = message.raw
            elif info is None:
                continue  # a frame before any camera info: the node could not use it either
            else:
                if len(playback.stamps) in stills:
                    playback.stills[message.stamp] = Still(message.raw, info)
                playback.stamps.append(message.stamp)
                playback.sent_s[message.stamp] = time.monotonic()
            answers = len(self.recorder.messages['/hand_pose'])
            self._publishers[message.kind].publish(message.raw)
            if lockstep and message.kind == 'depth':
                deadline = time.monotonic() + LOCKSTEP_TIMEOUT_S
                while (len(self.recorder.messages['/hand_pose']) == answers
                       and time.monotonic() < deadline):
                    self._rclpy.spin_once(self.node, timeout_sec=0.005)
        if not playback.stamps:
            raise DemoError('the bag has no depth frame after its first camera info')
        # Wait for the last answers (all frames answered, or the tail is over).
        deadline = time.monotonic() + TAIL_S
        while (time.monotonic() < deadline
               and len(self.recorder.messages['/hand_pose']) < len(playback.stamps)):
            self._rclpy.spin_once(self.node, timeout_sec=0.02)
        self._spin_until(time.monotonic() + QUIET_S)  # the last answer's TF and markers
        playback.stream_s = time.monotonic() - t0_wall
        playback.node_cpu_percent = float(node_process.cpu_percent(None))
        return playback


def latencies_ms(playback: Playback, poses) -> np.ndarray:
    """Publish-to-receive time of every answered frame, ms.

    :param playback: what was sent
    :param poses: (Received, HandPose) pairs from the recorder
    """
    values = []
    for received, pose in poses:
        sent = playback.sent_s.get((pose.header.stamp.sec, pose.header.stamp.nanosec))
        if sent is not None:
            values.append(1000.0 * (received.mono_s - sent))
    return np.array(values)
