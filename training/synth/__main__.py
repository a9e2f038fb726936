"""Command line: render synthetic depth hands to a HANDS2017-format folder or a rosbag2.

Examples::

    python -m training.synth --out data/synth --num 10000 --seed 1 --format hands2017
    python -m training.synth --out out/demo_bag --num 300 --format rosbag2 --stream --rate 30
    python -m training.synth --out data/ego --num 1000 --viewpoint egocentric

Cameras: ``--format hands2017`` defaults to the HANDS2017 camera (475.065948, 475.065857,
315.944855, 245.287079 at 640x480, spec 5.1) so synthetic and real frames share intrinsics;
``--format rosbag2`` defaults to a RealSense D435 at 640x480 (the demo's camera). Every
intrinsic can be overridden.
"""

import argparse
import multiprocessing
import sys
import time
from functools import partial
from pathlib import Path
from typing import Iterator, Optional, Sequence, Tuple

from crossinfonet_ros.camera import D435_640X480, Intrinsics
from training.cli import OneLineParser
from training.datasets.hands2017 import HANDS2017_INTRINSICS
from training.datasets.sample import Sample
from training.out_path import out_problem
from training.synth.clutter import ClutterConfig
from training.synth.motion import stream_frames
from training.synth.scene import SynthConfig, render_frame
from training.synth.sensor import SensorConfig
from training.synth.skeleton import ShapeConfig
from training.synth.viewpoints import VIEWPOINTS, parse_viewpoint_mix
from training.synth.writers import write_hands2017, write_rosbag2

DEFAULT_CAMERAS = {'hands2017': HANDS2017_INTRINSICS, 'rosbag2': D435_640X480}
DEFAULT_START_S = 1_700_000_000.0  # header stamp of the first frame (a fixed, plausible epoch)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m training.synth``."""
    parser = OneLineParser(
        prog='python -m training.synth',
        description='Render synthetic depth images of a right hand with ground-truth joints.')
    parser.add_argument('--out', type=Path, required=True,
                        help='output directory to create, parents too (hands2017 root or '
                             'rosbag2 bag); it must be new or empty')
    parser.add_argument('--num', type=int, required=True, help='number of frames (> 0)')
    parser.add_argument('--seed', type=int, default=0, help='data-set seed (>= 0, default 0)')
    parser.add_argument('--format', choices=sorted(DEFAULT_CAMERAS), default='hands2017',
                        help='output format (default hands2017)')
    parser.add_argument('--width', type=int, help='image width (default: the format camera)')
    parser.add_argument('--height', type=int, help='image height (default: the format camera)')
    parser.add_argument('--fx', type=float, help='focal length x, pixels')
    parser.add_argument('--fy', type=float, help='focal length y, pixels')
    parser.add_argument('--cx', type=float, help='principal point column, pixels')
    parser.add_argument('--cy', type=float, help='principal point row, pixels')
    parser.add_argument('--clutter', action=argparse.BooleanOptionalAction, default=True,
                        help='arm, body, table, object and wall around the hand (default on)')
    parser.add_argument('--noise', action=argparse.BooleanOptionalAction, default=True,
                        help='sensor noise, shadows and dropouts (default on)')
    parser.add_argument('--left-hand-prob', type=float, default=0.0,
                        help='share of left hands, 0..1 (default 0: right hands; a stream draws '
                             'one side)')
    parser.add_argument('--grasp-prob', type=float, default=0.0,
                        help='share of hands closed around an object (cylinder, handle, box, '
                             'sphere, pinched ball or pen), 0..1 (default 0)')
    parser.add_argument('--occluder-prob', type=float, default=0.0,
                        help='share of frames with an object between camera and hand, 0..1 '
                             '(default 0)')
    parser.add_argument('--wrist-wear-prob', type=float, default=0.0,
                        help='share of hands with a watch or a sleeve, 0..1 (default 0)')
    parser.add_argument('--webbing-prob', type=float, default=0.0,
                        help='share of hands with skin webs between the finger roots, 0..1 '
                             '(default 0)')
    parser.add_argument('--hand-scale', type=float, nargs=2, metavar=('MIN', 'MAX'),
                        default=ShapeConfig.scale_range,
                        help='hand size factor range, uniform (default %(default)s; 0.75 1.25 '
                             'spans children to large adults)')
    parser.add_argument('--finger-width', type=float, nargs=2, metavar=('MIN', 'MAX'),
                        default=ShapeConfig.width_range,
                        help='finger and palm thickness factor range on top of the size '
                             '(default %(default)s)')
    parser.add_argument('--viewpoint', choices=VIEWPOINTS, default='third_person',
                        help='camera viewpoint (training/synth/viewpoints.py; default '
                             'third_person)')
    parser.add_argument('--viewpoint-mix', metavar='NAME=SHARE,...',
                        help='draw each frame\'s viewpoint with these shares, e.g. '
                             'third_person=0.5,egocentric=0.3,overhead=0.2 (overrides '
                             '--viewpoint)')
    parser.add_argument('--stream', action='store_true',
                        help='one smoothly moving hand instead of independent frames')
    parser.add_argument('--rate', type=float, default=30.0,
                        help='frame rate in Hz of the header stamps and of --stream motion')
    parser.add_argument('--start-time', type=float, default=DEFAULT_START_S,
                        help='stamp of the first frame, seconds (rosbag2)')
    parser.add_argument('--workers', type=int, default=1,
                        help='processes rendering independent frames (default 1)')
    return parser


