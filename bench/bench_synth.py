"""Throughput of the synthetic depth-hand renderer on one core (frames per second).

Usage: ``python bench/bench_synth.py [--count N] [--seed S] [--cube-stats N]``. Prints
crop-resolution samples/s and full-frame (640x480 D435) frames/s with and without clutter (and,
without clutter, with every hand holding an object, or wearing a watch or sleeve with an object
in front of it), by
wall clock and by CPU time of this process, best of ``--repeats`` runs of the same samples.
``--cube-stats N`` also prints, for N drawn hands, the share whose 21 joints all fit in a cube
of each side around the crop centre (the palm centre plus its jitter). ``--grasp-stats N`` prints,
for N grasps of N drawn hands, each kind's share, how many of the five chains end within
``CONTACT_MM`` of the object and the deepest link inside it.
"""

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault('OMP_NUM_THREADS', '1')  # one core: no threaded BLAS / OpenCV
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from training.synth.clutter import ClutterConfig  # noqa: E402
from training.synth.grasp import (CONTACT_MM, GraspConfig, link_distances,  # noqa: E402
                                  sample_grasp)
from training.synth.kinematics import hand_joints  # noqa: E402
from training.synth.skeleton import sample_shape  # noqa: E402
from training.synth.scene import (SynthConfig, render_crop, render_frame,  # noqa: E402
                                  sample_scene)


def measure(render, config: SynthConfig, count: int, seed: int, repeats: int) -> tuple:
    """Render the same ``count`` samples ``repeats`` times; return the best (wall frames/s,
    CPU frames/s): other processes on a shared machine only ever slow a run down."""
    for index in range(3):  # warm-up
        render(seed, index, config)
    best_wall = best_cpu = float('inf')
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        for index in range(count):
            render(seed, index, config)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return count / best_wall, count / best_cpu


def cube_stats(count: int, seed: int, sides=(200.0, 220.0, 250.0, 280.0, 300.0)) -> None:
    """Print the share of hands whose joints all lie inside cubes of several sides."""
    config = SynthConfig()
    reach = np.array([np.abs(scene.hand.joints_mm - scene.center_mm).max() for scene in
                      (sample_scene(seed, index, config) for index in range(count))])
    for side in sides:
        share = 100 * np.mean(reach <= side / 2)
        print(f'cube {side:5.0f} mm: all 21 joints inside for {share:5.1f} % of {count} hands')
    print('half-extent needed (mm), percentiles 50/90/99/99.9/max: '
          + ' '.join(f'{v:.0f}' for v in np.percentile(reach, [50, 90, 99, 99.9, 100])))


def grasp_stats(count: int, seed: int) -> None:
    """Print per grasp kind: share of draws, chains touching the object, deepest link."""
    rng = np.random.default_rng(seed)
    rows = {}
    for _ in range(count):
        shape = sample_shape(rng)
        grasp = sample_grasp(rng, shape, GraspConfig())
        kind = 'none' if grasp is None else grasp.held.kind
        gaps = (np.full(5, np.inf) if grasp is None else
                link_distances(shape, hand_joints(shape, grasp.pose), grasp.held).min(axis=1))
        rows.setdefault(kind, []).append(gaps)
    for kind, gaps in sorted(rows.items()):
        gaps = np.array(gaps)
        print(f'{kind:9s} {100 * len(gaps) / count:5.1f} % of grasps, chains within '
              f'{CONTACT_MM:.0f} mm: {np.mean(np.sum(gaps <= CONTACT_MM, axis=1)):.2f} of 5, '
              f'deepest link {max(0.0, -gaps.min()):.1f} mm inside')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--count', type=int, default=300, help='samples per measurement')
    parser.add_argument('--seed', type=int, default=0, help='data-set seed')
    parser.add_argument('--repeats', type=int, default=3, help='runs per case; the best counts')
    parser.add_argument('--cube-stats', type=int, default=0, metavar='N',
                        help='also report cube coverage over N drawn hands')
    parser.add_argument('--grasp-stats', type=int, default=0, metavar='N',
                        help='also report grasp contact over N drawn grasps')
    args = parser.parse_args()
    cv2.setNumThreads(1)
    clutter = SynthConfig()
    bare = replace(clutter, clutter=ClutterConfig(enabled=False))
    grasp = replace(bare, grasp_prob=1.0)
    worn = replace(bare, wrist_wear_prob=1.0, occluder_prob=1.0)
    cases = [('crop-resolution samples, clutter', render_crop, clutter, args.count),
             ('crop-resolution samples, no clutter', render_crop, bare, args.count),
             ('crop-resolution, no clutter, grasp_prob 1', render_crop, grasp, args.count),
             ('crop-res., no clutter, wear+occluder 1', render_crop, worn, args.count),
             ('full 640x480 frames, clutter', render_frame, clutter, max(1, args.count // 5)),
             ('full 640x480 frames, no clutter', render_frame, bare, max(1, args.count // 5))]
    for label, render, config, count in cases:
        wall, cpu = measure(render, config, count, args.seed, args.repeats)
        print(f'{label:41s} {wall:7.1f} /s wall  {cpu:7.1f} /s cpu  ({count} samples)')
    if args.cube_stats > 0:
        cube_stats(args.cube_stats, args.seed)
    if args.grasp_stats > 0:
        grasp_stats(args.grasp_stats, args.seed)


if __name__ == '__main__':
    main()
