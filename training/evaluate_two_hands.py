"""Two-hand renders through the node's two-hand pipeline, per side:
``python -m training.evaluate --dataset two_hands --arrangement crossing|hidden|apart|close``.

``crossing``: streams of :data:`STREAM_FRAMES` frames in which the hands swap places (the left
one passing behind the right), tracked as the node tracks them (``--num`` frames in all);
``hidden``: streams of :data:`HIDDEN_FRAMES` frames, the hands apart and still while a board
slides in front of the left one (hidden over frames :data:`HIDDEN`) and out again, tracked;
``apart`` / ``close``: independent frames with the palms 240-360 / 150-190 mm apart, each a fresh
search (:mod:`training.synth.two_hands`). ``--center detect`` (the default here) runs
:class:`~crossinfonet_ros.hands.HandsPipeline` with two hands and the node's hand classifier;
``--center given`` crops each hand at its true palm centre (the network's accuracy on two-hand
frames, no search).

A found hand counts for the true hand of its label; a hand nearer the other true hand than
:data:`NEAR_MM` is a side swap, one near neither a false hand. Per side: the share of frames in
which it was found (labelled right, within :data:`NEAR_MM`), its mean joint error there, swaps.
"""

from __future__ import annotations

import argparse
from itertools import islice
from typing import Dict, Iterator, List, Sequence, Tuple

import numpy as np

from crossinfonet_ros.estimator import HandPoseEstimator
from crossinfonet_ros.hand_gate import gate_from_setting
from crossinfonet_ros.hands import HandsPipeline
from crossinfonet_ros.mirror import SIDES
from crossinfonet_ros.pipeline import HandPosePipeline, PipelineConfig
from crossinfonet_ros.segmentation import HandDetectorConfig
from training.hand_or_not import SHIPPED as SHIPPED_CLASSIFIER
from training.synth.placement import palm_center
from training.synth.scene import SynthConfig
from training.synth.two_hands import ARRANGEMENTS, crossing_stream, hidden_stream, \
    two_hand_frame

ARRANGEMENT_CHOICES = ('crossing', 'hidden') + tuple(ARRANGEMENTS)
STREAM_FRAMES = 30  # a crossing stream's length (one crossing in a second at 30 Hz)
HIDDEN_FRAMES = 36  # a hidden stream's length: in view, hidden for a third of a second, back
HIDDEN = (12, 22)  # its frames with the left palm behind the board
NEAR_MM = 50.0  # a found hand this close (mean joint error) to a true hand is that hand
CAMERA = SynthConfig().intrinsics  # the two-hand renders' camera


