"""Write a PNG grid of augmented crops with their labelled joints and bones drawn on top.

    python -m training.preview_augment --dataset hands2017 --root DIR --out x.png --num 16 --seed 0

Each tile is one augmented 96x96 crop (near = bright, background black), magnified; the joints
are drawn where the item's *normalised labels* put them (denormalised and projected through the
item's crop transform), with the layout's skeleton edges, so any image/label mismatch is
visible. The tile caption is the mode and the cube size.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from crossinfonet_ros.camera import Intrinsics
from crossinfonet_ros.codec import denormalize_joints
from crossinfonet_ros.layouts import LAYOUTS, get_layout
from training.augment import AUGMENT_MODES, VARIANTS, AugmentConfig, TrainItem, augment_sample
from training.datasets import DATASETS, open_dataset
from training.synth.preview import grid

BONE_COLOR = (80, 200, 80)  # BGR
JOINT_COLOR = (40, 40, 230)
TEXT_COLOR = (230, 200, 40)


def tile_image(item: TrainItem, intrinsics: Intrinsics, edges: Sequence[tuple[int, int]],
               scale: int) -> np.ndarray:
    """Render one item as a BGR tile: crop in grey, labelled joints and bones on top.

    :param item: the augmented item
    :param intrinsics: camera of the sample (to project the labels into the crop)
    :param edges: skeleton edges of the joint layout (may be empty)
    :param scale: magnification of the 96x96 crop
    """
    grey = np.clip((1.0 - item.depth[0]) * 127.5, 0, 255).astype(np.uint8)
    size = grey.shape[0] * scale
    tile = cv2.cvtColor(cv2.resize(grey, (size, size), interpolation=cv2.INTER_NEAREST),
                        cv2.COLOR_GRAY2BGR)
    joints = denormalize_joints(item.joints, item.center_mm, item.cube_mm)
    uv = intrinsics.project(joints)[:, :2] @ item.transform[:2, :2].T + item.transform[:2, 2]
    # Crop pixel (u, v) covers [u, u+1) at scale 1; its centre lands at (u + 0.5) * scale.
    points = np.round((uv + 0.5) * scale).astype(int)
    for a, b in edges:
        cv2.line(tile, tuple(points[a]), tuple(points[b]), BONE_COLOR, 1, cv2.LINE_AA)
    for point in points:
        cv2.circle(tile, tuple(point), max(2, scale), JOINT_COLOR, -1, cv2.LINE_AA)
    cv2.putText(tile, f'{item.mode} {item.cube_mm:.0f}mm', (4, 14), cv2.FONT_HERSHEY_SIMPLEX,
                0.45, TEXT_COLOR, 1, cv2.LINE_AA)
    return tile


def preview(samples, count: int, config: AugmentConfig, seed: int, scale: int = 3,
            columns: int | None = None) -> np.ndarray:
    """Augment ``count`` samples (drawn with ``seed``) and return the BGR grid image.

    :param samples: an indexable sequence of samples
    :param count: number of tiles
    :param config: augmentation settings
    :param seed: seed of the sample choice and of the augmentation draws
    :param scale: magnification of each crop
    :param columns: tiles per row; default ~square grid
    """
    if len(samples) == 0:
        raise ValueError('the dataset holds no frames')
    rng = np.random.default_rng(seed)
    # Without replacement when possible; small datasets repeat frames with new draws.
    indices = rng.choice(len(samples), size=count, replace=count > len(samples))
    tiles = []
    for index in indices:
        sample = samples[int(index)]
        item = augment_sample(sample, config, rng)
        edges = get_layout(sample.layout).edges if sample.layout in LAYOUTS else ()
        tiles.append(tile_image(item, sample.intrinsics, edges, scale))
    return grid(tiles, columns or math.ceil(math.sqrt(count)), gap=2)


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry: parse arguments, open the dataset, write the PNG."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--dataset', required=True, choices=sorted(DATASETS))
    parser.add_argument('--root', required=True, type=Path, help='dataset root folder')
    parser.add_argument('--out', required=True, type=Path, help='PNG file to write')
    parser.add_argument('--num', type=int, default=16, help='number of tiles')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--split', default='train')
    parser.add_argument('--modes', nargs='+', default=list(AUGMENT_MODES), choices=AUGMENT_MODES)
    parser.add_argument('--variant', default='code', choices=VARIANTS)
    parser.add_argument('--scale', type=int, default=3, help='crop magnification')
    parser.add_argument('--intrinsics', type=Path,
                        help='hands2017: intrinsics JSON (fx, fy, cx, cy, width, height)')
    parser.add_argument('--center-file', type=Path, help='V2V-style centre file')
    parser.add_argument('--test-subject', type=int, help='msra: held-out subject')
    args = parser.parse_args(argv)
    if args.num < 1 or args.scale < 1:
        parser.error('--num and --scale must be at least 1')
    options = {'center_file': args.center_file}
    if args.intrinsics is not None:
        if args.dataset != 'hands2017':
            parser.error('--intrinsics applies to --dataset hands2017 only')
        options['intrinsics'] = args.intrinsics
    if args.test_subject is not None:
        options['test_subject'] = args.test_subject
    dataset = open_dataset(args.dataset, args.root, split=args.split, **options)
    config = AugmentConfig(modes=tuple(args.modes), variant=args.variant)
    image = preview(dataset, args.num, config, args.seed, scale=args.scale)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), image):
        raise SystemExit(f'{args.out}: could not write the PNG')
    print(f'wrote {args.out} ({args.num} crops from {len(dataset)} frames)')


if __name__ == '__main__':
    main()
