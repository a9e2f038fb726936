"""The lazy base class of the dataset loaders and the per-frame cube policy.

Every loader parses its label file(s) once into compact arrays and reads a depth image only when
a frame is asked for, so a 1M-frame dataset costs its labels in memory, not its images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence, Union

import numpy as np

from crossinfonet_ros.camera import Intrinsics
from training.datasets.centers import center_of_mass
from training.datasets.common import check_image_size
from training.datasets.sample import Sample

# A fixed cube side in mm, or a (low, high) range drawn per frame in 10 mm steps (spec 3.3).
CubeSpec = Union[float, tuple[float, float]]

CUBE_STEP_MM = 10.0  # spec 3.3: training cubes are 'low + 10 k' mm


def resolve_cube(cube: CubeSpec, seed: int, index: int) -> float:
    """Cube side for one frame: a fixed value, or a seeded draw from a (low, high) range.

    The range is sampled as ``low + 10 k`` mm (spec 3.3: NYU 250..300, MSRA 150..200). The draw
    depends only on ``(seed, index)``, so a frame keeps its cube across epochs, as the released
    code's cube fixed at cache time.

    :param cube: a side in mm, or ``(low, high)``
    :param seed: dataset seed
    :param index: frame index
    """
    if isinstance(cube, (tuple, list)):
        low, high = float(cube[0]), float(cube[1])
        steps = int(np.floor((high - low) / CUBE_STEP_MM + 1e-9)) + 1
        k = np.random.default_rng((seed, index)).integers(steps)
        return low + CUBE_STEP_MM * float(k)
    return float(cube)


def validate_cube(cube: CubeSpec) -> CubeSpec:
    """Check a cube spec (positive side, or 0 < low <= high) and return it.

    :param cube: a side in mm, or ``(low, high)``
    :raises ValueError: naming the bad value
    """
    values = cube if isinstance(cube, (tuple, list)) else (cube,)
    if len(values) not in (1, 2) or not all(np.isfinite(v) and v > 0 for v in values):
        raise ValueError(f'cube must be a positive side in mm or a (low, high) range, got {cube}')
    if len(values) == 2 and values[0] > values[1]:
        raise ValueError(f'cube range must have low <= high, got {cube}')
    return tuple(float(v) for v in values) if len(values) == 2 else float(values[0])


class FrameDataset:
    """Lazy, indexable set of depth frames with ground truth, yielding :class:`Sample`.

    Subclasses parse their labels in ``__init__`` and pass them here; they implement
    :meth:`read_depth_file` for their image format. The centre of a frame is the centre file's
    value when one was given and valid for that frame, else the centre of mass of the depth
    around a ground-truth seed joint (spec 3.2, :func:`~training.datasets.centers.center_of_mass`).
    """

    def __init__(self, *, root: Path, files: Sequence[str], joints_mm: np.ndarray,
                 intrinsics: Intrinsics, layout: str, cube: CubeSpec, seed_joint: int,
                 centers_mm: np.ndarray | None = None, seed: int = 0) -> None:
        """Hold the parsed labels.

        :param root: directory the relative ``files`` are under
        :param files: per frame, the depth file relative to ``root`` (also the sample name)
        :param joints_mm: (N, A, 3) joints in mm, camera optical frame
        :param intrinsics: the camera of every frame
        :param layout: joint layout name
        :param cube: cube side in mm, or a (low, high) training range
        :param seed_joint: joint index that seeds the centre of mass
        :param centers_mm: (N, 3) centres in the optical frame, NaN where unknown, or None
        :param seed: seed of the per-frame random cube
        """
        self.root = Path(root)
        self.intrinsics = intrinsics
        self.layout = layout
        self.cube = validate_cube(cube)
        self.seed = int(seed)
        self.seed_joint = int(seed_joint)
        # Fixed-width bytes keep a million names in tens of MB instead of Python objects.
        self._files = np.array([name.encode('utf-8') for name in files], dtype=np.bytes_)
        self._joints = np.ascontiguousarray(joints_mm, dtype=np.float32)
        if self._joints.ndim != 3 or self._joints.shape[0] != len(self._files):
            raise ValueError(f'joints_mm must be (N, A, 3) with N = {len(self._files)} frames,'
                             f' got {self._joints.shape}')
        self._centers = None if centers_mm is None else np.asarray(centers_mm, dtype=np.float64)

    def __len__(self) -> int:
        return len(self._files)

    def __iter__(self) -> Iterator[Sample]:
        for index in range(len(self)):
            yield self[index]

    def __getitem__(self, index: int) -> Sample:
        index = self._check_index(index)
        depth = self.read_depth(index)
        joints = self.joints_mm(index)
        cube = self.cube_mm(index)
        return Sample(depth_mm=depth, joints_mm=joints, intrinsics=self.intrinsics,
                      center_mm=self.center_mm(index, depth, joints, cube), cube_mm=cube,
                      layout=self.layout, name=self.file_name(index))

    def _check_index(self, index: int) -> int:
        size = len(self)
        if not -size <= index < size:
            raise IndexError(f'frame {index} out of range for {size} frames')
        return index % size

    def file_name(self, index: int) -> str:
        """Depth file of frame ``index``, relative to :attr:`root`.

        :param index: frame index
        """
        return self._files[self._check_index(index)].decode('utf-8')

    def joints_mm(self, index: int) -> np.ndarray:
        """Ground-truth joints (A, 3) float64 in mm, optical frame, without reading the image.

        :param index: frame index
        """
        return self._joints[self._check_index(index)].astype(np.float64)

    def cube_mm(self, index: int) -> float:
        """Cube side of frame ``index`` in mm (fixed, or the frame's seeded draw).

        :param index: frame index
        """
        return resolve_cube(self.cube, self.seed, self._check_index(index))

    def center_mm(self, index: int, depth_mm: np.ndarray, joints_mm: np.ndarray,
                  cube_mm: float) -> np.ndarray:
        """Crop centre of a frame: centre file value if valid, else seeded centre of mass.

        :param index: frame index
        :param depth_mm: the frame's depth
        :param joints_mm: the frame's joints (the seed joint is taken from them)
        :param cube_mm: the frame's cube side
        """
        if self._centers is not None:
            center = self._centers[self._check_index(index)]
            if np.all(np.isfinite(center)):
                return center.copy()
        return center_of_mass(depth_mm, joints_mm[self.seed_joint], cube_mm, self.intrinsics)

    def read_depth(self, index: int) -> np.ndarray:
        """Read frame ``index``'s depth image as (H, W) float32 mm.

        :param index: frame index
        """
        path = self.root / self.file_name(index)
        depth = self.read_depth_file(path)
        check_image_size(depth, self.intrinsics, path)
        return depth

    def read_depth_file(self, path: Path) -> np.ndarray:
        """Decode one depth file of this dataset's format to float32 mm (subclasses).

        :param path: the file
        """
        raise NotImplementedError
