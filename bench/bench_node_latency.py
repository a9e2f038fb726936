"""End-to-end latency of the installed hand_pose_node over real DDS.

Run after ``source scripts/env.sh``::

    python bench/bench_node_latency.py [--weights W.safetensors] [--backend auto] \
        [--seconds 10] [--rate 30] [--threads 0] [--transport both|profile|default]

Starts ``hand_pose_node`` (the installed executable, source tree first on PYTHONPATH) as a
child process, publishes a looped stream of a moving rendered hand (640x480 16UC1, clutter and
sensor noise, ``training.synth.stream_frames``) at ``--rate`` Hz from this process
(stamped with the wall clock at publication) and receives HandPose. Prints input-to-HandPose
latency p50/p95/p99 (publication to reception, so DDS transport both ways is included), the
output rate, frames sent but never answered, and the node's own per-stage split (convert,
segment, crop, inference, publish) and counters from its last /diagnostics status.
Without --weights: the shipped weights if installed, else random-init weights (same speed).
``--transport profile`` loads the Fast DDS profile config/fastdds_profile.xml (unless one is set
already) in both processes; ``default`` runs with Fast DDS defaults (no profile); ``both`` (the
default) runs the benchmark once each way, in fresh processes (a process reads its profile
once), and prints both reports.
"""

import argparse
from pathlib import Path
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

from stream_publisher import (ROOT, StreamPublisher, frames_from_samples, pace, start_node,
                              use_project_dds_defaults)

TRANSPORTS = ('both', 'profile', 'default')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--weights', help='weights file (default: shipped, else random)')
    parser.add_argument('--backend', default='auto')
    parser.add_argument('--threads', type=int, default=0,
                        help="node's threads (default 0, the node's default: the usable cores)")
    parser.add_argument('--seconds', type=float, default=10.0)
    parser.add_argument('--rate', type=float, default=30.0)
    parser.add_argument('--frames', type=int, default=90,
                        help='length of the rendered moving-hand loop')
    parser.add_argument('--transport', choices=TRANSPORTS, default='both',
                        help='Fast DDS profile: both (default), profile or default (none)')
    return parser.parse_args(argv)


ARGS = parse_args()
sys.path.insert(0, str(ROOT))
use_project_dds_defaults(profile=ARGS.transport != 'default')

import rclpy  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402

import crossinfonet_ros  # noqa: E402
from crossinfonet_ros.backends.probe import random_weights  # noqa: E402
from crossinfonet_ros.msg import HandPose  # noqa: E402
from crossinfonet_ros.node.params import find_shipped_weights  # noqa: E402
from training.synth.motion import stream_frames  # noqa: E402


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


def main() -> int:
    args = ARGS
    if args.transport == 'both':
        return run_both()

    temp = tempfile.TemporaryDirectory()
    weights = args.weights or find_shipped_weights(crossinfonet_ros.__path__)
    if weights is None:
        weights = random_weights(Path(temp.name) / 'random.safetensors', seed=5)
        print('weights: random-init (no shipped weights installed)')
    child = start_node(f'weights:={weights}', f'backend:={args.backend}',
                       f'threads:={args.threads}')

    rclpy.init()
    node = rclpy.create_node('bench_node_latency')
    # A moving hand (clutter, sensor noise) looped: the node tracks it as it would a camera's.
    stream = StreamPublisher(node, frames_from_samples(
        sample for _, sample in stream_frames(11, args.frames, args.rate)))
    sent, latencies_ms, answered, diagnostics = {}, [], [], []

    def on_pose(msg: HandPose) -> None:
        key = (msg.header.stamp.sec, msg.header.stamp.nanosec)
        if key in sent:
            latencies_ms.append((time.time_ns() - sent.pop(key)) * 1e-6)
            answered.append((time.monotonic(), msg.detected))

    node.create_subscription(HandPose, 'hand_pose', on_pose, 50)
    node.create_subscription(DiagnosticArray, '/diagnostics', diagnostics.append, 10)

    def publish(index: int) -> None:
        stamp, sent_ns = stream.publish(index)
        sent[stamp] = sent_ns

    try:
        # Warm-up: until the node answers (start-up, first inference, ONNX export if any).
        deadline = time.monotonic() + 120
        while not answered and time.monotonic() < deadline:
            publish(0)
            end = time.monotonic() + 0.5
            while not answered and time.monotonic() < end:
                rclpy.spin_once(node, timeout_sec=0.05)
            if child.poll() is not None:
                sys.exit(f'hand_pose_node exited with {child.returncode}')
        if not answered:
            sys.exit('hand_pose_node did not answer within 120 s')
        warm = time.monotonic()
        for i in range(30):  # a second more of warm-up at the real rate
            publish(0)
            pace(node, warm, i, args.rate)
        sent.clear()
        latencies_ms.clear()
        answered.clear()
        diagnostics.clear()
        start = time.monotonic()
        count = int(args.seconds * args.rate)
        for i in range(count):
            publish(i)
            pace(node, start, i, args.rate)
        drain = time.monotonic() + 1.0
        while sent and time.monotonic() < drain:  # late answers still count
            rclpy.spin_once(node, timeout_sec=0.05)
        # Output rate over the span of the answers (not the idle drain at the end).
        elapsed = (answered[-1][0] if answered else time.monotonic()) - start
    finally:
        node.destroy_node()
        rclpy.shutdown()
        child.send_signal(signal.SIGINT)
        child.wait(timeout=10)

    lat = np.asarray(latencies_ms)
    print(f'frames sent: {count} at {args.rate:g} Hz over {args.seconds:g} s '
          f'(backend {args.backend}, threads {args.threads})')
    print(f'answered: {len(lat)}  unanswered (dropped): {count - len(lat)}  '
          f'output rate: {len(lat) / elapsed:.1f} Hz  '
          f'detected: {sum(d for _, d in answered)}')
    if lat.size:
        p50, p95, p99 = np.percentile(lat, [50, 95, 99])
        print(f'latency image publish -> HandPose received, ms: p50 {p50:.1f}  p95 {p95:.1f}  '
              f'p99 {p99:.1f}  max {lat.max():.1f}')
    if diagnostics:
        values = {kv.key: kv.value for kv in diagnostics[-1].status[0].values}
        split = '  '.join(f'{stage} {values[f"{stage}_p50_ms"]}' for stage in
                          ('convert', 'segment', 'crop', 'inference', 'publish')
                          if f'{stage}_p50_ms' in values)
        print(f'node split, p50 ms: {split}')
        print('node counters: ' + '  '.join(f'{k}={v}' for k, v in values.items()
                                            if k.endswith('_total') or k.startswith('rejected_')))
        print(f'node latency (receive -> publish), ms: p50 {values.get("latency_p50_ms")}  '
              f'p95 {values.get("latency_p95_ms")}  p99 {values.get("latency_p99_ms")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
