"""A depth camera driver stand-in, and the installed hand_pose_node as a child process.

Shared by the benchmarks (bench_node_latency.py, soak.py) and the DDS tests
(test/node_process.py). As a script it is the camera driver in its own process: it renders a
loop of moving hands once, then publishes them as 16UC1 images plus camera info at a fixed rate
with RELIABLE publishers (as camera drivers do), each stamped with the wall clock at
publication, until killed or ``--seconds`` have passed::

    python bench/stream_publisher.py [--rate 30] [--seconds 0] [--frames 60] [--scale 1.0]
        [--ros-args -r depth/image:=/camera/depth -r __ns:=/camera ...]

What follows ``--ros-args`` goes to rclpy (remaps, a namespace). It prints ``streaming`` once
the first frame is out. The caller sets the ROS environment (``source scripts/env.sh``; the DDS
defaults below apply when run as a script).
"""

import argparse
from dataclasses import dataclass, replace
import os
from pathlib import Path
import subprocess
import sys
import time
from typing import List, Optional, Sequence, Tuple

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / 'config' / 'fastdds_profile.xml'
FRAME_ID = 'camera_depth_optical_frame'


PROFILE_VARIABLES = ('FASTRTPS_DEFAULT_PROFILES_FILE', 'FASTDDS_DEFAULT_PROFILES_FILE')


def use_project_dds_defaults(domain_base: int = 120, profile: bool = True) -> None:
    """Before rclpy starts DDS: the project's Fast DDS profile (unless one is set; with
    ``profile=False`` no profile at all: Fast DDS defaults), loopback discovery and a domain of
    this process's own (a running graph must not interfere)."""
    for variable in PROFILE_VARIABLES:
        if profile:
            os.environ.setdefault(variable, str(PROFILE))
        else:
            os.environ.pop(variable, None)
    os.environ.setdefault('ROS_DOMAIN_ID', str(domain_base + os.getpid() % 80))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')


def node_executable() -> Path:
    """The installed hand_pose_node executable.

    :raises RuntimeError: the ROS environment is not set up
    """
    prefix = os.environ.get('CROSSINFONET_INSTALL')
    if not prefix:
        raise RuntimeError('CROSSINFONET_INSTALL is not set: `source scripts/env.sh` first')
    return Path(prefix) / 'crossinfonet_ros' / 'lib' / 'crossinfonet_ros' / 'hand_pose_node'


def child_env() -> dict:
    """This environment with the source tree first on PYTHONPATH and unbuffered output."""
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    env['PYTHONPATH'] = os.pathsep.join(p for p in (str(ROOT), env.get('PYTHONPATH')) if p)
    return env


def start_node(*parameters: str, ros_args: Sequence[str] = (),
               **popen_kwargs) -> subprocess.Popen:
    """Start hand_pose_node with config/hand.yaml and ``name:=value`` parameter overrides.

    :param ros_args: more ROS arguments (e.g. ``-r __ns:=/foo --params-file F``), after the
        shipped file and before the overrides, so the overrides still win
    """
    overrides = [arg for parameter in parameters for arg in ('-p', parameter)]
    return subprocess.Popen([str(node_executable()), '--ros-args', '--params-file',
                             str(ROOT / 'config' / 'hand.yaml'), *ros_args, *overrides],
                            env=child_env(), **popen_kwargs)


def start_stream_process(*args: str, **popen_kwargs) -> subprocess.Popen:
    """Run this file as a separate camera-driver process (arguments as its command line)."""
    return subprocess.Popen([sys.executable, str(Path(__file__).resolve()), *args],
                            env=child_env(), **popen_kwargs)


@dataclass(frozen=True)
class Frame:
    """One pre-rendered (or recorded) frame and its ground truth, where there is one."""

    image: dict  # sensor_msgs/Image fields (ros_convert.encode_depth)
    intrinsics: object  # crossinfonet_ros.camera.Intrinsics of the frame
    joints_mm: Optional[np.ndarray] = None  # (21, 3) true joints, camera frame
    center_mm: Optional[np.ndarray] = None  # (3,) true palm centre, camera frame


