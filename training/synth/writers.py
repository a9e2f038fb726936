"""Write synthetic frames to disk: the HANDS2017 on-disk format or a rosbag2 (mcap) bag.

HANDS2017 (spec 5.1), read back by :class:`training.datasets.hands2017.Hands2017Dataset`::

    <out>/training/images/image_D%08d.png     16-bit single-channel PNG, depth in mm (1-based)
    <out>/training/Training_Annotation.txt    image_D%08d.png x1 y1 z1 ... x21 y21 z21 (mm)
    <out>/training/intrinsics.json            fx, fy, cx, cy, width, height of the frames

rosbag2 (mcap storage, ROS 2 Jazzy message definitions, written with ``rosbags``):

* ``/camera/depth/image_raw``: ``sensor_msgs/msg/Image``, 16UC1, mm, little endian;
* ``/camera/depth/camera_info``: ``sensor_msgs/msg/CameraInfo`` (K, P, R = I, D = 0,
  'plumb_bob');
* ``/hand_ground_truth``: ``geometry_msgs/msg/PoseArray``, the 21 joints in HANDS2017 order,
  positions in metres in the optical frame, identity orientations.

Every message of a frame carries the same header (stamp, frame_id
``camera_depth_optical_frame``); the bag's receive time equals the stamp.
"""

import json
from pathlib import Path
from typing import Iterable, Tuple

import cv2
import numpy as np

from crossinfonet_ros.camera import Intrinsics
from training.datasets.common import INTRINSICS_FILE
from training.datasets.hands2017 import ANNOTATION_FILE
from training.datasets.sample import Sample

DEPTH_TOPIC = '/camera/depth/image_raw'
INFO_TOPIC = '/camera/depth/camera_info'
JOINTS_TOPIC = '/hand_ground_truth'
FRAME_ID = 'camera_depth_optical_frame'
IMAGE_NAME = 'image_D{:08d}.png'  # HANDS2017 naming, 1-based


def depth_to_uint16(depth_mm: np.ndarray) -> np.ndarray:
    """Depth in mm as uint16 (rounded, clipped to 0..65535; no reading stays 0).

    :param depth_mm: (H, W) depth in mm
    """
    return np.clip(np.rint(np.nan_to_num(depth_mm, nan=0.0)), 0, 65535).astype(np.uint16)


def write_hands2017(out_dir: Path, samples: Iterable[Sample]) -> int:
    """Write full frames in the HANDS2017 training layout under ``out_dir/training``.

    :param out_dir: dataset root (created with its parents if missing)
    :param samples: full-frame samples of one camera
    :returns: the number of frames written
    :raises ValueError: when samples disagree on the camera
    """
    folder = Path(out_dir) / 'training'
    images = folder / 'images'
    images.mkdir(parents=True, exist_ok=True)
    camera = None
    count = 0
    with open(folder / ANNOTATION_FILE, 'w', encoding='utf-8') as annotation:
        for count, sample in enumerate(samples, start=1):
            if camera is None:
                camera = sample.intrinsics
            elif sample.intrinsics != camera:
                raise ValueError(f'{sample.name}: camera {sample.intrinsics} differs from the '
                                 f'first frame\'s {camera}')
            name = IMAGE_NAME.format(count)
            if not cv2.imwrite(str(images / name), depth_to_uint16(sample.depth_mm)):
                raise OSError(f'{images / name}: cannot write the depth PNG')
            numbers = '\t'.join(f'{value:.4f}' for value in sample.joints_mm.reshape(-1))
            annotation.write(f'{name}\t{numbers}\n')
    if camera is not None:
        (folder / INTRINSICS_FILE).write_text(json.dumps(
            {'fx': camera.fx, 'fy': camera.fy, 'cx': camera.cx, 'cy': camera.cy,
             'width': camera.width, 'height': camera.height}, indent=2) + '\n', encoding='utf-8')
    return count


