"""Preview grids of the synthetic data for the docs (and for eyeballing changes).

``python -m training.synth.preview --out docs/img/`` writes ``synth_frames.png`` (full frames,
clutter on, depth colour-mapped, joints and skeleton drawn) and ``synth_crops.png`` (the 96x96
normalised crops the network sees, cut by the codec, with the skeleton projected into them),
each under a caption strip that says they are renders. ``--grasp`` writes ``grasp_crops.png``
(hands holding objects) and ``grasp_wear_crops.png`` (watches, sleeves, webbing, objects in
front of the hand, sizes 0.75-1.25x) instead; ``--viewpoint NAME`` writes ``viewpoint_NAME.png``:
full frames of that viewpoint (:mod:`training.synth.viewpoints`).
"""

import sys
from dataclasses import replace
from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np

from crossinfonet_ros.codec import crop_hand, joints_to_crop_uv
from crossinfonet_ros.layouts import get_layout
from training.cli import OneLineParser
from training.datasets.sample import Sample
from training.out_path import out_problem
from training.synth.clutter import ClutterConfig
from training.synth.scene import LAYOUT, SynthConfig, render_crop, render_frame
from training.synth.skeleton import ShapeConfig
from training.synth.viewpoints import VIEWPOINTS

CAPTION_PX = 28  # caption strip above each grid
FRAMES_CAPTION = ('rendered (synthetic), not camera frames: training/synth seed {}; depth '
                  'near warm, far cool; ground-truth joints')
VIEWPOINT_CAPTION = ('rendered (synthetic): viewpoint {}, training/synth seed {}; depth near '
                     'warm, far cool; ground-truth joints')
CROPS_CAPTION = ('rendered (synthetic): 96x96 network crops, training/synth seed {}, '
                 'every other one with its ground truth')
GRASP_CAPTION = ('rendered (synthetic): 96x96 crops of hands holding objects, training/synth '
                 'seed {}, grasp_prob 1, every other one with its ground truth')
WEAR_CAPTION = ('rendered (synthetic): 96x96 crops, watch or sleeve, finger webbing, object in '
                'front (p 0.5), size 0.75-1.25x, seed {}')
FINGER_COLOURS = ((60, 60, 255), (60, 220, 60), (255, 160, 40), (40, 220, 255), (230, 80, 230))


def _edge_colour(child: int) -> tuple:
    # HANDS2017 order: MCPs 1..5 then per finger 3 joints from 6; colour by finger.
    finger = child - 1 if child <= 5 else (child - 6) // 3
    return FINGER_COLOURS[finger]


def colour_depth(depth_mm: np.ndarray, near_mm: float, far_mm: float,
                 colormap: int = cv2.COLORMAP_TURBO) -> np.ndarray:
    """Colour-map a depth image by inverse depth (near warm, far cool, no reading black).

    Inverse depth (disparity) spends the colours on the near range, where the hand is.

    :param depth_mm: (H, W) depth, mm, 0 = no reading
    :param near_mm: depth shown at the warm end
    :param far_mm: depth shown at the cool end
    :param colormap: OpenCV colour map (near = its top end)
    """
    with np.errstate(divide='ignore'):
        inverse = 1.0 / np.maximum(depth_mm, 1.0)
    scaled = np.clip((inverse - 1.0 / far_mm) / (1.0 / near_mm - 1.0 / far_mm), 0.0, 1.0)
    image = cv2.applyColorMap((scaled * 255).astype(np.uint8), colormap)
    image[depth_mm <= 0] = 0
    return image


def draw_skeleton(image: np.ndarray, uv: np.ndarray, radius: int = 2) -> None:
    """Draw the HANDS2017 skeleton (edges from the layout table) onto a BGR image in place.

    Thin lines and small dots coloured by finger (thumb red, index green, middle blue, ring
    yellow, pinky magenta), so the depth underneath stays visible.

    :param image: BGR image
    :param uv: (21, 2) pixel coordinates
    :param radius: joint dot radius in pixels
    """
    points = np.round(uv).astype(int)
    for parent, child in get_layout(LAYOUT).edges:
        cv2.line(image, tuple(points[parent]), tuple(points[child]), _edge_colour(child), 1,
                 cv2.LINE_AA)
    for joint, point in enumerate(points):
        colour = (255, 255, 255) if joint == 0 else _edge_colour(joint)
        cv2.circle(image, tuple(point), radius, colour, -1, cv2.LINE_AA)