def camera_at(width: int, height: int):
    """The 640x480 D435 camera's focal length on a ``width`` x ``height`` image, principal point
    at its centre (as the D435's 848x480 mode: the same focal length, a wider view).

    :returns: crossinfonet_ros.camera.Intrinsics
    """
    from crossinfonet_ros.camera import D435_640X480 as base
    return replace(base, cx=base.cx + (width - base.width) / 2,
                   cy=base.cy + (height - base.height) / 2, width=width, height=height)


def render_loop(seed: int, count: int, rate_hz: float = 30.0, scale: float = 1.0,
                clutter: bool = False, size: Optional[Tuple[int, int]] = None) -> List[Frame]:
    """``count`` consecutive frames of one moving hand (training.synth.motion).

    :param scale: camera resolution and focal length relative to the 640x480 D435 (0.5: 320x240)
    :param clutter: include the body, table and objects (the nearest-object detector then
        sometimes locks on them: off by default so the stream measures the node)
    :param size: ``(width, height)`` of the camera (:func:`camera_at`) before ``scale``;
        default 640x480
    """
    from training.synth.clutter import ClutterConfig
    from training.synth.motion import stream_frames
    from training.synth.scene import SynthConfig
    config = SynthConfig(clutter=ClutterConfig(enabled=clutter))
    if size is not None:
        config = replace(config, intrinsics=camera_at(*size))
    if scale != 1.0:
        config = replace(config, intrinsics=config.intrinsics.scaled(scale))
    return frames_from_samples(sample for _, sample in stream_frames(seed, count, rate_hz, config))


def png_frames(paths: Sequence[Path], depth_scale_m: float,
               pinhole: Tuple[float, float, float, float]) -> List[Frame]:
    """Recorded frames: 16-bit depth PNGs (``depth_scale_m`` metres per unit) as 16UC1 mm, the
    encoding camera drivers publish, so the node runs with its default parameters.

    :param pinhole: ``(fx, fy, cx, cy)`` of the recording camera, pixels; the image size is the
        first PNG's
    :raises ValueError: a file that is no 16-bit depth PNG, one of another size than the first,
        or intrinsics that describe no camera
    """
    from crossinfonet_ros.camera import Intrinsics
    from crossinfonet_ros.node.ros_convert import encode_depth
    from training.datasets.common import DatasetError, check_image_size, read_png_depth16
    frames, camera = [], None
    for path in paths:
        try:
            raw = read_png_depth16(path)
            if camera is None:
                camera = Intrinsics(*pinhole, raw.shape[1], raw.shape[0])
            check_image_size(raw, camera, path)
        except DatasetError as error:
            raise ValueError(str(error)) from None
        frames.append(Frame(encode_depth(raw * (depth_scale_m * 1000.0)), camera))
    return frames