class Rosbag2Writer:
    """Write depth frames, camera info and ground-truth joints to a new mcap rosbag2.

    Use as a context manager; :meth:`write` one frame at a time.
    """

    def __init__(self, bag_dir: Path) -> None:
        """Prepare a bag at ``bag_dir`` (must not exist yet; its parent must).

        :param bag_dir: the bag directory to create
        """
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import Stores, get_typestore
        self.typestore = get_typestore(Stores.ROS2_JAZZY)
        self._writer = Writer(Path(bag_dir), version=9, storage_plugin=StoragePlugin.MCAP)
        self._connections = {}

    def __enter__(self) -> 'Rosbag2Writer':
        self._writer.open()
        for topic, msgtype in ((DEPTH_TOPIC, 'sensor_msgs/msg/Image'),
                               (INFO_TOPIC, 'sensor_msgs/msg/CameraInfo'),
                               (JOINTS_TOPIC, 'geometry_msgs/msg/PoseArray')):
            self._connections[topic] = self._writer.add_connection(
                topic, msgtype, typestore=self.typestore)
        return self

    def __exit__(self, *exc) -> None:
        self._writer.close()

    def _header(self, stamp_ns: int):
        types = self.typestore.types
        stamp = types['builtin_interfaces/msg/Time'](sec=int(stamp_ns // 1_000_000_000),
                                                      nanosec=int(stamp_ns % 1_000_000_000))
        return types['std_msgs/msg/Header'](stamp=stamp, frame_id=FRAME_ID)

    def write(self, stamp_ns: int, sample: Sample) -> None:
        """Write one frame's three messages stamped ``stamp_ns``.

        :param stamp_ns: header stamp and bag time, nanoseconds
        :param sample: a full-frame sample
        """
        self.write_frame(stamp_ns, sample.depth_mm, sample.intrinsics, sample.joints_mm)

    def write_frame(self, stamp_ns: int, depth_mm: np.ndarray, intrinsics: Intrinsics,
                    joints_mm: np.ndarray) -> None:
        """Write a depth frame, its camera info and ground-truth joints stamped ``stamp_ns``.

        :param joints_mm: (J, 3) joints, mm; a two-hand frame's left hand's, then its right's
        """
        types = self.typestore.types
        header = self._header(stamp_ns)
        depth = depth_to_uint16(depth_mm)
        height, width = depth.shape
        image = types['sensor_msgs/msg/Image'](
            header=header, height=height, width=width, encoding='16UC1', is_bigendian=0,
            step=2 * width, data=depth.astype('<u2').view(np.uint8).reshape(-1))
        info = camera_info_message(types, header, intrinsics)
        pose = types['geometry_msgs/msg/Pose']
        point, quaternion = types['geometry_msgs/msg/Point'], types['geometry_msgs/msg/Quaternion']
        poses = [pose(position=point(x=float(x), y=float(y), z=float(z)),
                      orientation=quaternion(x=0.0, y=0.0, z=0.0, w=1.0))
                 for x, y, z in joints_mm / 1000.0]
        joints = types['geometry_msgs/msg/PoseArray'](header=header, poses=poses)
        for topic, message in ((DEPTH_TOPIC, image), (INFO_TOPIC, info), (JOINTS_TOPIC, joints)):
            data = self.typestore.serialize_cdr(message, self._connections[topic].msgtype)
            self._writer.write(self._connections[topic], int(stamp_ns), data)


def camera_info_message(types, header, intrinsics: Intrinsics):
    """A ``sensor_msgs/msg/CameraInfo`` for a distortion-free pinhole camera.

    :param types: the typestore's message classes
    :param header: the message header
    :param intrinsics: the camera
    """
    k = intrinsics.matrix().reshape(-1)
    p = np.array([intrinsics.fx, 0.0, intrinsics.cx, 0.0, 0.0, intrinsics.fy, intrinsics.cy,
                  0.0, 0.0, 0.0, 1.0, 0.0])
    roi = types['sensor_msgs/msg/RegionOfInterest'](x_offset=0, y_offset=0, height=0, width=0,
                                                    do_rectify=False)
    return types['sensor_msgs/msg/CameraInfo'](
        header=header, height=intrinsics.height, width=intrinsics.width,
        distortion_model='plumb_bob', d=np.zeros(5), k=k, r=np.eye(3).reshape(-1), p=p,
        binning_x=0, binning_y=0, roi=roi)


def write_rosbag2(bag_dir: Path, frames: Iterable[Tuple[int, Sample]]) -> int:
    """Write (stamp in ns, full-frame sample) pairs to a new mcap bag at ``bag_dir``.

    :param bag_dir: the bag directory to create (must not exist; its parent must)
    :param frames: the frames in time order
    :returns: the number of frames written
    """
    count = 0
    with Rosbag2Writer(bag_dir) as writer:
        for stamp_ns, sample in frames:
            writer.write(stamp_ns, sample)
            count += 1
    return count
