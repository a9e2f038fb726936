"""Dataset loaders: ICVL, NYU, MSRA and HANDS2017 in their real on-disk formats.

Every loader is a lazy, indexable sequence of :class:`~training.datasets.sample.Sample` (depth
in mm, joints in mm in the camera optical frame, intrinsics, centre, cube, layout name). Open one
by name with :func:`open_dataset`; the synthetic renderer's output in HANDS2017 format opens as
``'hands2017'``.
"""

from __future__ import annotations

from training.datasets.base import FrameDataset
from training.datasets.common import DatasetError, MissingFileError, PathLike
from training.datasets.hands2017 import Hands2017Dataset
from training.datasets.icvl import ICVLDataset
from training.datasets.msra import MSRADataset
from training.datasets.nyu import NYUDataset
from training.datasets.sample import Sample

# name -> loader class; each takes (root, split, **options)
DATASETS = {
    'icvl': ICVLDataset,
    'nyu': NYUDataset,
    'msra': MSRADataset,
    'hands2017': Hands2017Dataset,
}

__all__ = ['DATASETS', 'DatasetError', 'FrameDataset', 'Hands2017Dataset', 'ICVLDataset',
           'MSRADataset', 'MissingFileError', 'NYUDataset', 'Sample', 'open_dataset']


def open_dataset(name: str, root: PathLike, split: str = 'train', **options) -> FrameDataset:
    """Open a dataset by name.

    :param name: one of :data:`DATASETS` ('icvl', 'nyu', 'msra', 'hands2017')
    :param root: the dataset's root folder (see each loader's module docstring)
    :param split: the split, e.g. 'train' or 'test' (loader-specific names exist)
    :param options: loader keyword options (cube, center_file, seed, test_subject, ...)
    :raises ValueError: for an unknown name, listing the valid ones
    """
    try:
        loader = DATASETS[name]
    except KeyError:
        raise ValueError(f'unknown dataset {name!r}; valid datasets:'
                         f' {", ".join(sorted(DATASETS))}') from None
    return loader(root, split=split, **options)
