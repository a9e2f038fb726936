"""ICVL hand posture dataset loader (Tang et al. 2014; spec 5.1-5.3).

On disk (the official archive, unpacked)::

    <root>/Training/labels.txt            relpath u1 v1 d1 ... u16 v16 d16   (one frame per line)
    <root>/Training/Depth/<relpath>       16-bit PNG, depth in mm
    <root>/Testing/test_seq_1.txt         same format, 702 frames
    <root>/Testing/test_seq_2.txt         894 frames
    <root>/Testing/Depth/<relpath>

Labels are (u, v, d): pixel column, row and depth in mm. The camera is y-down like ours, so
xyz = backproject(uvd) with fx = fy = 241.42, cx = 160, cy = 120 (spec 5.1, the importer's
values; the evaluation kit's 240.99/240.96 are not used for training labels).
Depth 32001 marks no reading; everything beyond 1500 mm is zeroed, as the released code does
(spec 5.3). The training split includes the in-plane-rotated copies listed in labels.txt.
Centre: a V2V centre file when given (V2V's ICVL frame is this y-down one: its pixel-to-world
uses ``v - 120``; ``center_train_refined.txt`` pairs with 'train', ``center_test_refined.txt``
with 'test', sequence 1 then 2), else the centre of mass seeded with the palm joint 0
(``importers.py``, spec 3.2). Cube 250 mm (spec 3.3).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crossinfonet_ros.camera import Intrinsics
from training.datasets.centers import read_center_file
from training.datasets.base import CubeSpec, FrameDataset
from training.datasets.common import PathLike, read_named_rows, read_png_depth16, require_dir

ICVL_INTRINSICS = Intrinsics(fx=241.42, fy=241.42, cx=160.0, cy=120.0, width=320, height=240)
ICVL_NUM_JOINTS = 16
ICVL_MAX_DEPTH_MM = 1500.0  # spec 5.3: farther readings (and the 32001 marker) are zeroed
ICVL_CUBE_MM = 250.0  # spec 3.3: ICVLImporter default, train and test
ICVL_SEED_JOINT = 0  # palm (spec 3.2, importers.py)

# split -> (folder, label files); a 'test' split concatenates both sequences (1,596 frames).
SPLITS = {
    'train': ('Training', ('labels.txt',)),
    'test': ('Testing', ('test_seq_1.txt', 'test_seq_2.txt')),
    'test_seq_1': ('Testing', ('test_seq_1.txt',)),
    'test_seq_2': ('Testing', ('test_seq_2.txt',)),
}


def parse_icvl_labels(path: Path) -> tuple[list[str], np.ndarray]:
    """Parse an ICVL label file into image paths and (N, 16, 3) float32 uvd joints.

    :param path: labels.txt or test_seq_{1,2}.txt
    :raises DatasetError: naming the line that does not hold a path and 48 numbers
    """
    files, uvd = read_named_rows(path, 'ICVL label file', 3 * ICVL_NUM_JOINTS)
    return files, uvd.reshape(-1, ICVL_NUM_JOINTS, 3)


class ICVLDataset(FrameDataset):
    """ICVL frames as :class:`~training.datasets.sample.Sample` (layout ``'icvl16'``)."""

    def __init__(self, root: PathLike, split: str = 'train', cube: CubeSpec = ICVL_CUBE_MM,
                 center_file: PathLike | None = None, seed: int = 0) -> None:
        """Parse the split's label file(s).

        :param root: the ICVL folder holding ``Training/`` and ``Testing/``
        :param split: 'train', 'test' (both sequences), 'test_seq_1' or 'test_seq_2'
        :param cube: cube side in mm, or a (low, high) range drawn per frame
        :param center_file: V2V centre file with one line per frame of the split, or None for
            the centre of mass around the palm joint
        :param seed: seed of the per-frame cube draw
        """
        if split not in SPLITS:
            raise ValueError(f'ICVL split must be one of {", ".join(SPLITS)}, got {split!r}')
        folder, label_names = SPLITS[split]
        base = require_dir(Path(root) / folder, f'ICVL {folder} folder')
        files, uvd = [], []
        for label_name in label_names:
            names, joints = parse_icvl_labels(base / label_name)
            files += names
            uvd.append(joints)
        uvd = np.concatenate(uvd)
        centers = None if center_file is None else read_center_file(Path(center_file), len(files))
        super().__init__(root=base / 'Depth', files=files,
                         joints_mm=ICVL_INTRINSICS.backproject(uvd), intrinsics=ICVL_INTRINSICS,
                         layout='icvl16', cube=cube, seed_joint=ICVL_SEED_JOINT,
                         centers_mm=centers, seed=seed)

    def read_depth_file(self, path: Path) -> np.ndarray:
        """Read an ICVL PNG and zero readings beyond 1500 mm (incl. the 32001 marker).

        :param path: the PNG file
        """
        depth = read_png_depth16(path)
        depth[depth > ICVL_MAX_DEPTH_MM] = 0.0
        return depth
