"""Soak test: a camera stream into the installed hand_pose_node for minutes; one JSON line out.

Run after ``source scripts/env.sh`` (or ``make soak MINUTES=N``)::

    python bench/soak.py --minutes N [--rate 30] [--hands 1|2] [--hog N] [--loop-frames 300]

Starts ``hand_pose_node`` (config/hand.yaml, the shipped weights) and a camera-driver process
(bench/stream_publisher.py: a pre-rendered loop of a moving hand, 640x480 16UC1 plus camera info,
RELIABLE publishers, re-stamped with the wall clock at each publication). This process counts
the frames sent (from their camera infos, which carry the image's stamp), receives HandPose
(``--hands 2``: two hands crossing and back, the node at ``max_hands:=2``, HandPoseArray),
samples the node's RSS and CPU with psutil, and restarts the node if it exits (a crash).
``--hog N``: N busy processes, each pinned to one core (bench/cpu_hog.py), for the whole
measurement: another program taking cores.

The measurement starts at the first answer (after start-up and the first inference). Latency is
image publication to HandPose reception. Goals (issue 8): answered >= 99.5 %, RSS growth after
warm-up < 5 %, last-minute p99 within 20 % of the first minute's, no crash. Exit code 0 when the
soak ran (goals missed or not, see ``goals``), 1 with one line on a set-up failure.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

from cpu_hog import start_cpu_hogs, stop_cpu_hogs
from stream_publisher import ROOT, start_node, start_stream_process, use_project_dds_defaults

sys.path.insert(0, str(ROOT))
use_project_dds_defaults()

import psutil  # noqa: E402
import rclpy  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from sensor_msgs.msg import CameraInfo  # noqa: E402

from crossinfonet_ros.msg import HandPose, HandPoseArray  # noqa: E402

START_TIMEOUT_S = 120.0  # first answer (imports, weights, a first ONNX export if not cached)
WARMUP_S = 30.0  # RSS is taken as the baseline this long after the first answer
DRAIN_S = 1.0  # late answers still count
SAME_HAND_M = 0.06  # crop centres of consecutive answers this near: one hand (side flips)
# Goals (issue 8, part 2).
MIN_ANSWERED_PCT = 99.5
MAX_RSS_GROWTH_PCT = 5.0
MAX_P99_DRIFT_PCT = 20.0


class SetupError(RuntimeError):
    """The soak could not run (the message says why)."""


class Soak:
    """The node, the camera process and what this process saw of them."""

    def __init__(self, args, log) -> None:
        self.args = args
        self.log = log
        self.sent = {}  # stamp ns -> seen (from the camera info of each frame)
        self.answers = {}  # stamp ns -> (latency ms, hands found)
        self.side_flips = 0  # a hand near the previous answer's hand with the other side
        self._previous = []  # (side, crop centre) of the last answer's hands
        self.rss = []  # (monotonic s, RSS bytes)
        self.crashes = 0
        self.hogs = []  # the CPU hogs' processes while the measurement runs
        self.node_cpu_s = 0.0  # CPU time of node processes that exited
        self._last_cpu_s = 0.0  # of the running node, at the last look
        self.probe = rclpy.create_node('soak_probe')
        if args.hands == 2:
            self.probe.create_subscription(HandPoseArray, 'hands', self._on_hands, 100)
        else:
            self.probe.create_subscription(HandPose, 'hand_pose', self._on_pose, 100)
        self.probe.create_subscription(CameraInfo, 'depth/camera_info', self._on_info, 100)
        self.node_counters = {}  # the node's own totals, from its last /diagnostics
        self.probe.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 10)
        self.node = self._start_node()
        self.camera = start_stream_process('--rate', str(args.rate), '--frames',
                                           str(args.loop_frames), '--hands', str(args.hands),
                                           stdout=subprocess.DEVNULL, stderr=log)

    def _start_node(self) -> psutil.Process:
        params = ((f'max_hands:={self.args.hands}',) if self.args.hands == 2 else ()) \
            + tuple(self.args.param)
        child = start_node(*params, stdout=self.log, stderr=subprocess.STDOUT)
        self.child = child
        return psutil.Process(child.pid)

    def _on_info(self, msg: CameraInfo) -> None:
        self.sent[msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec] = True

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if 'hand pose pipeline' in status.name:
                self.node_counters = {kv.key: int(kv.value) for kv in status.values
                                      if kv.key.endswith('_total')}

    def _on_pose(self, msg: HandPose) -> None:
        self._answer(msg.header.stamp, [msg] if msg.detected else [])

    def _on_hands(self, msg: HandPoseArray) -> None:
        self._answer(msg.header.stamp, list(msg.hands))

    def _answer(self, stamp_msg, hands: list) -> None:
        stamp = stamp_msg.sec * 10**9 + stamp_msg.nanosec
        if stamp in self.answers:
            return
        self.answers[stamp] = ((time.time_ns() - stamp) * 1e-6, len(hands))
        found = [(hand.handedness, np.array([hand.crop_center.x, hand.crop_center.y,
                                             hand.crop_center.z])) for hand in hands]
        for side, center in found:
            near = [s for s, c in self._previous if np.linalg.norm(c - center) < SAME_HAND_M]
            self.side_flips += bool(near) and side not in near
        self._previous = found

    def _check_processes(self) -> None:
        if self.camera.poll() is not None:
            raise SetupError(f'the camera process exited with {self.camera.returncode}')
        if self.child.poll() is not None:  # a crash: count it, start again
            self.crashes += 1
            self.node_cpu_s += self._last_cpu_s
            self._last_cpu_s = 0.0
            self.node = self._start_node()

    def _cpu_s(self) -> float:
        try:
            times = self.node.cpu_times()
            self._last_cpu_s = times.user + times.system
        except psutil.Error:
            pass
        return self.node_cpu_s + self._last_cpu_s

    def spin(self, until: float, watch: bool = True) -> None:
        """Receive and sample until the monotonic time ``until``.

        :param watch: check that the node (restarted on a crash) and the camera still run
        """
        next_sample = 0.0
        while time.monotonic() < until:
            rclpy.spin_once(self.probe, timeout_sec=0.05)
            if time.monotonic() >= next_sample:
                next_sample = time.monotonic() + 1.0
                if watch:
                    self._check_processes()
                try:
                    self.rss.append((time.monotonic(), self.node.memory_info().rss))
                except psutil.Error:
                    pass

    def run(self) -> dict:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.answers:
            if time.monotonic() > deadline:
                raise SetupError(f'hand_pose_node did not answer within {START_TIMEOUT_S:g} s '
                                 f'(log: {self.log.name})')
            self.spin(time.monotonic() + 0.2)
        start_ns, start = time.time_ns(), time.monotonic()
        cpu_start = self._cpu_s()
        self.rss.clear()
        self.hogs = start_cpu_hogs(self.args.hog)
        self.spin(start + self.args.minutes * 60.0)
        end_ns, end = time.time_ns(), time.monotonic()
        cpu_end = self._cpu_s()
        stop_cpu_hogs(self.hogs)
        self.camera.send_signal(signal.SIGINT)
        self.spin(time.monotonic() + DRAIN_S, watch=False)
        return self.summary(start_ns, end_ns, start, end, (cpu_end - cpu_start) / (end - start))

    def summary(self, start_ns, end_ns, start, end, cpu_fraction) -> dict:
        stamps = sorted(s for s in self.sent if start_ns <= s < end_ns)
        answered = [self.answers[s] for s in stamps if s in self.answers]
        minute = min(60.0, (end - start)) * 1e9

        def window(low, high):
            lat = [self.answers[s][0] for s in stamps if low <= s < high and s in self.answers]
            if not lat:
                return {'frames': 0, 'p50_ms': None, 'p99_ms': None}
            p50, p99 = np.percentile(lat, [50, 99])
            return {'frames': len(lat), 'p50_ms': round(float(p50), 2),
                    'p99_ms': round(float(p99), 2)}

        first, last = window(start_ns, start_ns + minute), window(end_ns - minute, end_ns)
        warm = start + min(WARMUP_S, (end - start) / 2)
        rss_warm = [r for t, r in self.rss if warm <= t <= end]
        rss_after, rss_end = (rss_warm[0], rss_warm[-1]) if rss_warm else (None, None)
        growth = (100.0 * (rss_end - rss_after) / rss_after) if rss_after else None
        answered_pct = 100.0 * len(answered) / max(len(stamps), 1)
        drift = (100.0 * (last['p99_ms'] - first['p99_ms']) / first['p99_ms']
                 if first['p99_ms'] and last['p99_ms'] is not None else None)
        goals = {
            'answered': answered_pct >= MIN_ANSWERED_PCT,
            'rss_growth': growth is not None and growth < MAX_RSS_GROWTH_PCT,
            'latency_stable': drift is not None and drift <= MAX_P99_DRIFT_PCT,
            'no_crash': self.crashes == 0,
        }
        mb = lambda b: None if b is None else round(b / 2**20, 1)  # noqa: E731
        return {
            'minutes': round((end - start) / 60.0, 2), 'rate_hz': self.args.rate,
            'frames_sent': len(stamps), 'answered': len(answered),
            'answered_pct': round(answered_pct, 3),
            'hands': self.args.hands, 'cpu_hogs': self.args.hog,
            'detected_pct': round(100.0 * sum(n > 0 for _, n in answered)
                                  / max(len(answered), 1), 2),
            'both_hands_pct': (round(100.0 * sum(n == 2 for _, n in answered)
                                     / max(len(answered), 1), 2) if self.args.hands == 2
                               else None),
            'side_flips': self.side_flips,
            'latency_first_minute': first, 'latency_last_minute': last,
            'p99_drift_pct': None if drift is None else round(drift, 1),
            'rss_after_warmup_mb': mb(rss_after), 'rss_end_mb': mb(rss_end),
            'rss_growth_pct': None if growth is None else round(growth, 2),
            'cpu_mean_pct': round(100.0 * cpu_fraction, 1), 'crashes': self.crashes,
            # Since the node started: 'dropped' = replaced by a newer frame before processing.
            'node_totals': self.node_counters,
            'goals': goals, 'goals_met': all(goals.values()),
        }

    def close(self) -> None:
        stop_cpu_hogs(self.hogs)
        for process in (self.camera, self.child):
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        for process in (self.camera, self.child):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.probe.destroy_node()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--minutes', type=float, required=True)
    parser.add_argument('--rate', type=float, default=30.0, help='camera frame rate, Hz')
    parser.add_argument('--hands', type=int, choices=(1, 2), default=1,
                        help='2 = two hands crossing and back, node at max_hands:=2')
    parser.add_argument('--hog', type=int, default=0, metavar='N',
                        help='N busy processes, each pinned to one core, while it runs')
    parser.add_argument('--loop-frames', type=int, default=300,
                        help='rendered frames, cycled (300 = 10 s of motion at 30 Hz)')
    parser.add_argument('--param', action='append', default=[], metavar='NAME:=VALUE',
                        help='node parameter override (repeatable), e.g. backend:=torch')
    args = parser.parse_args()
    if not args.minutes > 0:
        print('soak: --minutes must be > 0', file=sys.stderr)
        return 1
    if not 0 <= args.hog <= len(os.sched_getaffinity(0)):
        print(f'soak: --hog {args.hog}: this process may run on '
              f'{len(os.sched_getaffinity(0))} CPU(s)', file=sys.stderr)
        return 1
    log = tempfile.NamedTemporaryFile('w', prefix='soak-node-', suffix='.log', delete=False)
    rclpy.init()
    soak, code = None, 1
    try:
        soak = Soak(args, log)
        print(json.dumps(soak.run()), flush=True)
        code = 0
    except (SetupError, RuntimeError, OSError, psutil.Error) as error:
        print(f'soak: set-up failure: {error} (node log: {log.name})', file=sys.stderr)
    finally:
        if soak is not None:
            soak.close()
        rclpy.try_shutdown()
        log.close()
        if code == 0:
            os.unlink(log.name)
    return code


if __name__ == '__main__':
    sys.exit(main())
