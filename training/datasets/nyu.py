"""NYU hand pose dataset loader (Tompson et al. 2014; spec 5.1-5.3).

On disk (the official archive, unpacked; centre files as CrossInfoNet's ``cache/NYU/readme.md``)::

    <root>/train/joint_data.mat            joint_names, joint_uvd, joint_xyz: [3 kinects][N][36][3]
    <root>/train/depth_1_0000001.png       RGB PNG, depth = (G << 8) | B in mm, R unused
    <root>/test/...                        same layout
    <root>/train_NYU.txt, test_NYU.txt     V2V refined centres (optional)

Only kinect 1 (index 0 of the .mat, files ``depth_1_*``) and the 14 evaluated joints
(:data:`crossinfonet_ros.layouts.NYU_36_TO_14`) are used. 3D joints are read from
``joint_xyz`` (never recomputed from uvd; spec 5.3).

Coordinate convention: NYU's ``joint_xyz`` has x right, **y up**, z forward; it projects with
``v = cy - y fy / z`` (spec 3.1). The optical frame is y-down, so the loader maps
``(x, y, z)_nyu -> (x, -y, z)``; then ``v = cy + y fy / z`` with the positive fy below. The V2V
centres are in the same y-up frame (V2V's NYU loader projects them with the joints), so they
get the same flip.

Centre: the centre file when present (``<root>/<split>_NYU.txt`` or an explicit path), else the
centre of mass seeded with the palm joint (14-joint index 13, PALM_3). Cube: training frames get
a per-frame size drawn from 250..300 mm in 10 mm steps (seeded; spec 3.3), test frames 250 mm.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from crossinfonet_ros.camera import Intrinsics
from crossinfonet_ros.layouts import NYU_36_TO_14
from training.datasets.centers import read_center_file
from training.datasets.base import CubeSpec, FrameDataset
from training.datasets.common import DatasetError, PathLike, require_dir, require_file

NYU_INTRINSICS = Intrinsics(fx=588.03, fy=587.07, cx=320.0, cy=240.0, width=640, height=480)
NYU_NUM_JOINTS_36 = 36
NYU_TRAIN_CUBE_MM = (250.0, 300.0)  # spec 3.3: random 250 + 10 k per training frame
NYU_TEST_CUBE_MM = 250.0  # spec 3.3 / issue #12
NYU_SEED_JOINT = 13  # PALM_3 ('Palm') in the 14-joint order
NYU_SPLITS = ('train', 'test')


def nyu_to_optical(xyz: np.ndarray) -> np.ndarray:
    """Map NYU ``joint_xyz`` coordinates (y up) to the optical frame (y down): negate y.

    :param xyz: (..., 3) points in mm in NYU's convention
    """
    out = np.array(xyz, dtype=np.float64)
    out[..., 1] *= -1.0
    return out


def nyu_depth_file(kinect: int, frame: int) -> str:
    """File name of a NYU depth frame: ``depth_<kinect>_<7-digit 1-based frame>.png``.

    :param kinect: camera number, 1..3
    :param frame: 0-based frame index
    """
    return f'depth_{kinect}_{frame + 1:07d}.png'


def decode_nyu_depth(image: np.ndarray, path: Path) -> np.ndarray:
    """Decode NYU's RGB-packed depth: ``(G << 8) | B`` mm; R is unused.

    :param image: (H, W, 3) uint8 image in OpenCV's BGR channel order
    :param path: the file, for the message
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = f'{image.shape} {image.dtype}'
        raise DatasetError(f'{path}: expected an 8-bit RGB PNG with depth in G and B, got {shape}')
    blue, green = image[..., 0].astype(np.uint16), image[..., 1].astype(np.uint16)
    return ((green << 8) | blue).astype(np.float32)


