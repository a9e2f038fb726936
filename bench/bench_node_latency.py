"""End-to-end latency of the installed hand_pose_node over real DDS.

Run after ``source scripts/env.sh``::

    python bench/bench_node_latency.py [--weights W.safetensors] [--backend B] [--device D]
        [--threads N] [--seconds 10] [--rate 30] [--transport both|profile|default]
        [--resolution 640x480 | --frames DIR|PNG --intrinsics fx,fy,cx,cy [--depth-scale S]]
        [--hands 1|2] [--hog N] [--json OUT.json]

Starts ``hand_pose_node`` (the installed executable, this source tree first on PYTHONPATH, with
config/hand.yaml: the node's default parameters unless --backend, --device or --threads say
otherwise) as a child process, publishes a looped stream at ``--rate`` Hz from this process,
each frame stamped with the wall clock just before its publication, and receives HandPose.
The stream is a moving rendered hand (16UC1, sensor noise, ``training.synth.motion``) at
``--resolution`` (the 640x480 D435's focal length, principal point centred), or the 16-bit
depth PNGs of ``--frames`` (a folder: all its PNGs in numeric order) at ``--depth-scale``
metres per unit, sent as 16UC1 mm as camera drivers do.

Prints input-to-HandPose latency p50/p95/p99 (publication to reception: DDS transport both
ways included), frames answered, the backlog check (median latency of the first second's
frames vs the last second's), whether each answer was of the newest frame waiting
(:func:`latency_report.stale_answers`), and the budget of the median frame: transport (the
node's stamp -> reception age), the node's queue wait, conversion, segmentation, crop,
network, decode (its /diagnostics medians), the rest of its processing, and the HandPose
publish with its way back. Without --weights: the shipped weights if installed, else
random-init weights (same speed). ``--transport profile`` loads config/fastdds_profile.xml
(unless one is set already) in both processes; ``default`` runs with Fast DDS defaults;
``both`` (the default) runs the benchmark once each way, in fresh processes (a process reads
its profile once). ``--hog N`` runs N busy processes, each pinned to one core
(bench/cpu_hog.py), from the end of the warm-up to the end of the stream: another program
taking cores while the node works.
"""

import argparse
import json
import math
import os
from pathlib import Path
import re
import signal
import subprocess
import sys
import tempfile
import time

from cpu_hog import start_cpu_hogs, stop_cpu_hogs
from stream_publisher import ROOT, StreamPublisher, pace, start_node, use_project_dds_defaults

sys.path.insert(0, str(ROOT))  # training (the renderer, the one-line parser) and the node code

from training.cli import OneLineParser  # noqa: E402

TRANSPORTS = ('both', 'profile', 'default')
MAX_SIDE = 8192  # pixels: no depth camera streams more


def resolution(text: str) -> tuple:
    """An argparse type: ``WxH`` in pixels, e.g. ``848x480``."""
    match = re.fullmatch(r'(\d+)x(\d+)', text.strip())
    if not match or not all(16 <= int(v) <= MAX_SIDE for v in match.groups()):
        raise argparse.ArgumentTypeError(f'expected WxH with sides in 16..{MAX_SIDE} pixels '
                                         f'(e.g. 848x480), got {text!r}')
    return int(match[1]), int(match[2])


def intrinsics(text: str) -> tuple:
    """An argparse type: ``fx,fy,cx,cy`` in pixels."""
    try:
        values = tuple(float(v) for v in text.split(','))
    except ValueError:
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values) or min(values[:2]) < 1:
        raise argparse.ArgumentTypeError(f'expected fx,fy,cx,cy (four numbers, focal lengths '
                                         f'>= 1 pixel), got {text!r}')
    return values


def positive(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = float('nan')
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f'expected a number > 0, got {text!r}')
    return value


