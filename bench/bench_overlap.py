"""Does segmenting frame N+1 while the network runs on frame N pay on this machine?

Usage: ``python bench/bench_overlap.py [--frames N] [--rounds N] [--threads N]``.

A tracked stream's work per frame is segmentation (prepare + seeded refinement, whose seed is
known before the network runs) then one batch-1 network run on the crop. Two schedules over
the same rendered 640x480 stream, interleaved round by round:

- ``serial``: segment, crop, run the network, next frame (what the node does);
- ``overlap``: a second thread segments frame N+1 while the main thread runs the network on
  frame N (ONNX Runtime releases the GIL during its run).

Prints each schedule's median ms per frame and the ratio overlap / serial per round. With the
network on every core (``--threads`` 0: the physical cores) the segmentation thread competes
with it; the ratio tells whether the overlap hides the segmentation or only shifts it.
"""

import argparse
from concurrent.futures import ThreadPoolExecutor
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, 'test')]

from crossinfonet_ros.codec import crop_hand  # noqa: E402
from crossinfonet_ros.cpus import usable_cores  # noqa: E402
from crossinfonet_ros.estimator import HandPoseEstimator  # noqa: E402
from crossinfonet_ros.frame_buffers import FrameBuffers  # noqa: E402
from crossinfonet_ros.segmentation import (HandDetectorConfig, detect_hand,  # noqa: E402
                                           prepare_frame)
from segmentation_frames import rendered_stream  # noqa: E402

WEIGHTS = os.path.join(ROOT, 'crossinfonet_ros', 'weights', 'hands2017_synth.safetensors')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--frames', type=int, default=40, help='frames of the rendered stream')
    parser.add_argument('--rounds', type=int, default=6, help='interleaved rounds per schedule')
    parser.add_argument('--threads', type=int, default=0,
                        help='ONNX Runtime threads (0: the physical cores)')
    args = parser.parse_args()
    if args.frames < 2 or args.rounds < 1 or args.threads < 0:
        parser.error('need frames >= 2, rounds >= 1 and threads >= 0')
    threads = args.threads or usable_cores()
    estimator = HandPoseEstimator.from_weights(WEIGHTS, device='cpu', backend='onnxruntime',
                                               threads=threads)
    config = HandDetectorConfig()
    frames = [(depth, camera) for _, depth, camera in rendered_stream(0, args.frames)]
    seed = detect_hand(frames[0][0], frames[0][1], config).center_mm
    # Two buffer sets: in the overlapped schedule two frames are in flight.
    pools = (FrameBuffers(), FrameBuffers())

    def segment(index: int, center):
        depth, camera = frames[index]
        frame = prepare_frame(depth, camera, config, pools[index % 2])
        found = detect_hand(depth, camera, config, center, frame=frame)
        return found.center_mm if found else center

    def network(index: int, center) -> None:
        depth, camera = frames[index]
        estimator.estimate([crop_hand(depth, center, config.cube_mm, camera)])

    def serial() -> None:
        center = seed
        for index in range(len(frames)):
            center = segment(index, center)
            network(index, center)

    def overlap(pool: ThreadPoolExecutor) -> None:
        center = segment(0, seed)
        for index in range(len(frames)):
            # The next frame's seed is this frame's segmented centre, known before the network.
            ahead = pool.submit(segment, index + 1, center) if index + 1 < len(frames) else None
            network(index, center)
            center = ahead.result() if ahead is not None else center

    times = {'serial': [], 'overlap': []}
    with ThreadPoolExecutor(max_workers=1) as pool:
        serial()
        overlap(pool)  # warm-up
        for _ in range(args.rounds):
            for name, run in (('serial', serial), ('overlap', lambda: overlap(pool))):
                started = time.perf_counter()
                run()
                times[name].append((time.perf_counter() - started) / len(frames) * 1e3)
    serial_ms, overlap_ms = np.array(times['serial']), np.array(times['overlap'])
    ratio = overlap_ms / serial_ms
    print(f'ONNX Runtime {threads} thread(s), {len(frames)} frames x {args.rounds} rounds, '
          f'load {os.getloadavg()[0]:.1f}')
    print(f'serial   median {np.median(serial_ms):6.2f} ms/frame (min {serial_ms.min():.2f})')
    print(f'overlap  median {np.median(overlap_ms):6.2f} ms/frame (min {overlap_ms.min():.2f})')
    print(f'overlap / serial per round: median {np.median(ratio):.3f} '
          f'(min {ratio.min():.3f}, max {ratio.max():.3f})')


if __name__ == '__main__':
    main()