def two_hand_frames(seed: int, count: int, arrangement: str) -> Iterator[tuple]:
    """``(stream index, frame)`` pairs: crossing or hidden streams one after the other, of seeds
    ``seed``, ``seed + 1``, ... (a new stream: a new track; the last one cut short), or
    independent frames (each its own stream)."""
    streams = {'crossing': (STREAM_FRAMES, lambda s, n: crossing_stream(s, max(n, 2))),
               'hidden': (HIDDEN_FRAMES, lambda s, n: islice(
                   hidden_stream(s, HIDDEN_FRAMES, HIDDEN), n))}
    if arrangement in streams:
        frames, make = streams[arrangement]
        for stream in range(-(-count // frames)):
            for frame in make(seed + stream, min(frames, count - stream * frames)):
                yield stream, frame
        return
    for index in range(count):
        yield index, two_hand_frame(seed, index, arrangement)


def run(args: argparse.Namespace) -> dict:
    """Evaluate two-hand frames; the summary dict (keys as :func:`report` reads them)."""
    estimator = HandPoseEstimator.from_weights(args.weights, device=args.device,
                                               backend=args.backend)
    detector = HandDetectorConfig(cube_mm=estimator.cube_mm)
    gate = gate_from_setting(args.classifier, 0.0, SHIPPED_CLASSIFIER, estimator.cube_mm)
    config = PipelineConfig(detector, handedness=args.handedness, hand_gate=gate)
    hands = HandsPipeline(estimator, config, max_hands=2,
                          second_hand_score=args.second_hand_score)
    single = HandPosePipeline(estimator, config)
    rows: List[Dict[str, tuple]] = []  # per frame: side -> (found right, error mm, swapped)
    false_hands, stream = 0, None
    for index, frame in two_hand_frames(args.seed, args.num, args.arrangement):
        if index != stream:
            hands.reset()
            stream = index
        if args.center == 'given':
            found = [single.estimate_at(frame.depth_mm, CAMERA, palm_center(frame.joints_mm[side]))
                     for side in SIDES]
        else:
            found = hands.process(frame.depth_mm, CAMERA, len(rows) / 30.0).hands
        row, extra = match_hands([(hand.handedness, hand.native_m * 1000.0)
                                  for hand in found if hand.detected], frame.joints_mm)
        rows.append(row)
        false_hands += extra
    return summarize(rows, false_hands, args)


def match_hands(found: Sequence[Tuple[str, np.ndarray]], truth_mm: Dict[str, np.ndarray]
                ) -> Tuple[Dict[str, tuple], int]:
    """Each true side's outcome in one frame, and how many found hands were near neither.

    :param found: (side label, (J, 3) joints in mm) of each hand found
    :param truth_mm: side -> (J, 3) true joints, mm
    :returns: side -> (found with its label, mean error mm or nan, swapped), false hands
    """
    row: Dict[str, tuple] = {side: (False, float('nan'), False) for side in SIDES}
    extra = 0
    for side, joints_mm in found:
        errors = {true: float(np.mean(np.linalg.norm(joints_mm - joints, axis=1)))
                  for true, joints in truth_mm.items()}
        nearest = min(errors, key=errors.get)
        if errors[nearest] >= NEAR_MM:
            extra += 1
        elif nearest != side:
            row[nearest] = (False, float('nan'), True)
        else:
            row[nearest] = (True, errors[nearest], row[nearest][2])
    return row, extra


def side_figures(rows: List[Dict[str, tuple]]) -> Dict[str, dict]:
    """Per side, over :func:`match_hands` rows: frames, share found, mean error, swaps."""
    per_side = {}
    for side in SIDES:
        found = np.array([row[side][0] for row in rows])
        errors = np.array([row[side][1] for row in rows])
        per_side[side] = {'frames': len(rows), 'found_share': float(found.mean()),
                          'mean_error_mm': float(np.nanmean(errors)) if found.any() else None,
                          'side_swaps': int(sum(row[side][2] for row in rows))}
    return per_side


def both_found_share(rows: List[Dict[str, tuple]]) -> float:
    """The share of :func:`match_hands` rows in which both sides were found."""
    return float(np.mean([all(row[side][0] for side in SIDES) for row in rows]))


def summarize(rows: List[Dict[str, tuple]], false_hands: int, args: argparse.Namespace) -> dict:
    """Per-side and overall figures of :func:`run`'s rows."""
    return {'dataset': 'two_hands', 'arrangement': args.arrangement, 'seed': args.seed,
            'frames': len(rows), 'center': args.center, 'handedness': args.handedness,
            'weights': str(args.weights), 'both_found_share': both_found_share(rows),
            'false_hands': false_hands, 'per_side': side_figures(rows), 'near_mm': NEAR_MM}


def report(summary: dict) -> str:
    """Human-readable lines."""
    lines = [f'{summary["frames"]} two-hand frames ({summary["arrangement"]}, seed '
             f'{summary["seed"]}, --center {summary["center"]}, handedness '
             f'{summary["handedness"]}): both hands found in '
             f'{100 * summary["both_found_share"]:.1f}%, false hands {summary["false_hands"]}']
    for side, row in summary['per_side'].items():
        error = row['mean_error_mm']
        lines.append(f'{side} hand: found in {100 * row["found_share"]:.1f}% (side right, '
                     f'within {summary["near_mm"]:.0f} mm), mean error '
                     + (f'{error:.2f} mm' if error is not None else 'n/a')
                     + f', side swaps {row["side_swaps"]}')
    return '\n'.join(lines)