def parse_args(argv=None) -> argparse.Namespace:
    """The command line; a bad combination exits 2 with one line saying what is wrong."""
    parser = OneLineParser(prog='bench_node_latency.py', description=__doc__.splitlines()[0])
    add = parser.add_argument
    add('--weights', help='weights file (default: shipped, else random)')
    add('--backend', help="node's backend (default: config/hand.yaml's)")
    add('--device', help="node's device, e.g. cuda (default: config/hand.yaml's)")
    add('--threads', type=int, help="node's threads (default: config/hand.yaml's)")
    add('--seconds', type=positive, default=10.0)
    add('--rate', type=positive, default=30.0, help='frames per second')
    add('--loop', type=int, default=90, help='length of the rendered moving-hand loop')
    add('--resolution', type=resolution, help='rendered frames, WxH (default 640x480)')
    add('--hands', type=int, choices=(1, 2), default=1,
        help='2: two rendered hands crossing, the node with max_hands:=2, HandPoseArray timed '
             '(detected: both hands in it)')
    add('--frames', type=Path, help='a 16-bit depth PNG or a folder of them, streamed in a loop')
    add('--depth-scale', type=positive, default=0.001,
        help='metres per PNG unit (default 0.001: mm; the SR305 recordings: 0.000125)')
    add('--intrinsics', type=intrinsics, help='fx,fy,cx,cy of the --frames camera, pixels')
    add('--transport', choices=TRANSPORTS, default='both',
        help='Fast DDS profile: both (default), profile or default (none)')
    add('--hog', type=int, default=0, metavar='N',
        help='N busy processes, each pinned to one core, while the stream runs (default 0)')
    add('--json', type=Path, help='also write the figures to this file (one run)')
    args = parser.parse_args(argv)
    if args.hands == 2 and (args.frames is not None or args.resolution not in (None, (640, 480))):
        parser.error('--hands 2 streams its own 640x480 renders: no --frames or --resolution')
    if args.frames is None:
        if args.intrinsics is not None:
            parser.error('--intrinsics describes the camera of --frames: give --frames too')
        args.resolution = args.resolution or (640, 480)
    else:
        if args.resolution is not None:
            parser.error('--resolution is for rendered frames; --frames images have their own')
        if args.intrinsics is None:
            parser.error('--frames needs --intrinsics fx,fy,cx,cy (the recording camera)')
        args.pngs = png_paths(args.frames, parser)
    if not 0 <= args.hog <= len(os.sched_getaffinity(0)):
        parser.error(f'--hog {args.hog}: this process may run on '
                     f'{len(os.sched_getaffinity(0))} CPU(s)')
    if args.transport == 'both' and args.json:
        parser.error('--json writes one run: give --transport profile or default')
    return args


