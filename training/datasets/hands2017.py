"""HANDS 2017 challenge (BigHand2.2M + FHAD) frame-based training set loader (spec 5.1-5.2).

On disk (the challenge's training archive, unpacked)::

    <root>/training/Training_Annotation.txt     image_D00000001.png x1 y1 z1 ... x21 y21 z21
    <root>/training/images/image_D%08d.png      16-bit PNG, depth in mm
    <root>/training/intrinsics.json             optional (our renderer writes it)
    <root>/center_train_refined.txt             optional V2V centres

Annotation lines hold the image name and 63 numbers, separated by tabs or spaces, joints in mm in
the camera frame with the standard y-down projection (spec 5.2: public loaders project without a
flip), so no conversion is applied. Joint order is BigHand's (layout ``'hands2017'``).

Camera: 475.065948, 475.065857, 315.944855, 245.287079 at 640x480 (spec 5.1) unless overridden
by an :class:`Intrinsics`, a path to an intrinsics JSON file, or ``training/intrinsics.json``
next to the annotation (keys fx, fy, cx, cy, width, height; the synthetic renderer's
``python -m training.synth --format hands2017`` writes it).

Centre: the centre file when given, else the centre of mass seeded with the ground-truth middle
MCP (joint 3; no released code exists for HANDS2017, spec 8 item 11, so this seed is our choice:
the middle MCP sits nearest the palm centre). Cube: 220 mm, the released demo's 'bighand' cube
(spec 7; no training cube was released).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from crossinfonet_ros.camera import Intrinsics
from training.datasets.centers import read_center_file
from training.datasets.base import CubeSpec, FrameDataset
from training.datasets.common import (INTRINSICS_FILE, PathLike, load_intrinsics_option,
                                      read_named_rows, read_png_depth16, require_dir)

HANDS2017_INTRINSICS = Intrinsics(fx=475.065948, fy=475.065857, cx=315.944855, cy=245.287079,
                                  width=640, height=480)
HANDS2017_NUM_JOINTS = 21
HANDS2017_CUBE_MM = 220.0  # spec 7: realtime demo's 'bighand' cube
HANDS2017_SEED_JOINT = 3  # middle MCP in BigHand order
ANNOTATION_FILE = 'Training_Annotation.txt'


def parse_hands2017_annotation(path: Path) -> tuple[list[str], np.ndarray]:
    """Parse ``Training_Annotation.txt`` into image names and (N, 21, 3) float32 joints in mm.

    :param path: the annotation file
    :raises DatasetError: naming the line that does not hold a name and 63 numbers
    """
    names, joints = read_named_rows(path, 'HANDS2017 annotation file',
                                    3 * HANDS2017_NUM_JOINTS)
    return names, joints.reshape(-1, HANDS2017_NUM_JOINTS, 3)


class Hands2017Dataset(FrameDataset):
    """HANDS2017 training frames as :class:`~training.datasets.sample.Sample` ('hands2017')."""

    def __init__(self, root: PathLike, split: str = 'train', cube: CubeSpec = HANDS2017_CUBE_MM,
                 center_file: PathLike | None = None,
                 intrinsics: Intrinsics | PathLike | None = None, seed: int = 0) -> None:
        """Parse the annotation file.

        :param root: folder holding ``training/``
        :param split: only 'train' (the challenge's test set has no public ground truth)
        :param cube: cube side in mm, or a (low, high) range drawn per frame
        :param center_file: V2V centre file with one line per annotation line, or None
        :param intrinsics: camera override (object or JSON path); None = ``intrinsics.json``
            next to the annotation if present, else the challenge's camera
        :param seed: seed of the per-frame cube draw
        """
        if split != 'train':
            raise ValueError(f"HANDS2017 has ground truth for split 'train' only, got {split!r}")
        folder = require_dir(Path(root) / 'training', 'HANDS2017 training folder')
        names, joints = parse_hands2017_annotation(folder / ANNOTATION_FILE)
        camera = load_intrinsics_option(intrinsics, folder / INTRINSICS_FILE,
                                        HANDS2017_INTRINSICS)
        centers = None if center_file is None else read_center_file(Path(center_file), len(names))
        super().__init__(root=folder / 'images', files=names, joints_mm=joints,
                         intrinsics=camera, layout='hands2017', cube=cube,
                         seed_joint=HANDS2017_SEED_JOINT, centers_mm=centers, seed=seed)

    def read_depth_file(self, path: Path) -> np.ndarray:
        """Read a HANDS2017 16-bit PNG as float32 mm.

        :param path: the PNG file
        """
        return read_png_depth16(path)
