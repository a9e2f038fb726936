"""Write tiny datasets in the real on-disk formats (spec 5.1) for the loader and augment tests.

Each writer takes ground truth in OUR convention (mm, optical frame: x right, y down, z forward)
and stores it the way the real dataset does, conventions included, so a loader that forgets a
conversion fails the round trip.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from crossinfonet_ros.camera import Intrinsics

ICVL_CAMERA = Intrinsics(241.42, 241.42, 160.0, 120.0, 320, 240)
NYU_CAMERA = Intrinsics(588.03, 587.07, 320.0, 240.0, 640, 480)
MSRA_CAMERA = Intrinsics(241.42, 241.42, 160.0, 120.0, 320, 240)
HANDS2017_CAMERA = Intrinsics(475.065948, 475.065857, 315.944855, 245.287079, 640, 480)


def random_hand(num_joints: int, rng: np.random.Generator, depth_mm: float = 500.0,
                spread_mm: float = 50.0) -> np.ndarray:
    """Joints scattered around a point in front of the camera, optical frame, mm."""
    center = np.array([rng.uniform(-30, 30), rng.uniform(-30, 30), depth_mm])
    return center + rng.uniform(-spread_mm, spread_mm, size=(num_joints, 3))


def render_blobs(camera: Intrinsics, joints_mm: np.ndarray, radius_px: int = 2) -> np.ndarray:
    """Depth image (mm, 0 = no reading) with a small square of each joint's depth at its pixel."""
    depth = np.zeros((camera.height, camera.width), dtype=np.float32)
    for u, v, d in camera.project(joints_mm):
        col, row = int(round(u)), int(round(v))
        depth[max(row - radius_px, 0):row + radius_px + 1,
              max(col - radius_px, 0):col + radius_px + 1] = d
    return depth


def write_png16(path: Path, depth_mm: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.round(depth_mm).astype(np.uint16))


def write_icvl(folder: Path, label_name: str, prefix: str, hands: Sequence[np.ndarray],
               camera: Intrinsics = ICVL_CAMERA) -> list[str]:
    """ICVL: ``<folder>/<label_name>`` with ``relpath u v d ...`` and 16-bit PNGs in Depth/."""
    lines, names = [], []
    for index, joints in enumerate(hands):
        name = f'{prefix}/image_{index:04d}.png'
        write_png16(folder / 'Depth' / name, render_blobs(camera, joints))
        uvd = camera.project(joints)  # ICVL is y-down: plain projection
        lines.append(name + ' ' + ' '.join(f'{value:.4f}' for value in uvd.reshape(-1)))
        names.append(name)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / label_name).write_text('\n'.join(lines) + '\n')
    return names


def nyu_png(depth_mm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """NYU packing as OpenCV BGR: B = low byte, G = high byte, R = unrelated noise."""
    value = np.round(depth_mm).astype(np.uint16)
    image = np.zeros(depth_mm.shape + (3,), dtype=np.uint8)
    image[..., 0] = value & 0xFF
    image[..., 1] = value >> 8
    image[..., 2] = rng.integers(0, 256, size=depth_mm.shape, dtype=np.uint8)
    return image


def write_nyu(root: Path, split: str, hands36: Sequence[np.ndarray],
              rng: np.random.Generator, centers: Sequence[str] | None = None) -> None:
    """NYU: ``joint_data.mat`` ([3][N][36][3], y up) and RGB-packed ``depth_1_*.png``."""
    import scipy.io

    folder = root / split
    folder.mkdir(parents=True, exist_ok=True)
    truth = np.stack(hands36)  # (N, 36, 3), optical
    nyu_xyz = truth * np.array([1.0, -1.0, 1.0])  # NYU stores y up
    uvd = NYU_CAMERA.project(truth)  # equals cx + x f / z, cy - y_nyu f / z
    # Kinects 2 and 3 get other joints, so a loader reading the wrong view fails.
    xyz = np.stack([nyu_xyz, nyu_xyz + 100.0, nyu_xyz - 100.0])
    names = np.empty((1, 36), dtype=object)
    names[0, :] = [f'J{i}' for i in range(36)]
    scipy.io.savemat(str(folder / 'joint_data.mat'),
                     {'joint_names': names, 'joint_uvd': np.stack([uvd] * 3),
                      'joint_xyz': xyz})
    for index, joints in enumerate(truth):
        path = folder / f'depth_1_{index + 1:07d}.png'
        assert cv2.imwrite(str(path), nyu_png(render_blobs(NYU_CAMERA, joints), rng))
    if centers is not None:
        (root / f'{split}_NYU.txt').write_text('\n'.join(centers) + '\n')


def write_msra_bin(path: Path, depth_mm: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """MSRA .bin: 6 int32 (img_w, img_h, left, top, right, bottom) + float32 box, row-major."""
    left, top, right, bottom = box
    height, width = depth_mm.shape
    header = np.array([width, height, left, top, right, bottom], dtype='<i4')
    data = depth_mm[top:bottom, left:right].astype('<f4')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header.tobytes() + data.tobytes())


def write_msra_gesture(root: Path, subject: int, gesture: str, hands: Sequence[np.ndarray],
                       box: tuple[int, int, int, int] = (60, 40, 260, 200)) -> list[np.ndarray]:
    """MSRA gesture folder: joint.txt (y up, z negative) and one .bin per frame."""
    folder = root / f'P{subject}' / gesture
    lines = [str(len(hands))]
    images = []
    for index, joints in enumerate(hands):
        stored = joints * np.array([1.0, -1.0, -1.0])
        lines.append(' '.join(f'{value:.6f}' for value in stored.reshape(-1)))
        depth = render_blobs(MSRA_CAMERA, joints)
        write_msra_bin(folder / f'{index:06d}_depth.bin', depth, box)
        images.append(depth)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / 'joint.txt').write_text('\n'.join(lines) + '\n')
    return images


def write_hands2017(root: Path, hands: Sequence[np.ndarray],
                    camera: Intrinsics = HANDS2017_CAMERA, intrinsics_json: bool = False,
                    separators: Sequence[str] = ('\t', ' ')) -> list[str]:
    """HANDS2017: training/Training_Annotation.txt + training/images/image_D%08d.png."""
    folder = root / 'training'
    lines, names = [], []
    for index, joints in enumerate(hands):
        name = f'image_D{index + 1:08d}.png'
        write_png16(folder / 'images' / name, render_blobs(camera, joints))
        sep = separators[index % len(separators)]
        lines.append(name + sep + sep.join(f'{value:.6f}' for value in joints.reshape(-1)))
        names.append(name)
    (folder / 'Training_Annotation.txt').write_text('\n'.join(lines) + '\n')
    if intrinsics_json:
        (folder / 'intrinsics.json').write_text(json.dumps(
            {'fx': camera.fx, 'fy': camera.fy, 'cx': camera.cx, 'cy': camera.cy,
             'width': camera.width, 'height': camera.height}))
    return names
