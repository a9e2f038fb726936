"""MSRA hand gesture dataset loader (Sun et al. 2015, 'MSRA15'; spec 5.1-5.3).

On disk (the official archive, unpacked)::

    <root>/P0 .. P8/<gesture>/joint.txt           line 1: N; then N lines of 63 floats (x y z)*21
    <root>/P0 .. P8/<gesture>/000000_depth.bin    6 int32 (img_w, img_h, left, top, right, bottom),
                                                  then float32 depth of the box, row-major, in mm

The gestures (1..9, I, IP, L, MP, RP, T, TIP, Y) are read in sorted folder order, which is the
order of V2V-PoseNet's per-subject centre files. Pixels outside the box are 0 (no reading).

Coordinate convention: ``joint.txt`` stores x right, **y up** and **z negative** (spec 3.1, 5.3;
the released importer negates z and projects with ``v = cy - y fy / z``). The optical frame is
y-down with z forward, so the loader maps ``(x, y, z)_msra -> (x, -y, -z)`` (a rotation by 180
degrees about x). V2V's MSRA centre files already have z positive but keep y up, so a centre file
gets ``(x, y, z) -> (x, -y, z)``.

Centre: a centre file when given, else the centre of mass seeded with the ground-truth ring MCP
(joint 9; the released ``docom=True`` path, spec 3.2) -- for test frames too. Cube: training
frames draw 150..200 mm in 10 mm steps (seeded), test 175 mm (spec 3.3). Protocol:
leave-one-subject-out, 9 models (spec 7, issue #8).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from crossinfonet_ros.camera import Intrinsics
from training.datasets.centers import read_center_file
from training.datasets.base import CubeSpec, FrameDataset
from training.datasets.common import (DatasetError, PathLike, parse_numbers, read_lines,
                                      require_dir, require_file)

MSRA_INTRINSICS = Intrinsics(fx=241.42, fy=241.42, cx=160.0, cy=120.0, width=320, height=240)
MSRA_NUM_JOINTS = 21
MSRA_NUM_SUBJECTS = 9
MSRA_TRAIN_CUBE_MM = (150.0, 200.0)  # spec 3.3: random 150 + 10 k per training frame
MSRA_TEST_CUBE_MM = 175.0  # spec 3.3
MSRA_SEED_JOINT = 9  # ring MCP (spec 3.2)
MSRA_HEADER_INTS = 6
# Frames DeepPrior flags as mislabelled (spec 5.3), as (subject, gesture) -> 0-based frames. The
# released code keeps them; ``drop_faulty=True`` removes them.
MSRA_FAULTY_FRAMES = {
    (2, 'TIP'): (172, 173, 174),
    (2, 'MP'): (173, 174, 175, *range(345, 355), 356, 359, 360),
    (3, 'T'): (120, 489),
    (8, '4'): (168,),
}


def msra_to_optical(xyz: np.ndarray) -> np.ndarray:
    """Map MSRA ``joint.txt`` coordinates (y up, z negative) to the optical frame: negate y, z.

    :param xyz: (..., 3) points in mm as stored in joint.txt
    """
    out = np.array(xyz, dtype=np.float64)
    out[..., 1:] *= -1.0
    return out


def msra_center_to_optical(xyz: np.ndarray) -> np.ndarray:
    """Map a V2V MSRA centre (y up, z already positive) to the optical frame: negate y.

    :param xyz: (..., 3) centres in mm
    """
    out = np.array(xyz, dtype=np.float64)
    out[..., 1] *= -1.0
    return out


def loso_subjects(test_subject: int, split: str) -> list[int]:
    """Subjects of a leave-one-subject-out fold: all but ``test_subject`` for 'train'.

    :param test_subject: the held-out subject, 0..8
    :param split: 'train' or 'test'
    """
    if not 0 <= test_subject < MSRA_NUM_SUBJECTS:
        raise ValueError(f'MSRA test subject must be 0..{MSRA_NUM_SUBJECTS - 1},'
                         f' got {test_subject}')
    if split == 'test':
        return [test_subject]
    if split == 'train':
        return [s for s in range(MSRA_NUM_SUBJECTS) if s != test_subject]
    raise ValueError(f"MSRA split must be 'train' or 'test', got {split!r}")


def parse_msra_joints(path: Path) -> np.ndarray:
    """Parse one gesture's ``joint.txt`` into (N, 21, 3) joints as stored (y up, z negative).

    :param path: the joint.txt file
    :raises DatasetError: e.g. 'joint.txt line 3: expected 63 numbers, got 60'
    """
    lines = read_lines(path, 'MSRA joint file')
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DatasetError(f'{path}: empty, expected the frame count on line 1')
    try:
        count = int(lines[0].strip())
    except ValueError:
        raise DatasetError(f'{path} line 1: expected the frame count, got {lines[0]!r}') from None
    if count < 0 or len(lines) - 1 != count:
        raise DatasetError(f'{path}: line 1 announces {count} frames but {len(lines) - 1}'
                           ' joint lines follow')
    rows = [parse_numbers(line.split(), 3 * MSRA_NUM_JOINTS, path, number)
            for number, line in enumerate(lines[1:], start=2)]
    return np.array(rows, dtype=np.float64).reshape(count, MSRA_NUM_JOINTS, 3)


def read_msra_bin(path: Path, intrinsics: Intrinsics = MSRA_INTRINSICS) -> np.ndarray:
    """Read an MSRA ``*_depth.bin`` into a full (img_h, img_w) float32 depth image in mm.

    :param path: the .bin file
    :param intrinsics: camera whose size the header must match
    :raises DatasetError: bad header, box outside the image, or a size mismatch
    """
    raw = require_file(path, 'MSRA depth file').read_bytes()
    header_bytes = 4 * MSRA_HEADER_INTS
    if len(raw) < header_bytes:
        raise DatasetError(f'{path}: {len(raw)} bytes, shorter than the 24-byte header')
    width, height, left, top, right, bottom = (
        int(v) for v in np.frombuffer(raw, dtype='<i4', count=MSRA_HEADER_INTS))
    if (width, height) != (intrinsics.width, intrinsics.height):
        raise DatasetError(f'{path}: header image size {width}x{height}, expected'
                           f' {intrinsics.width}x{intrinsics.height}')
    if not (0 <= left < right <= width and 0 <= top < bottom <= height):
        raise DatasetError(f'{path}: box left={left} top={top} right={right} bottom={bottom}'
                           f' is not inside the {width}x{height} image')
    box_w, box_h = right - left, bottom - top
    expected = header_bytes + 4 * box_w * box_h
    if len(raw) != expected:
        raise DatasetError(f'{path}: {len(raw)} bytes, expected {expected} for a'
                           f' {box_w}x{box_h} box')
    depth = np.zeros((height, width), dtype=np.float32)
    depth[top:bottom, left:right] = np.frombuffer(raw, dtype='<f4', offset=header_bytes).reshape(
        box_h, box_w)
    return depth


class MSRADataset(FrameDataset):
    """MSRA frames of some subjects as :class:`~training.datasets.sample.Sample` ('msra21')."""

    def __init__(self, root: PathLike, split: str = 'train', test_subject: int = 0,
                 subjects: Sequence[int] | None = None, cube: CubeSpec | None = None,
                 center_file: PathLike | None = None, drop_faulty: bool = False,
                 seed: int = 0) -> None:
        """Parse every selected subject's joint files.

        :param root: folder holding P0..P8
        :param split: 'train' (all subjects but ``test_subject``) or 'test' (only it)
        :param test_subject: the held-out subject of the leave-one-subject-out fold
        :param subjects: explicit subject list, overriding the fold (cube still follows split)
        :param cube: cube side or (low, high) range; None = 150..200 mm train, 175 mm test
        :param center_file: V2V centre file covering exactly the selected frames in order
            (``center_{split}_{test_subject}_refined.txt``), or None for the centre of mass
        :param drop_faulty: drop the frames DeepPrior flags as mislabelled (spec 5.3)
        :param seed: seed of the per-frame training cube
        """
        subjects = loso_subjects(test_subject, split) if subjects is None else list(subjects)
        root = require_dir(root, 'MSRA root folder')
        files, joints, faulty = [], [], []
        for subject, gesture, frames in _gesture_folders(root, subjects):
            stored = parse_msra_joints(frames / 'joint.txt')
            bad = set(MSRA_FAULTY_FRAMES.get((subject, gesture), ()))
            for frame in range(len(stored)):
                files.append(f'P{subject}/{gesture}/{frame:06d}_depth.bin')
                faulty.append(frame in bad)
            joints.append(msra_to_optical(stored))
        joints = np.concatenate(joints) if joints else np.zeros((0, MSRA_NUM_JOINTS, 3))
        centers = None
        if center_file is not None:
            centers = read_center_file(Path(center_file), len(files), msra_center_to_optical)
        if drop_faulty:
            keep = ~np.array(faulty, dtype=bool)
            files = [name for name, kept in zip(files, keep) if kept]
            joints = joints[keep]
            centers = None if centers is None else centers[keep]
        if cube is None:
            cube = MSRA_TRAIN_CUBE_MM if split == 'train' else MSRA_TEST_CUBE_MM
        self.subjects = subjects
        super().__init__(root=root, files=files, joints_mm=joints, intrinsics=MSRA_INTRINSICS,
                         layout='msra21', cube=cube, seed_joint=MSRA_SEED_JOINT,
                         centers_mm=centers, seed=seed)

    def read_depth_file(self, path: Path) -> np.ndarray:
        """Read an MSRA .bin frame, box placed in a zero frame.

        :param path: the .bin file
        """
        return read_msra_bin(path, self.intrinsics)


def _gesture_folders(root: Path, subjects: Iterable[int]):
    """Yield ``(subject, gesture, folder)`` for every gesture folder of each subject, sorted."""
    for subject in subjects:
        if not 0 <= subject < MSRA_NUM_SUBJECTS:
            raise ValueError(f'MSRA subjects are 0..{MSRA_NUM_SUBJECTS - 1}, got {subject}')
        folder = require_dir(root / f'P{subject}', f'MSRA subject P{subject} folder')
        gestures = sorted(path for path in folder.iterdir() if path.is_dir())
        if not gestures:
            raise DatasetError(f'{folder}: no gesture folders (expected 1..9, I, IP, ...)')
        for gesture in gestures:
            yield subject, gesture.name, gesture
