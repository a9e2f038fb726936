"""Time the hand segmentation alone, per frame: fresh detection and tracking, p50 / p95.

Usage: ``python bench/bench_segmentation.py [--streams N] [--frames N] [--repeats N]
[--no-buffers] [--sizes 640x480,848x480] [--no-real]``.

What the pipeline's ``segment`` timing covers, on the frames the node gets:

- ``detect``: :func:`prepare_frame` then :func:`detect_hand_candidates` with the pipeline's
  ``max_candidates`` (5): a fresh detection, after a lost track;
- ``track``: :func:`prepare_frame` then :func:`detect_hand` seeded with the previous frame's
  centre (rendered streams) or with the frame's own detection (independent frames): the steady
  state of a tracked hand.

Frames: rendered streams of a moving hand among clutter (uint16 mm, as from a 16UC1 camera) at
each size, independent cluttered frames, and the real SR305 frames of ../shared/real (float32
mm, as the node converts their 0.125 mm unit). Each frame is timed ``--repeats`` times; the
percentiles are over frames, of each frame's best call (its cost on a core of its own) and of
its median call. The frames
are prepared into one :class:`FrameBuffers` as the pipeline does (``--no-buffers``: new arrays).
"""

import argparse
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, 'test')]

from crossinfonet_ros.frame_buffers import FrameBuffers  # noqa: E402
from crossinfonet_ros.pipeline import PipelineConfig  # noqa: E402
from crossinfonet_ros.segmentation import (HandDetectorConfig, detect_hand,  # noqa: E402
                                           detect_hand_candidates, prepare_frame)
from segmentation_frames import (D435_640X480, D435_848X480, real_frames,  # noqa: E402
                                 rendered_frames, rendered_stream)

CAMERAS = {'640x480': D435_640X480, '848x480': D435_848X480}


def call_ms(function, repeats: int) -> tuple:
    """(best, median) wall-clock milliseconds of ``repeats`` calls after one untimed call.
    On a shared machine the best of a frame's calls is its cost on a core it had alone; the
    median also counts the time other processes held the core."""
    function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times) * 1e3, float(np.median(times)) * 1e3


def time_frames(frames, config: HandDetectorConfig, count: int, repeats: int,
                buffers, chained: bool, modes=('detect', 'track')) -> dict:
    """Per-frame (best, median) ms of the ``modes`` (``detect``, ``track``) over ``frames``;
    ``chained``: the track seed is the previous frame's centre (a stream), else the frame's
    own detection."""
    times = {mode: [] for mode in modes}
    reuse = {} if buffers is None else {'buffers': buffers}  # None: also runs older checkouts
    seed = None
    for _, depth, camera in frames:
        def detect():
            frame = prepare_frame(depth, camera, config, **reuse)
            return detect_hand_candidates(depth, camera, config, count, frame=frame)

        found = detect()[0]
        if not chained or seed is None:
            seed = found.center_mm if found else None
        if seed is not None:
            def track():
                frame = prepare_frame(depth, camera, config, **reuse)
                return detect_hand(depth, camera, config, seed, frame=frame)

            if 'track' in times:
                times['track'].append(call_ms(track, repeats))
            tracked = track()
            seed = tracked.center_mm if tracked else None
        if 'detect' in times:
            times['detect'].append(call_ms(detect, repeats))
    return times


def report(name: str, times: dict) -> None:
    for mode, values in times.items():
        if values:
            best, median = np.asarray(values).T
            (b50, b95), (m50, m95) = np.percentile(best, [50, 95]), np.percentile(median, [50, 95])
            print(f'{name:<26} {mode:<6} {len(values):3d} frames   best p50 {b50:6.2f} '
                  f'p95 {b95:6.2f} ms   median p50 {m50:6.2f} p95 {m95:6.2f} ms')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--streams', type=int, default=3, help='rendered streams per size')
    parser.add_argument('--frames', type=int, default=30,
                        help='frames per rendered stream (and independent frames per size)')
    parser.add_argument('--repeats', type=int, default=7, help='timed calls per frame and mode')
    parser.add_argument('--sizes', default='640x480,848x480',
                        help=f'comma-separated, of {", ".join(CAMERAS)}')
    parser.add_argument('--no-buffers', action='store_true',
                        help='new arrays every frame instead of reused ones')
    parser.add_argument('--no-real', action='store_true', help='skip the SR305 frames')
    parser.add_argument('--modes', default='detect,track', help='comma-separated modes to time')
    args = parser.parse_args()
    sizes = [size for size in args.sizes.split(',') if size]
    modes = tuple(mode for mode in args.modes.split(',') if mode)
    unknown = [size for size in sizes if size not in CAMERAS]
    if unknown or not modes or set(modes) - {'detect', 'track'}:
        parser.error(f'sizes must be among {", ".join(CAMERAS)} and modes among detect, track; '
                     f'got --sizes {args.sizes} --modes {args.modes}')
    if args.streams < 0 or args.frames < 1 or args.repeats < 1:
        parser.error('need streams >= 0, frames >= 1 and repeats >= 1')
    config = HandDetectorConfig()
    count = PipelineConfig(detector=config).max_candidates
    buffers = None if args.no_buffers else FrameBuffers()
    print(f'segmentation per frame: detect = prepare + {count} candidates, track = prepare + '
          f'seeded refinement; best and median of {args.repeats} calls per frame; '
          f'{"new arrays" if args.no_buffers else "reused buffers"}')
    for size in sizes:
        camera = CAMERAS[size]
        merged = {mode: [] for mode in modes}
        for seed in range(args.streams):
            times = time_frames(rendered_stream(seed, args.frames, camera), config, count,
                                args.repeats, buffers, True, modes)
            for mode in merged:
                merged[mode] += times[mode]
        report(f'rendered streams {size}', merged)
        report(f'rendered frames {size}',
               time_frames(rendered_frames(0, args.frames, camera), config, count,
                           args.repeats, buffers, False, modes))
    real = [] if args.no_real else real_frames()
    if real:
        report('real SR305 640x480', time_frames(real, config, count, args.repeats, buffers,
                                                 False, modes))
    elif not args.no_real:
        print('real SR305 frames: none found (../shared/real/sr305 or CROSSINFONET_REAL_DIR)')


if __name__ == '__main__':
    main()
