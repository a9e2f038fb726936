"""Check the pipeline's hand-or-not answer on unseen renders with and without a hand.

``python -m training.hand_or_not --weights W --seed 4242 --num 150 --sets no_hand,hand``
runs the node's pipeline (``handedness: auto``, single frames, the hand classifier of
``--classifier``, default the shipped one) on ``--num`` renders of each set (``no_hand``:
:mod:`training.synth.no_hand` scenes; ``hand``: the default scenes; ``grasp``: hands holding
objects; ``left``: left hands) and prints, per set, the share answered as the truth wants
(``detected: false`` without a hand, ``true`` with one). Each frame's P(hand) is kept
(``--json``), so ``--features rows.json --threshold T`` shows another bar without re-running.
"""

import argparse
import json
from pathlib import Path
import sys
from typing import Dict, List, Optional, Sequence

from crossinfonet_ros.estimator import HandPoseEstimator
from crossinfonet_ros.hand_classifier import HandClassifierError, load_classifier
from crossinfonet_ros.hand_gate import HandGate
from crossinfonet_ros.pipeline import HandPosePipeline, PipelineConfig
from crossinfonet_ros.segmentation import HandDetectorConfig
from crossinfonet_ros.weights import WeightsError
from training.synth.scene import SynthConfig, render_frame

SHIPPED = Path(__file__).resolve().parents[1] / 'crossinfonet_ros' / 'weights' / \
    'hand_or_not.safetensors'
SETS = {'no_hand': SynthConfig(no_hand_prob=1.0), 'hand': SynthConfig(),
        'grasp': SynthConfig(grasp_prob=1.0), 'left': SynthConfig(left_hand_prob=1.0)}


class HandOrNotError(ValueError):
    """Bad arguments or files: reported as one line."""


def measure(weights: str, classifier: str, seed: int, num: int,
            sets: Sequence[str]) -> List[dict]:
    """Run the pipeline on every frame.

    :param weights: pose weights file
    :param classifier: hand classifier file
    :param seed: data-set seed of the renders
    :param num: frames per set
    :param sets: names of :data:`SETS`
    :returns: one row per frame: set, name, detected, found (a candidate was kept, passed or
        not), hand_probability, hand_score, reason
    """
    estimator = HandPoseEstimator.from_weights(weights)
    gate = HandGate(load_classifier(classifier))
    pipeline = HandPosePipeline(estimator, PipelineConfig(
        HandDetectorConfig(cube_mm=estimator.cube_mm), tracking=False, handedness='auto',
        hand_gate=gate))
    rows = []
    for name in sets:
        for index in range(num):
            sample = render_frame(seed, index, SETS[name])
            result = pipeline.process(sample.depth_mm, sample.intrinsics, 0.0)
            found = result.detected or result.reason.startswith('not a hand')
            rows.append(dict(set=name, name=sample.name, detected=result.detected,
                             found=found, hand_probability=result.hand_probability,
                             hand_score=result.hand_score, reason=result.reason))
    return rows


def shares(rows: List[dict], threshold: Optional[float] = None) -> Dict[str, dict]:
    """Per set: frames, and the share answered as the truth wants (no_hand: detected false;
    the others: detected true), as measured or with another bar ``threshold``."""
    out = {}
    for name in dict.fromkeys(row['set'] for row in rows):
        chosen = [row for row in rows if row['set'] == name]
        detected = [row['detected'] if threshold is None
                    else row['found'] and row['hand_probability'] >= threshold
                    for row in chosen]
        hits = sum(found != (name == 'no_hand') for found in detected)
        out[name] = dict(frames=len(chosen), correct=round(hits / len(chosen), 4),
                         answer='detected false' if name == 'no_hand' else 'detected true')
    return out


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(prog='python -m training.hand_or_not',
                                     description=__doc__.split('\n')[0])
    add = parser.add_argument
    add('--weights', help='pose weights file (to measure)')
    add('--classifier', help='hand classifier file (default: the shipped one)')
    add('--seed', type=int, default=4242, help='data-set seed of the renders (unseen)')
    add('--num', type=int, default=150, help='frames per set')
    add('--sets', default='no_hand,hand', help=f'comma-separated, of {sorted(SETS)}')
    add('--json', help='write the measured rows here')
    add('--features', help='read rows measured before (instead of --weights)')
    add('--threshold', type=float, help='another P(hand) bar to apply to the rows')
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Measure, calibrate or check; one clear line and exit status 2 on bad input."""
    args = build_parser().parse_args(argv)
    try:
        sets = [name.strip() for name in args.sets.split(',') if name.strip()]
        unknown = sorted(set(sets) - set(SETS))
        if unknown or not sets:
            raise HandOrNotError(f'--sets must name some of {sorted(SETS)}, got {args.sets!r}')
        if args.threshold is not None and not 0.0 <= args.threshold < 1.0:
            raise HandOrNotError(f'--threshold must be in [0, 1), got {args.threshold}')
        if args.num < 1:
            raise HandOrNotError(f'--num must be >= 1, got {args.num}')
        if args.features:
            path = Path(args.features)
            if not path.is_file():
                raise HandOrNotError(f'--features {path}: no such file')
            rows = json.loads(path.read_text())['rows']
        elif args.weights:
            rows = measure(args.weights, args.classifier or str(SHIPPED), args.seed, args.num,
                           sets)
        else:
            raise HandOrNotError('give --weights (to measure) or --features (rows measured)')
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(dict(seed=args.seed, rows=rows)) + '\n')
        print(json.dumps(shares(rows, args.threshold), indent=1))
    except (HandOrNotError, HandClassifierError, WeightsError, OSError, KeyError,
            json.JSONDecodeError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
