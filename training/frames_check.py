"""Check the node's pipeline on real depth frames without labels: where do its joints land?

``python -m training.frames_check --root DIR --depth-scale S --intrinsics fx,fy,cx,cy``
(also ``python -m training.evaluate --dataset frames ...``) runs the node's own pipeline with
the node's defaults (shipped weights, handedness auto, refine passes, backend auto) on every
16-bit PNG under DIR, sub-folders included, in natural order. By default each frame is a fresh
detection: recordings are often every n-th frame, so the previous file is not the previous
camera frame, and a fresh detection is what the node does on a hand's first frame. ``--tracking``
seeds each frame from the one before it (reset at each sub-folder) as the node does on a
stream.

Prints per frame whether a hand was found, its side, the mean heat-map confidence and the share
of its joints on the observed surface (:mod:`training.surface_share`), then the totals, per
joint group and per sub-folder; writes a contact sheet (:mod:`training.frames_sheet`) and, with
``--json``, all of it.
"""

import argparse
from collections import Counter
import json
from pathlib import Path
import sys
from typing import List, Optional, Sequence

import numpy as np

import crossinfonet_ros
from crossinfonet_ros.camera import Intrinsics
from crossinfonet_ros.estimator import HandPoseEstimator
from crossinfonet_ros.mirror import HANDEDNESS_MODES
from crossinfonet_ros.node.params import find_shipped_weights
from crossinfonet_ros.pipeline import HandPosePipeline, PipelineConfig
from crossinfonet_ros.segmentation import HandDetectorConfig
from crossinfonet_ros.weights import WeightsError
from training.frames_folder import (FramesError, check_folder, parse_depth_scale,
                                    parse_intrinsics, read_frame)
from training.frames_sheet import Tile, write_sheet
from training.out_path import out_problem
from training.surface_share import BACK_MM, FRONT_MM, OUTCOMES, joint_groups, joint_outcomes

PROG = 'python -m training.frames_check'


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        raise FramesError(message)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = _Parser(prog=PROG, description=__doc__.split('\n')[0])
    add = parser.add_argument
    add('--dataset', choices=('frames',), default='frames',
        help="accepted for 'python -m training.evaluate --dataset frames'")
    add('--root', required=True, help='folder of 16-bit depth PNGs (sub-folders included)')
    add('--depth-scale', required=True, type=str,
        help="metres per raw depth unit (the node's depth_scale), e.g. 0.001 for mm")
    add('--intrinsics', required=True, help='fx,fy,cx,cy of the depth camera, pixels')
    add('--weights', help='weights file (default: the shipped weights, as the node)')
    add('--handedness', choices=HANDEDNESS_MODES, default='auto',
        help="the users' hand: 'auto' (the node's default), 'right' or 'left'")
    add('--tracking', action='store_true',
        help='seed each frame from the previous one (per sub-folder); default: fresh detection')
    add('--min-depth', type=float, default=0.15, help='hand search band near end, m')
    add('--max-depth', type=float, default=1.0, help='hand search band far end, m')
    add('--backend', default='auto', help="estimator backend (the node's default 'auto')")
    add('--device', default='auto', help='estimator device')
    add('--sheet', default='frames_sheet.png', help='contact sheet PNG to write')
    add('--json', help='write the per-frame results and totals here')
    return parser


def _share(flags: np.ndarray) -> Optional[float]:
    return float(np.mean(flags)) if flags.size else None


