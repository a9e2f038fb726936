"""Time the codec crop and the hand detector on a 640x480 uint16 frame.

Run from the checkout: ``.venv/bin/python bench/bench_codec.py [--runs N] [--downsample K]``.
Prints median and p95 latency in ms and the throughput of each step and of the whole
per-frame preprocessing (detect + crop). The scene is the one the segmentation tests use: a
flat 'hand' 450 mm from a D435-like camera, a torso at 700 mm, a table and a wall.
"""

import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, 'test')]

from crossinfonet_ros.codec import crop_hand  # noqa: E402
from crossinfonet_ros.segmentation import HandDetectorConfig, detect_hand  # noqa: E402
from test_segmentation import CAMERA, HAND, HAND_PLATE, TABLE_MM, TORSO_PLATE, WALL_MM  # noqa
from test_codec import render_scene  # noqa: E402


def time_calls(function, runs: int) -> np.ndarray:
    """Wall-clock seconds of ``runs`` calls of ``function`` after a short warm-up."""
    for _ in range(min(20, runs)):
        function()
    times = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter()
        function()
        times[i] = time.perf_counter() - start
    return times


def report(name: str, times: np.ndarray) -> None:
    median, p95 = np.median(times) * 1e3, np.percentile(times, 95) * 1e3
    print(f'{name:<34} median {median:7.3f} ms   p95 {p95:7.3f} ms   '
          f'{1e3 / median:8.0f} calls/s')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=1000, help='timed calls per step')
    parser.add_argument('--downsample', type=int, default=HandDetectorConfig.downsample,
                        help='detector working-resolution step')
    args = parser.parse_args()
    frame = np.round(render_scene(CAMERA, plates=[HAND_PLATE, TORSO_PLATE], wall_mm=WALL_MM,
                                  floor_mm=TABLE_MM)).astype(np.uint16)
    config = HandDetectorConfig(downsample=args.downsample)
    center = detect_hand(frame, CAMERA, config).center_mm
    print(f'frame {frame.shape[1]}x{frame.shape[0]} {frame.dtype}, detector downsample '
          f'{args.downsample}, centre {np.round(center, 1)} mm (true {HAND})')
    report('crop_hand', time_calls(lambda: crop_hand(frame, center, 250.0, CAMERA), args.runs))
    report('detect_hand (detect)', time_calls(lambda: detect_hand(frame, CAMERA, config),
                                              args.runs))
    report('detect_hand (track, seeded)',
           time_calls(lambda: detect_hand(frame, CAMERA, config, seed_mm=center), args.runs))

    def per_frame() -> None:
        found = detect_hand(frame, CAMERA, config)
        crop_hand(frame, found.center_mm, 250.0, CAMERA)

    report('detect + crop (one frame)', time_calls(per_frame, args.runs))


if __name__ == '__main__':
    main()