def frame_tile(sample: Sample, width: int) -> np.ndarray:
    """A full frame, colour-mapped around the hand, with the skeleton, resized to ``width``.

    :param sample: a full-frame sample
    :param width: tile width in pixels
    """
    image = colour_depth(sample.depth_mm, sample.joints_mm[:, 2].min() - 60.0, 4000.0)
    draw_skeleton(image, sample.intrinsics.project(sample.joints_mm)[:, :2], 3)
    height = round(image.shape[0] * width / image.shape[1])
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def crop_tile(sample: Sample, zoom: int, skeleton: bool = True) -> np.ndarray:
    """The codec's 96x96 normalised crop in grey (near bright), maybe with the skeleton.

    :param sample: any sample (full frame or crop resolution)
    :param zoom: integer magnification of the 96x96 crop
    :param skeleton: draw the ground-truth joints
    """
    crop = crop_hand(sample.depth_mm, sample.center_mm, sample.cube_mm, sample.intrinsics)
    # The hand spans about [-0.5, 0.5] of the normalised range: stretch that.
    grey = (np.clip((0.7 - crop.depth) / 1.4, 0.0, 1.0) * 255).astype(np.uint8)
    grey[crop.depth >= 1.0] = 0
    image = cv2.cvtColor(cv2.resize(grey, None, fx=zoom, fy=zoom,
                                    interpolation=cv2.INTER_NEAREST), cv2.COLOR_GRAY2BGR)
    if skeleton:
        uv = (joints_to_crop_uv(sample.joints_mm, crop, sample.intrinsics) + 0.5) * zoom - 0.5
        draw_skeleton(image, uv, max(1, zoom - 1))
    return image


def grid(tiles: Sequence[np.ndarray], columns: int, gap: int = 4) -> np.ndarray:
    """Tiles of equal size in a grid with white gaps.

    :param tiles: equally sized BGR images
    :param columns: tiles per row
    :param gap: gap in pixels
    """
    height, width = tiles[0].shape[:2]
    rows = -(-len(tiles) // columns)
    canvas = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap, 3), 255,
                     np.uint8)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, columns)
        canvas[r * (height + gap):r * (height + gap) + height,
               c * (width + gap):c * (width + gap) + width] = tile
    return canvas