def two_hand_loop(seed: int, count: int) -> List[Frame]:
    """``count`` frames of two hands crossing and crossing back (training.synth.two_hands), a
    loop without a jump; the ground truth is left out (two hands)."""
    from crossinfonet_ros.camera import D435_640X480
    from crossinfonet_ros.node.ros_convert import encode_depth
    from training.synth.two_hands import crossing_stream
    there = [frame.depth_mm for frame in crossing_stream(seed, max(2, count // 2))]
    return [Frame(encode_depth(depth), D435_640X480) for depth in there + there[::-1]]


def frames_from_samples(samples) -> List[Frame]:
    """Frames of full-frame rendered samples (training.datasets.sample.Sample)."""
    from crossinfonet_ros.node.ros_convert import encode_depth
    return [Frame(encode_depth(sample.depth_mm), sample.intrinsics, sample.joints_mm,
                  np.asarray(sample.center_mm)) for sample in samples]


def camera_info(intrinsics, stamp: Optional[Tuple[int, int]] = None):
    """A sensor_msgs/CameraInfo for ``intrinsics``."""
    from sensor_msgs.msg import CameraInfo
    info = CameraInfo(width=intrinsics.width, height=intrinsics.height)
    info.header.frame_id = FRAME_ID
    info.k = [float(v) for v in intrinsics.matrix().reshape(-1)]
    if stamp is not None:
        info.header.stamp.sec, info.header.stamp.nanosec = stamp
    return info


def reliable_qos():
    """What camera drivers publish with: RELIABLE, keep last 1."""
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                      reliability=ReliabilityPolicy.RELIABLE)


class StreamPublisher:
    """Publishes frames of a loop, re-stamped with the wall clock, image and camera info alike.

    :param node: the rclpy node to publish from
    :param frames: the loop (:func:`render_loop`)
    """

    def __init__(self, node, frames: List[Frame]) -> None:
        from sensor_msgs.msg import CameraInfo, Image
        self.frames = frames
        # Built once: filling a 640x480 Image's data took ~9 ms here, more than a 90 Hz period.
        self._images = [Image(**frame.image) for frame in frames]
        self._infos = [camera_info(frame.intrinsics) for frame in frames]
        for msg in self._images:
            msg.header.frame_id = FRAME_ID
        self.image_pub = node.create_publisher(Image, 'depth/image', reliable_qos())
        self.info_pub = node.create_publisher(CameraInfo, 'depth/camera_info', reliable_qos())

    def publish(self, index: int) -> Tuple[Tuple[int, int], int]:
        """Publish frame ``index`` (modulo the loop); returns its stamp (sec, nanosec) and the
        wall-clock publication time, ns (the stamp, taken just before publishing)."""
        msg, info = self._images[index % len(self.frames)], self._infos[index % len(self.frames)]
        now = time.time_ns()
        stamp = divmod(now, 10**9)
        info.header.stamp.sec, info.header.stamp.nanosec = stamp
        msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
        self.info_pub.publish(info)
        self.image_pub.publish(msg)
        return stamp, now


def pace(node, start: float, index: int, rate_hz: float) -> None:
    """Spin ``node`` until frame ``index + 1`` of a stream started at ``start`` is due."""
    import rclpy
    due = start + (index + 1) / rate_hz
    while time.monotonic() < due:
        rclpy.spin_once(node, timeout_sec=max(0.0, due - time.monotonic()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rate', type=float, default=30.0, help='frames per second')
    parser.add_argument('--seconds', type=float, default=0.0, help='0 = until killed')
    parser.add_argument('--frames', type=int, default=60, help='length of the rendered loop')
    parser.add_argument('--seed', type=int, default=7)
    parser.add_argument('--scale', type=float, default=1.0, help='0.5 = 320x240 camera')
    parser.add_argument('--hands', type=int, choices=(1, 2), default=1,
                        help='2 = both hands crossing and back (640x480; --scale ignored)')
    argv = sys.argv[1:]
    # rclpy reads the ROS arguments from sys.argv itself.
    args = parser.parse_args(argv[:argv.index('--ros-args')] if '--ros-args' in argv else argv)
    sys.path.insert(0, str(ROOT))
    use_project_dds_defaults()
    frames = (two_hand_loop(args.seed, args.frames) if args.hands == 2
              else render_loop(args.seed, args.frames, args.rate, args.scale))
    import rclpy
    rclpy.init()
    node = rclpy.create_node('fake_depth_camera')
    stream = StreamPublisher(node, frames)
    start, index = time.monotonic(), 0
    try:
        while not args.seconds or index < args.seconds * args.rate:
            stream.publish(index)
            if index == 0:
                print('streaming', flush=True)
            pace(node, start, index, args.rate)
            index += 1
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
