"""The crops the node's hand gate is asked about, collected while its pipelines run on renders
and labelled for the hand classifier.

``python -m training.gate_crops --weights W --seed 778 --frames 300 --out gate.npz``

The detector's candidates (:mod:`training.hand_crops`) are not all the gate sees: it is asked
about the crop the pipeline kept (the most hand-like candidate, re-centred), the tracked
hand's crop on every frame and, with two hands, the search for the second hand with the first
cut out, which is where false hands come from (the body behind a hidden hand, the other arm's
elbow while a hand is behind a board; a forearm stub beside a real one-hand scene). Every
scene runs through :class:`~crossinfonet_ros.hands.HandsPipeline` with ``max_hands=2``; every
crop the gate checks is kept, labelled by its centre (:func:`training.hand_crops.crop_label`).
"""

import argparse
from dataclasses import dataclass, field
from pathlib import Path
import sys
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np

from crossinfonet_ros.codec import Crop
from crossinfonet_ros.estimator import HandPoseEstimator
from crossinfonet_ros.hand_classifier import HandClassifierError, load_classifier
from crossinfonet_ros.hand_gate import HandGate
from crossinfonet_ros.hands import HandsPipeline
from crossinfonet_ros.pipeline import PipelineConfig
from crossinfonet_ros.segmentation import HandDetectorConfig
from crossinfonet_ros.weights import WeightsError
from training.evaluate_two_hands import CAMERA, two_hand_frames
from training.hand_crops import KINDS, crop_label
from training.hand_or_not import SHIPPED as SHIPPED_CLASSIFIER
from training.synth.placement import palm_center
from training.synth.scene import render_frame

SCENES = ('hand', 'no_hand', 'crossing', 'hidden', 'apart', 'close')
# The shipped classifier's collection; 'hidden' streams added made it worse (docs/detection.md).
DEFAULT_SCENES = ('hand', 'no_hand', 'crossing', 'apart', 'close')


@dataclass(frozen=True, eq=False)
class RecordingGate(HandGate):
    """A hand gate that keeps every crop it is asked about."""

    checked: List[Crop] = field(default_factory=list)

    def check(self, crop: Crop) -> Tuple[float, str]:
        self.checked.append(crop)
        return super().check(crop)


def scene_frames(scene: str, seed: int, frames: int) -> Iterator[tuple]:
    """``(stream, depth_mm, intrinsics, palms_mm)`` of ``frames`` renders of ``scene``; a new
    stream index starts a new track."""
    if scene in KINDS:
        for index in range(frames):
            sample = render_frame(seed, index, KINDS[scene])
            palms = [palm_center(sample.joints_mm)] if sample.has_hand else []
            yield index, sample.depth_mm, sample.intrinsics, palms
        return
    for stream, frame in two_hand_frames(seed, frames, scene):
        yield stream, frame.depth_mm, CAMERA, [palm_center(j) for j in frame.joints_mm.values()]


def collect(estimator: HandPoseEstimator, gate: RecordingGate, scene: str, seed: int,
            frames: int) -> Tuple[np.ndarray, np.ndarray]:
    """The labelled crops the gate checked on ``frames`` renders of ``scene``.

    :returns: (N, 96, 96) float16 crop depths and (N,) uint8 labels
    """
    config = PipelineConfig(HandDetectorConfig(cube_mm=estimator.cube_mm), handedness='auto',
                            hand_gate=gate)
    hands = HandsPipeline(estimator, config, max_hands=2)
    crops, labels, stream = [], [], None
    for index, (key, depth_mm, intrinsics, palms) in enumerate(
            scene_frames(scene, seed, frames)):
        if key != stream:
            hands.reset()
            stream = key
        gate.checked.clear()
        hands.process(depth_mm, intrinsics, index / 30.0)
        for crop in gate.checked:
            label = crop_label(crop.center_mm, palms)
            if label is not None:
                crops.append(crop.depth)
                labels.append(label)
    if not crops:
        return np.zeros((0, 96, 96), np.float16), np.zeros(0, np.uint8)
    return np.stack(crops).astype(np.float16), np.asarray(labels, np.uint8)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Collect every scene and write one .npz (``crops``, ``labels``)."""
    parser = argparse.ArgumentParser(prog='python -m training.gate_crops',
                                     description=__doc__.split('\n')[0])
    parser.add_argument('--weights', required=True, help='pose weights file')
    parser.add_argument('--classifier', help='hand classifier file the gate runs with '
                                             '(default: the shipped one)')
    parser.add_argument('--seed', type=int, default=778)
    parser.add_argument('--frames', type=int, default=300, help='frames per scene')
    parser.add_argument('--scenes', default=','.join(DEFAULT_SCENES),
                        help=f'comma-separated, of {SCENES} (default: all but hidden)')
    parser.add_argument('--out', required=True, help='.npz file to write')
    args = parser.parse_args(argv)
    scenes = [name.strip() for name in args.scenes.split(',') if name.strip()]
    if args.frames < 1 or not scenes or set(scenes) - set(SCENES):
        print(f'error: need --frames >= 1 and --scenes of {SCENES}, got {args.frames} and '
              f'{args.scenes!r}', file=sys.stderr)
        return 2
    try:
        estimator = HandPoseEstimator.from_weights(args.weights)
        gate = RecordingGate(load_classifier(args.classifier or SHIPPED_CLASSIFIER))
    except (WeightsError, HandClassifierError, OSError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    parts = []
    for scene in scenes:
        crops, labels = collect(estimator, gate, scene, args.seed, args.frames)
        print(f'{scene}: {len(labels)} crops, {int(labels.sum())} hands', flush=True)
        parts.append((crops, labels))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, crops=np.concatenate([c for c, _ in parts]),
                        labels=np.concatenate([lab for _, lab in parts]))
    print(f'{args.out}: written')
    return 0


if __name__ == '__main__':
    sys.exit(main())