def captioned(image: np.ndarray, text: str, height: int = CAPTION_PX) -> np.ndarray:
    """``image`` under a dark strip with ``text`` in white.

    The caption travels with the picture, so a copy shown alone still says it is a render.

    :param image: BGR image
    :param text: one line
    :param height: strip height in pixels
    """
    strip = np.full((height, image.shape[1], 3), 24, np.uint8)
    scale = 0.55 * height / CAPTION_PX
    cv2.putText(strip, text, (6, round(0.7 * height)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([strip, image])


def write_previews(out_dir: Path, seed: int, frames: int, crops: int,
                   config: SynthConfig = SynthConfig()) -> tuple:
    """Write ``synth_frames.png`` and ``synth_crops.png`` into ``out_dir``.

    :param out_dir: existing directory
    :param seed: data-set seed of the shown samples
    :param frames: number of full frames (4 per row)
    :param crops: number of crops (8 per row)
    :param config: the data distribution
    :returns: the two paths
    """
    frame_tiles = [frame_tile(render_frame(seed, i, config), 320) for i in range(frames)]
    # Every other crop without the skeleton: the depth alone is what the network sees.
    crop_tiles = [crop_tile(render_crop(seed, i, config), 2, skeleton=i % 2 == 0)
                  for i in range(crops)]
    frames_path, crops_path = out_dir / 'synth_frames.png', out_dir / 'synth_crops.png'
    cv2.imwrite(str(frames_path), captioned(grid(frame_tiles, 4), FRAMES_CAPTION.format(seed)))
    cv2.imwrite(str(crops_path), captioned(grid(crop_tiles, 8), CROPS_CAPTION.format(seed)))
    return frames_path, crops_path


def write_grasp_previews(out_dir: Path, seed: int, crops: int) -> tuple:
    """Write ``grasp_crops.png`` and ``grasp_wear_crops.png`` (6 crops per row) into
    ``out_dir``: the renderer's grasp, wear, occluder and size switches, clutter off.

    :param out_dir: existing directory
    :param seed: data-set seed of the shown samples
    :param crops: crops per sheet
    :returns: the two paths
    """
    bare = SynthConfig(clutter=ClutterConfig(enabled=False))
    sheets = ((out_dir / 'grasp_crops.png', replace(bare, grasp_prob=1.0), GRASP_CAPTION),
              (out_dir / 'grasp_wear_crops.png',
               replace(bare, wrist_wear_prob=1.0, occluder_prob=0.5,
                       shape=ShapeConfig(scale_range=(0.75, 1.25), webbing_prob=1.0)),
               WEAR_CAPTION))
    for path, config, caption in sheets:
        tiles = [crop_tile(render_crop(seed, i, config), 2, skeleton=i % 2 == 0)
                 for i in range(crops)]
        cv2.imwrite(str(path), captioned(grid(tiles, 6), caption.format(seed)))
    return tuple(path for path, _, _ in sheets)


def write_viewpoint_preview(out_dir: Path, viewpoint: str, seed: int, frames: int) -> Path:
    """Write ``viewpoint_<viewpoint>.png``: full frames of one viewpoint, 4 per row.

    :param out_dir: existing directory
    :param viewpoint: one of :data:`training.synth.viewpoints.VIEWPOINTS`
    :param seed: data-set seed of the shown samples
    :param frames: number of full frames
    :returns: the path written
    """
    config = SynthConfig(viewpoint=viewpoint)
    tiles = [frame_tile(render_frame(seed, i, config), 224) for i in range(frames)]
    path = out_dir / f'viewpoint_{viewpoint}.png'
    cv2.imwrite(str(path), captioned(grid(tiles, 4), VIEWPOINT_CAPTION.format(viewpoint, seed)),
                [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return path


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line entry: parse arguments, write the two PNG grids.

    :param argv: arguments (default ``sys.argv[1:]``)
    """
    parser = OneLineParser(prog='python -m training.synth.preview',
                           description='Write PNG grids of synthetic frames and crops.')
    parser.add_argument('--out', type=Path, required=True,
                        help='output directory (created, parents too)')
    parser.add_argument('--seed', type=int, default=1, help='data-set seed (default 1)')
    parser.add_argument('--frames', type=int, default=12, help='full frames (default 12)')
    parser.add_argument('--crops', type=int, default=48, help='crops (default 48)')
    parser.add_argument('--grasp', action='store_true',
                        help='write the grasp / wear / occluder sheets instead (18 crops each)')
    parser.add_argument('--viewpoint', choices=VIEWPOINTS,
                        help='write viewpoint_NAME.png (--frames full frames) instead')
    args = parser.parse_args(argv)
    problem = out_problem(args.out, directory=True)
    if problem:
        parser.error(f'--out {args.out}: {problem}')
    if args.frames <= 0 or args.crops <= 0 or args.seed < 0:
        parser.error('--frames and --crops must be positive and --seed non-negative')
    args.out.mkdir(parents=True, exist_ok=True)
    if args.viewpoint:
        print(write_viewpoint_preview(args.out, args.viewpoint, args.seed, args.frames))
        return 0
    paths = (write_grasp_previews(args.out, args.seed, 18) if args.grasp
             else write_previews(args.out, args.seed, args.frames, args.crops))
    for path in paths:
        print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