def run(args: argparse.Namespace) -> dict:
    """Run the pipeline over the folder; return the results (sheet and JSON written)."""
    scale = parse_depth_scale(args.depth_scale)
    root = Path(args.root)
    paths, shape = check_folder(root)
    camera = parse_intrinsics(args.intrinsics, shape)
    if not 0 < args.min_depth < args.max_depth:
        raise FramesError(f'--min-depth {args.min_depth} and --max-depth {args.max_depth}: '
                          'need 0 < min < max (metres)')
    weights = args.weights or find_shipped_weights(crossinfonet_ros.__path__)
    if weights is None:
        raise FramesError('no shipped weights found; pass --weights')
    try:
        estimator = HandPoseEstimator.from_weights(weights, args.device, args.backend)
    except WeightsError:
        raise
    except ValueError as error:
        raise FramesError(f'cannot run {weights}: {error}') from None
    network_side = str((estimator.metadata.training or {}).get('handedness', 'right'))
    pipeline = HandPosePipeline(estimator, PipelineConfig(
        HandDetectorConfig(min_depth_mm=args.min_depth * 1000.0,
                           max_depth_mm=args.max_depth * 1000.0, cube_mm=estimator.cube_mm),
        tracking=args.tracking, handedness=args.handedness,
        network_side=network_side if network_side in ('right', 'left') else 'right'))
    layout = estimator.layout
    rows, tiles, folder = [], [], None
    for index, path in enumerate(paths):
        frame = read_frame(path, root, scale)
        if Path(frame.name).parent != folder:  # another recording: no track across it
            folder = Path(frame.name).parent
            pipeline.reset()
        result = pipeline.process(frame.depth_mm, camera, index / 30.0)
        row = {'frame': frame.name, 'found': bool(result.detected)}
        joints = on = None
        if result.detected:
            joints = result.native_m * 1000.0
            outcomes = joint_outcomes(joints, frame.depth_mm, camera)
            on = outcomes == 'on'
            row.update(side=result.handedness,
                       confidence=float(np.mean(result.confidence)),
                       surface_share=float(np.mean(on)), outcomes=outcomes.tolist(),
                       tracked=bool(result.tracked),
                       joints_mm=np.round(joints, 1).tolist())
            caption = f'{result.handedness}, {100 * np.mean(on):.0f} % on surface'
        else:
            row['reason'] = result.reason
            caption = f'no hand: {result.reason}'
        rows.append(row)
        tiles.append(Tile(frame.name, frame.depth_mm, joints, on,
                          None if joints is None else np.asarray(result.center_m) * 1000.0,
                          estimator.cube_mm, caption))
    summary = {'root': str(root), 'weights': str(weights), 'depth_scale_m': scale,
               'intrinsics': [camera.fx, camera.fy, camera.cx, camera.cy],
               'handedness': args.handedness, 'tracking': bool(args.tracking),
               'backend': estimator.backend, 'window_mm': [-FRONT_MM, BACK_MM],
               'joint_names': list(layout.joint_names), 'frames': rows}
    summary['totals'] = totals(rows, layout)
    share = summary['totals']['surface_share']
    share_text = 'no joints' if share is None else f'{100 * share:.1f} % of joints'
    title = (f'real frames {root.name}/: {summary["totals"]["found"]}/{len(rows)} found, '
             f'{share_text} on the surface; {Path(weights).name}, handedness '
             f'{args.handedness}')
    write_sheet(Path(args.sheet), tiles, camera, layout, title)
    summary['sheet'] = str(args.sheet)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(summary, indent=2) + '\n')
    return summary


def totals(rows: List[dict], layout) -> dict:
    """Frames found, sides, and the share of joints on the surface: overall, per joint group,
    per joint, per sub-folder, and why the others are not (:data:`OUTCOMES`)."""
    found = [row for row in rows if row['found']]
    outcomes = np.array([row['outcomes'] for row in found], dtype=str).reshape(
        len(found), layout.num_joints)
    on = outcomes == 'on'
    folders = {}
    for row in found:
        folders.setdefault(str(Path(row['frame']).parent), []).append(row['surface_share'])
    return {
        'found': len(found), 'sides': dict(Counter(row['side'] for row in found)),
        'surface_share': _share(on),
        'groups': {name: _share(on[:, joints]) for name, joints in joint_groups(layout).items()},
        'per_joint': {name: _share(on[:, j]) for j, name in enumerate(layout.joint_names)},
        'folders': {name: float(np.mean(shares)) for name, shares in folders.items()},
        'outcomes': {kind: _share(outcomes == kind) for kind in OUTCOMES}}


def report(summary: dict) -> str:
    """The per-frame table and the totals, as printed."""
    lines = [f'{"frame":<28} {"found":<5} {"side":<5} {"conf":>5} {"on surface":>10}']
    for row in summary['frames']:
        if row['found']:
            lines.append(f'{row["frame"]:<28} {"yes":<5} {row["side"]:<5} '
                         f'{row["confidence"]:>5.2f} {100 * row["surface_share"]:>9.0f}%')
        else:
            lines.append(f'{row["frame"]:<28} {"no":<5} {row["reason"]}')
    total = summary['totals']
    share = total['surface_share']
    lines.append(f'hands found {total["found"]}/{len(summary["frames"])}, sides '
                 + ', '.join(f'{side} {count}' for side, count in total['sides'].items()))
    if share is not None:
        front, back = summary['window_mm']
        lines.append(f'joints on the surface ({front:+.0f}..{back:+.0f} mm of the reading): '
                     f'{100 * share:.1f}%; '
                     + ', '.join(f'{name} {100 * value:.1f}%'
                                 for name, value in total['groups'].items()))
        if len(total['folders']) > 1:
            lines.append('per folder: ' + ', '.join(f'{name} {100 * value:.1f}%' for name, value
                                                    in total['folders'].items()))
        lines.append('joints off it: ' + ', '.join(
            f'{kind} {100 * value:.1f}%' for kind, value in total['outcomes'].items()
            if kind != 'on'))
    lines.append(f'contact sheet: {summary["sheet"]}')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status (2 on bad input, one line)."""
    try:
        args = build_parser().parse_args(argv)
        for option, path in (('--sheet', args.sheet), ('--json', args.json)):
            problem = path and out_problem(Path(path), directory=False)
            if problem:
                raise FramesError(f'{option} {path}: {problem}')
        summary = run(args)
    except (FramesError, WeightsError) as error:
        print(f'{PROG}: error: {error}', file=sys.stderr)
        return 2
    print(report(summary))
    return 0


def requested(argv: Sequence[str]) -> bool:
    """Whether evaluate's arguments ask for this check (``--dataset frames``)."""
    argv = list(argv)
    return '--dataset=frames' in argv or any(
        a == '--dataset' and b == 'frames' for a, b in zip(argv, argv[1:]))


if __name__ == '__main__':
    sys.exit(main())