def _check_out(parser: argparse.ArgumentParser, out: Path) -> None:
    problem = out_problem(out, directory=True)
    if problem:
        parser.error(f'--out {out}: {problem}')
    if out.is_dir() and any(out.iterdir()):
        parser.error(f'--out {out}: already exists and is not an empty directory')


def parse_args(argv: Optional[Sequence[str]] = None) -> Tuple[argparse.Namespace, SynthConfig]:
    """Parse and validate the command line; exit with one clear line on bad input.

    :param argv: arguments (default ``sys.argv[1:]``)
    :returns: (arguments, the data distribution they select)
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.num <= 0:
        parser.error(f'--num must be positive, got {args.num}')
    if args.seed < 0:
        parser.error(f'--seed must be non-negative, got {args.seed}')
    if not args.rate > 0:
        parser.error(f'--rate must be positive, got {args.rate}')
    if not 0.0 <= args.left_hand_prob <= 1.0:
        parser.error(f'--left-hand-prob must be in [0, 1], got {args.left_hand_prob}')
    for flag in ('grasp_prob', 'occluder_prob', 'wrist_wear_prob', 'webbing_prob'):
        value = getattr(args, flag)
        if not 0.0 <= value <= 1.0:
            parser.error(f'--{flag.replace("_", "-")} must be in [0, 1], got {value}')
    if args.occluder_prob > 0.0 and args.stream:
        parser.error('--occluder-prob applies to independent frames, not --stream')
    for flag, low, high in (('hand-scale', 0.5, 1.5), ('finger-width', 0.5, 1.5)):
        lo, hi = getattr(args, flag.replace('-', '_'))
        if not low <= lo <= hi <= high:
            parser.error(f'--{flag} needs {low} <= MIN <= MAX <= {high}, got {lo} {hi}')
    try:
        mix = parse_viewpoint_mix(args.viewpoint_mix) if args.viewpoint_mix else ()
    except ValueError as error:
        parser.error(f'--viewpoint-mix: {error}')
    if args.stream and (mix or args.viewpoint != 'third_person'):
        parser.error('--stream renders third-person motion only; leave out --viewpoint and '
                     '--viewpoint-mix')
    if args.workers <= 0:
        parser.error(f'--workers must be positive, got {args.workers}')
    _check_out(parser, args.out)
    base = DEFAULT_CAMERAS[args.format]
    try:
        camera = Intrinsics(
            fx=base.fx if args.fx is None else args.fx, fy=base.fy if args.fy is None else args.fy,
            cx=base.cx if args.cx is None else args.cx, cy=base.cy if args.cy is None else args.cy,
            width=base.width if args.width is None else args.width,
            height=base.height if args.height is None else args.height)
    except ValueError as error:
        parser.error(f'bad camera: {error}')
    config = SynthConfig(intrinsics=camera,
                         clutter=ClutterConfig(enabled=args.clutter),
                         sensor=SensorConfig(enabled=args.noise),
                         left_hand_prob=args.left_hand_prob, viewpoint=args.viewpoint,
                         viewpoint_mix=mix,
                         shape=ShapeConfig(scale_range=tuple(args.hand_scale),
                                           width_range=tuple(args.finger_width),
                                           webbing_prob=args.webbing_prob),
                         grasp_prob=args.grasp_prob, occluder_prob=args.occluder_prob,
                         wrist_wear_prob=args.wrist_wear_prob)
    return args, config


def frames(args: argparse.Namespace, config: SynthConfig) -> Iterator[Tuple[float, Sample]]:
    """(time since the first frame in seconds, full frame) in order.

    :param args: parsed arguments
    :param config: the data distribution
    """
    if args.stream:
        yield from stream_frames(args.seed, args.num, args.rate, config)
        return
    render = partial(render_frame, args.seed, config=config)
    if args.workers == 1:
        samples = map(render, range(args.num))
        yield from ((index / args.rate, sample) for index, sample in enumerate(samples))
        return
    with multiprocessing.get_context('spawn').Pool(args.workers) as pool:
        samples = pool.imap(render, range(args.num), chunksize=8)
        yield from ((index / args.rate, sample) for index, sample in enumerate(samples))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Render and write; print a one-line summary.

    :param argv: arguments (default ``sys.argv[1:]``)
    """
    args, config = parse_args(argv)
    started = time.perf_counter()
    if args.format == 'hands2017':
        args.out.mkdir(parents=True, exist_ok=True)
        count = write_hands2017(args.out, (sample for _, sample in frames(args, config)))
    else:
        if args.out.exists():
            args.out.rmdir()  # an empty directory (checked): the bag writer creates it
        args.out.parent.mkdir(parents=True, exist_ok=True)
        start_ns = round(args.start_time * 1e9)
        count = write_rosbag2(args.out, ((start_ns + round(t * 1e9), sample)
                                         for t, sample in frames(args, config)))
    seconds = time.perf_counter() - started
    print(f'wrote {count} {args.format} frames to {args.out} in {seconds:.1f} s '
          f'({count / max(seconds, 1e-9):.1f} frames/s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