def load_nyu_joints(mat_path: Path, kinect: int = 1) -> np.ndarray:
    """Read kinect ``kinect``'s 14 evaluated joints from ``joint_data.mat``, in the optical frame.

    :param mat_path: the joint_data.mat file
    :param kinect: camera number, 1..3
    :return: (N, 14, 3) joints in mm, optical frame
    """
    import scipy.io  # scipy is only needed for NYU; keep it off the other loaders' import path

    require_file(mat_path, 'NYU joint file')
    try:
        mat = scipy.io.loadmat(str(mat_path), variable_names=['joint_xyz', 'joint_names'])
    except NotImplementedError:  # scipy reads MATLAB v4-v7.2, not the HDF5-based v7.3
        raise DatasetError(f'{mat_path}: MATLAB v7.3 (HDF5) file; expected v5 as published'
                           ' (re-save with -v7)') from None
    except (scipy.io.matlab.MatReadError, ValueError, TypeError, OSError) as error:
        raise DatasetError(f'{mat_path}: cannot read as a MATLAB file ({error})') from None
    if 'joint_xyz' not in mat:
        raise DatasetError(f'{mat_path}: no variable joint_xyz')
    xyz = np.asarray(mat['joint_xyz'])
    if xyz.ndim != 4 or xyz.shape[2:] != (NYU_NUM_JOINTS_36, 3):
        raise DatasetError(f'{mat_path}: joint_xyz must be [kinects][N][36][3], got shape'
                           f' {xyz.shape}')
    if not 1 <= kinect <= xyz.shape[0]:
        raise DatasetError(f'{mat_path}: kinect {kinect} requested, file has {xyz.shape[0]}')
    if 'joint_names' in mat and np.asarray(mat['joint_names']).size != NYU_NUM_JOINTS_36:
        raise DatasetError(f'{mat_path}: joint_names must hold 36 names, got'
                           f' {np.asarray(mat["joint_names"]).size}')
    joints = xyz[kinect - 1][:, list(NYU_36_TO_14), :].astype(np.float64)
    if not np.all(np.isfinite(joints)):
        raise DatasetError(f'{mat_path}: joint_xyz holds non-finite values')
    return nyu_to_optical(joints)


class NYUDataset(FrameDataset):
    """NYU frames of one kinect as :class:`~training.datasets.sample.Sample` (layout 'nyu14')."""

    def __init__(self, root: PathLike, split: str = 'train', cube: CubeSpec | None = None,
                 center_file: PathLike | None = None, use_center_file: bool = True,
                 kinect: int = 1, seed: int = 0) -> None:
        """Read the split's joint file and, when present, its centre file.

        :param root: folder holding ``train/``, ``test/`` and the ``<split>_NYU.txt`` centres
        :param split: 'train' or 'test'
        :param cube: cube side or (low, high) range; None = 250..300 mm for train, 250 for test
        :param center_file: centre file to use instead of ``<root>/<split>_NYU.txt``
        :param use_center_file: False ignores any centre file (centre of mass only)
        :param kinect: camera 1..3 (the benchmark uses 1)
        :param seed: seed of the per-frame training cube
        """
        if split not in NYU_SPLITS:
            raise ValueError(f'NYU split must be one of {", ".join(NYU_SPLITS)}, got {split!r}')
        root = Path(root)
        folder = require_dir(root / split, f'NYU {split} folder')
        joints = load_nyu_joints(folder / 'joint_data.mat', kinect)
        centers = None
        if use_center_file:
            path = Path(center_file) if center_file is not None else root / f'{split}_NYU.txt'
            if center_file is not None or path.is_file():
                centers = read_center_file(path, len(joints), nyu_to_optical)
        if cube is None:
            cube = NYU_TRAIN_CUBE_MM if split == 'train' else NYU_TEST_CUBE_MM
        self.kinect = kinect
        super().__init__(root=folder,
                         files=[nyu_depth_file(kinect, i) for i in range(len(joints))],
                         joints_mm=joints, intrinsics=NYU_INTRINSICS, layout='nyu14', cube=cube,
                         seed_joint=NYU_SEED_JOINT, centers_mm=centers, seed=seed)

    def read_depth_file(self, path: Path) -> np.ndarray:
        """Read a NYU depth PNG (RGB-packed) as float32 mm.

        :param path: the PNG file
        """
        require_file(path, 'NYU depth image')
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise DatasetError(f'{path}: cannot decode the depth image')
        return decode_nyu_depth(image, path)
