"""Crops with hand / not-hand labels for the hand classifier, cut as the node cuts them.

``python -m training.hand_crops --seed 777 --frames 600 --kind hand --out crops_hand.npz``

Every render's detector candidates (:func:`~crossinfonet_ros.segmentation.detect_hand_candidates`,
the node's defaults) are cropped with the codec: in a frame without a hand every candidate is a
negative; in a hand frame a candidate within ``HAND_MM`` of the palm is a positive, one farther
than ``OTHER_MM`` a negative (between: left out), and the crop at the renderer's palm centre
with ``JITTER_MM`` of extra jitter (what the pipeline's re-centring gives) is one more positive.
"""

import argparse
from pathlib import Path
import sys
from typing import Optional, Sequence, Tuple

import numpy as np

from crossinfonet_ros.codec import crop_hand
from crossinfonet_ros.segmentation import HandDetectorConfig, detect_hand_candidates
from training.synth.placement import palm_center
from training.synth.scene import DEFAULT_CUBE_MM, SynthConfig, render_frame

HAND_MM = 50.0  # a candidate this near the palm centre is the hand
OTHER_MM = 120.0  # one this far is something else
JITTER_MM = 15.0  # std of the extra jitter of the palm-centred positive, per axis
KINDS = {'no_hand': SynthConfig(no_hand_prob=1.0),
         # Hands as varied as the renderer makes them: left, holding or behind an object.
         'hand': SynthConfig(left_hand_prob=0.5, grasp_prob=0.3, occluder_prob=0.2)}


def frame_crops(sample, rng: np.random.Generator, cube_mm: float = DEFAULT_CUBE_MM,
                max_candidates: int = 5) -> Tuple[list, list]:
    """The labelled crops of one render.

    :param sample: a :func:`~training.synth.scene.render_frame` sample
    :param rng: the jitter of the palm-centred positive
    :param cube_mm: crop cube side, mm
    :param max_candidates: detector candidates per frame
    :returns: (crops, labels): (96, 96) float32 crop depths, 1 hand / 0 not
    """
    config = HandDetectorConfig(cube_mm=cube_mm)
    palm = palm_center(sample.joints_mm) if sample.has_hand else None
    crops, labels = [], []
    for detection in detect_hand_candidates(sample.depth_mm, sample.intrinsics, config,
                                            max_candidates):
        if not detection:
            continue
        label = crop_label(detection.center_mm, [] if palm is None else [palm])
        if label is not None:
            _add(crops, labels, sample, detection.center_mm, cube_mm, label)
    if palm is not None:
        _add(crops, labels, sample, palm + rng.normal(0.0, JITTER_MM, 3), cube_mm, 1)
    return crops, labels


def crop_label(center_mm, palms_mm: Sequence[np.ndarray]) -> Optional[int]:
    """1 for a crop centred on one of the palms, 0 far from all of them, None in between."""
    distances = [float(np.linalg.norm(np.asarray(center_mm) - palm)) for palm in palms_mm]
    nearest = min(distances, default=np.inf)
    return 1 if nearest < HAND_MM else 0 if nearest >= OTHER_MM else None


def _add(crops: list, labels: list, sample, center_mm, cube_mm: float, label: int) -> None:
    try:
        crops.append(crop_hand(sample.depth_mm, center_mm, cube_mm, sample.intrinsics).depth)
    except ValueError:  # a centre the codec cannot crop (too near the camera): no sample
        return
    labels.append(label)


def collect(seed: int, frames: int, kind: str) -> Tuple[np.ndarray, np.ndarray]:
    """Labelled crops of ``frames`` renders of ``kind`` (:data:`KINDS`) of data set ``seed``.

    :returns: (N, 96, 96) float16 crop depths and (N,) uint8 labels
    """
    rng = np.random.default_rng([seed, 17])
    crops, labels = [], []
    for index in range(frames):
        more, more_labels = frame_crops(render_frame(seed, index, KINDS[kind]), rng)
        crops += more
        labels += more_labels
    if not crops:
        return np.zeros((0, 96, 96), np.float16), np.zeros(0, np.uint8)
    return np.stack(crops).astype(np.float16), np.asarray(labels, np.uint8)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Collect and write an .npz (``crops``, ``labels``)."""
    parser = argparse.ArgumentParser(prog='python -m training.hand_crops',
                                     description=__doc__.split('\n')[0])
    parser.add_argument('--seed', type=int, default=777)
    parser.add_argument('--frames', type=int, default=600)
    parser.add_argument('--kind', choices=sorted(KINDS), required=True)
    parser.add_argument('--out', required=True, help='.npz file to write')
    args = parser.parse_args(argv)
    if args.frames < 1:
        print(f'error: --frames must be >= 1, got {args.frames}', file=sys.stderr)
        return 2
    crops, labels = collect(args.seed, args.frames, args.kind)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, crops=crops, labels=labels)
    print(f'{args.out}: {len(labels)} crops, {int(labels.sum())} hands')
    return 0


if __name__ == '__main__':
    sys.exit(main())