def png_paths(path: Path, parser: argparse.ArgumentParser) -> list:
    """The PNGs of ``--frames``: the file, or a folder's in numeric order (10.png after 9.png)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        parser.error(f'--frames: no such file or folder: {path}')
    found = sorted(path.glob('*.png'), key=lambda p: [int(t) if t.isdigit() else t for t in
                                                     re.split(r'(\d+)', p.name)])
    if not found:
        parser.error(f'--frames: no .png file in {path}')
    return found


ARGS = parse_args()
use_project_dds_defaults(profile=ARGS.transport != 'default')

import rclpy  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402

import crossinfonet_ros  # noqa: E402
from crossinfonet_ros.backends.probe import random_weights  # noqa: E402
from crossinfonet_ros.msg import HandPose, HandPoseArray  # noqa: E402
from crossinfonet_ros.node.params import find_shipped_weights  # noqa: E402
from latency_report import Answer, report_lines, summary  # noqa: E402
from stream_publisher import png_frames, render_loop, two_hand_loop  # noqa: E402


def run_both() -> int:
    """The benchmark with the profile, then without, each in a fresh process."""
    base = [arg for arg in sys.argv[1:] if not arg.startswith('--transport')]
    if '--transport' in sys.argv:  # '--transport both' as two arguments
        index = sys.argv.index('--transport')
        base = sys.argv[1:index] + sys.argv[index + 2:]
    status = 0
    for transport, title in (('profile', 'with config/fastdds_profile.xml'),
                             ('default', 'with Fast DDS defaults (no profile)')):
        print(f'== transport {title}', flush=True)
        status |= subprocess.run([sys.executable, __file__, *base, '--transport',
                                  transport]).returncode
    return status


def stream_frames(args: argparse.Namespace) -> list:
    """The loop to stream: the PNGs of --frames, or the rendered moving hand."""
    if args.hands == 2:
        return two_hand_loop(1, args.loop)
    if args.frames is None:
        return render_loop(11, args.loop, args.rate, size=args.resolution)
    return png_frames(args.pngs, args.depth_scale, args.intrinsics)


def node_overrides(args: argparse.Namespace, weights: str) -> list:
    """``name:=value`` parameters for the node: the weights, and what the command line set."""
    chosen = {'backend': args.backend, 'device': args.device, 'threads': args.threads,
              'max_hands': args.hands if args.hands > 1 else None}
    return [f'weights:={weights}'] + [f'{name}:={value}' for name, value in chosen.items()
                                      if value is not None]


def main() -> int:
    args = ARGS
    if args.transport == 'both':
        return run_both()
    try:
        frames = stream_frames(args)
    except ValueError as error:
        sys.exit(f'bench_node_latency.py: error: --frames: {error}')

    temp = tempfile.TemporaryDirectory()
    weights = args.weights or find_shipped_weights(crossinfonet_ros.__path__)
    if weights is None:
        weights = random_weights(Path(temp.name) / 'random.safetensors', seed=5)
        print('weights: random-init (no shipped weights installed)')
    child = start_node(*node_overrides(args, weights))

    rclpy.init()
    node = rclpy.create_node('bench_node_latency')
    stream = StreamPublisher(node, frames)  # a loop: the node tracks it as it would a camera's
    sent, published, answers, diagnostics = {}, [], [], []

    def on_pose(msg) -> None:
        key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        if key in sent:
            index, published_ns = sent.pop(key)
            poses = msg.hands if args.hands == 2 else [msg]
            took = poses[0].processing_time if poses else None
            processing = took.sec * 1e3 + took.nanosec * 1e-6 if took else 0.0  # none: unknown
            answers.append(Answer(index, published_ns, time.time_ns(), processing,
                                  len(poses) == 2 if args.hands == 2 else msg.detected))

    if args.hands == 2:
        node.create_subscription(HandPoseArray, 'hands', on_pose, 50)
    else:
        node.create_subscription(HandPose, 'hand_pose', on_pose, 50)
    node.create_subscription(DiagnosticArray, '/diagnostics', diagnostics.append, 10)

    def publish(index: int) -> None:
        stamp, sent_ns = stream.publish(index)
        sent[stamp] = (index, sent_ns)
        published.append(sent_ns)

    hogs, exited = [], None
    try:
        # Warm-up: until the node answers (start-up, first inference, ONNX export if any).
        deadline = time.monotonic() + 120
        while not answers and time.monotonic() < deadline:
            publish(0)
            end = time.monotonic() + 0.5
            while not answers and time.monotonic() < end:
                rclpy.spin_once(node, timeout_sec=0.05)
            if child.poll() is not None:
                sys.exit(f'hand_pose_node exited with {child.returncode}')
        if not answers:
            sys.exit('hand_pose_node did not answer within 120 s')
        hogs = start_cpu_hogs(args.hog)
        warm = time.monotonic()
        for i in range(int(args.rate)):  # a second more of warm-up at the real rate
            publish(i)
            pace(node, warm, i, args.rate)
        for recorded in (sent, published, answers, diagnostics):
            recorded.clear()
        start = time.monotonic()
        count = int(args.seconds * args.rate)
        for i in range(count):
            publish(i)
            pace(node, start, i, args.rate)
        drain = time.monotonic() + 1.0
        while sent and time.monotonic() < drain:  # late answers still count
            rclpy.spin_once(node, timeout_sec=0.05)
        exited = child.poll()
    finally:
        stop_cpu_hogs(hogs)
        node.destroy_node()
        rclpy.shutdown()
        child.send_signal(signal.SIGINT)
        child.wait(timeout=10)
    if exited is not None:
        sys.exit(f'hand_pose_node exited with {exited} during the stream')

    values = {kv.key: kv.value for kv in diagnostics[-1].status[0].values} if diagnostics else {}
    figures = summary(answers, published, args.seconds, values)
    size = f'{frames[0].image["width"]}x{frames[0].image["height"]}'
    source = (f'{len(frames)} PNG(s) of {args.frames}' if args.frames
              else 'two rendered hands crossing' if args.hands == 2 else 'rendered hand')
    figures.update(rate_hz=args.rate, seconds=args.seconds, resolution=size, source=source,
                   transport=args.transport, device=args.device, backend=args.backend,
                   threads=args.threads, cpu_hogs=args.hog)
    print(f'frames sent: {count} at {args.rate:g} Hz over {args.seconds:g} s, {size} '
          f'{source} (node parameters: config/hand.yaml, {node_overrides(args, "W")[1:]})'
          + (f', {args.hog} core(s) taken by CPU hogs' if args.hog else ''))
    print('\n'.join(report_lines(figures)))
    if values:
        print('node counters: ' + '  '.join(f'{k}={v}' for k, v in values.items()
                                            if k.endswith('_total') or k.startswith('rejected_')))
        print(f'node latency (receive -> publish), ms: p50 {values.get("latency_p50_ms")}  '
              f'p95 {values.get("latency_p95_ms")}  p99 {values.get("latency_p99_ms")}')
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
