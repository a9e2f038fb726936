"""Evaluate a weights file: ``python -m training.evaluate --weights W --dataset synthetic``.

Synthetic data: full frames (clutter, sensor noise) of a held-out seed are rendered on the fly.
Real datasets (``--dataset nyu|icvl|msra|hands2017 --root R``): the test split.

Two protocols for the crop centre:

- ``--center given`` (default): the dataset's centre (centre file or centre of mass, spec 3.2;
  synthetic: the renderer's palm centre plus its 5 mm jitter): the network's accuracy, the
  protocol of the paper's tables;
- ``--center detect``: what the node does, frame by frame: the node's detector and its
  re-centring on the predicted palm (:class:`crossinfonet_ros.pipeline.HandPosePipeline`,
  without tracking since the frames are independent). Frames where no hand is found count as
  failures and are left out of the mean.

Tracked streams (synthetic, ``--stream FRAMES``): the frames come as moving-hand streams of
that many frames at 30 Hz (:mod:`training.synth.motion`, third person), tracked as the node
tracks them (the detector, ``--center detect``; a new stream starts a new track), so the side
vote of ``--handedness auto`` over a track's first frames counts.

Scenes (synthetic): ``--scene NAME``, a row of :data:`training.synth.scenes.SCENES` (viewpoint,
share of left hands, ...; default ``third_person``, the renderer's defaults).

Hands (synthetic): the scene's (right hands but for ``left`` and ``mixed``), or ``--hand right``,
``left`` (every scene's mirror image, a left hand: :func:`training.synth.scene.mirror_scene`)
or ``both`` (each scene as a right and as a left hand, paired). ``--handedness`` is the
pipeline's (``right`` by default, the network's own side; ``left`` mirrors every crop; ``auto``
decides each frame's side); the summary then holds the error per side and, for ``auto``, the
share of frames whose side was decided right.

Two hands (``--dataset two_hands --arrangement crossing|hidden|apart|close``): both hands of one
person through the node's two-hand pipeline, per side (:mod:`training.evaluate_two_hands`).

Real frames without labels (``--dataset frames --root DIR --depth-scale S --intrinsics
fx,fy,cx,cy``): where the node's joints land on the observed depth, and a contact sheet
(:mod:`training.frames_check`).

Prints and writes (``--json``) mean 3D joint error, per-joint error, the max-error success-frame
curve (0-80 mm) and detection failures (metrics in :mod:`training.metrics`); with ``--out DIR``
also ``curve.png``, ``per_joint.png`` and ``predictions_uvd.txt`` (spec 3.8 format).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
from typing import Iterator, Optional, Sequence

import numpy as np

from crossinfonet_ros.estimator import HandPoseEstimator
from crossinfonet_ros.hands import SECOND_HAND_SCORE
from crossinfonet_ros.hand_classifier import HandClassifierError
from crossinfonet_ros.pipeline import HANDEDNESS_MODES, HandPosePipeline, PipelineConfig
from crossinfonet_ros.segmentation import HandDetectorConfig
from crossinfonet_ros.weights import WeightsError
from training import evaluate_two_hands, frames_check, metrics
from training.datasets import open_dataset
from training.datasets.common import DatasetError
from training.datasets.sample import Sample
from training.out_path import out_problem
from training.synth.scenes import SCENES

RENDERED = ('synthetic', 'two_hands')  # rendered on the fly, no --root
DATASETS = RENDERED + ('nyu', 'icvl', 'msra', 'hands2017')
HANDS = ('right', 'left', 'both')


class EvaluationError(ValueError):
    """Bad arguments or data: reported as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        raise EvaluationError(message)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = _Parser(prog='python -m training.evaluate', description=__doc__.split('\n')[0])
    add = parser.add_argument
    add('--weights', required=True, help='.safetensors weights file')
    add('--dataset', default='synthetic', choices=DATASETS)
    add('--root', help='dataset root (real datasets)')
    add('--split', default='test', help='real datasets: split to evaluate (default test)')
    add('--seed', type=int, default=999, help='synthetic: data-set seed (unseen in training)')
    add('--num', type=int, default=200, help='frames to evaluate (real data: first N; 0 = all)')
    add('--center', choices=('given', 'detect'),
        help="'given' (default; two_hands: 'detect'): renderer / dataset centre; 'detect': the "
             "node's detector and re-centring (HandPosePipeline)")
    add('--arrangement', choices=evaluate_two_hands.ARRANGEMENT_CHOICES, default='crossing',
        help="two_hands: 'crossing' (tracked streams of 30 frames, the hands swapping places), "
             "'apart' or 'close' (independent frames); default crossing")
    add('--stream', type=int, default=0,
        help='synthetic: tracked streams of this many frames (30 Hz) instead of single frames')
    add('--side-vote-frames', type=int, default=PipelineConfig.side_vote_frames,
        help="--handedness auto: a track's side is voted on over its first this many frames "
             "(the node's side_vote_frames)")
    add('--scene', choices=tuple(SCENES), default='third_person',
        help='synthetic: the scene (training/synth/scenes.py; default third_person)')
    add('--hand', choices=HANDS,
        help="synthetic: right hands, left hands, or both (each frame twice); default: the "
             "scene's (right hands but for 'left' and 'mixed')")
    add('--handedness', choices=HANDEDNESS_MODES,
        help="the pipeline's handedness: 'right' (default; two_hands: 'auto'), 'left' or "
             "'auto'")
    add('--classifier', default='',
        help="two_hands: the hand classifier file ('' = the shipped one, 'none' = off)")
    add('--second-hand-score', type=float, default=SECOND_HAND_SCORE,
        help='two_hands: the least heat-map score of a hand newly found beside another (the '
             "node's second_hand_score; 0 = off)")
    add('--backend', default='torch', help='estimator backend (default torch, exact fp32)')
    add('--device', default='cpu', help='estimator device')
    add('--json', help='write the metrics here')
    add('--out', help='folder for curve.png, per_joint.png, predictions_uvd.txt')
    return parser


def frames(args: argparse.Namespace, cube_mm: float, layout: str) -> Iterator[Sample]:
    """The evaluation frames as :class:`Sample` (full frames)."""
    if args.dataset == 'synthetic':
        from dataclasses import replace
        from training.synth import convert_joints, render_frame
        from training.synth.scenes import scene_config
        from training.synth_dataset import synth_config
        config = scene_config(args.scene, synth_config(cube_mm))
        probs = {None: (config.left_hand_prob,), 'right': (0.0,), 'left': (1.0,),
                 'both': (0.0, 1.0)}[args.hand]
        if args.stream:
            yield from _streams(args, replace(config, left_hand_prob=probs[0])
                                if len(probs) == 1 else config, probs, layout)
            return
        for index in range(args.num):
            for prob in probs:
                sample = render_frame(args.seed, index, replace(config, left_hand_prob=prob))
                if layout != sample.layout:
                    sample.joints_mm = convert_joints(sample.joints_mm, layout)
                    sample.layout = layout
                yield sample
        return
    options = {'cube': cube_mm}
    try:
        dataset = open_dataset(args.dataset, args.root, split=args.split, **options)
    except (DatasetError, OSError, ValueError) as error:
        raise EvaluationError(f'cannot open {args.dataset} {args.split} data at {args.root}:'
                              f' {error}') from None
    if dataset.layout != layout:
        raise EvaluationError(f'the weights predict layout {layout}, {args.dataset} has'
                              f' {dataset.layout}')
    count = len(dataset) if args.num == 0 else min(args.num, len(dataset))
    for index in range(count):
        yield dataset[index]


def _streams(args: argparse.Namespace, config, probs: tuple, layout: str) -> Iterator[Sample]:
    """``--num`` frames as streams of ``--stream`` frames, seeds ``--seed``, ``--seed`` + 1, ...
    (each side of ``probs`` in turn for ``--hand both``)."""
    from dataclasses import replace
    from training.synth import convert_joints
    from training.synth.motion import stream_frames
    for stream in range(-(-args.num // args.stream)):
        prob = probs[stream % len(probs)]
        count = min(args.stream, args.num - stream * args.stream)
        for _, sample in stream_frames(args.seed + stream, count, 30.0,
                                       replace(config, left_hand_prob=prob)):
            if layout != sample.layout:
                sample.joints_mm = convert_joints(sample.joints_mm, layout)
                sample.layout = layout
            sample.name = f'stream/{stream}/{sample.name}'
            yield sample


def run(args: argparse.Namespace) -> dict:
    """Evaluate; return the metrics dict (plotted as --out says; main writes --json)."""
    estimator = HandPoseEstimator.from_weights(args.weights, device=args.device,
                                               backend=args.backend)
    cube = estimator.cube_mm
    layout = estimator.layout.name
    pipeline = HandPosePipeline(estimator, PipelineConfig(
        HandDetectorConfig(cube_mm=cube), tracking=bool(args.stream),
        handedness=args.handedness, side_vote_frames=args.side_vote_frames))
    predicted, truth, uvd, sides, decided = [], [], [], [], []
    stream = None
    for index, sample in enumerate(frames(args, cube, layout)):
        truth.append(np.asarray(sample.joints_mm, dtype=np.float64))
        sides.append(sample.side)
        if args.stream and sample.name.split('/')[1] != stream:
            stream = sample.name.split('/')[1]
            pipeline.reset()  # a new stream: a new track
        # Single frames are independent: each is a fresh detection (no tracking state).
        if args.center == 'detect' or args.stream:
            result = pipeline.process(sample.depth_mm, sample.intrinsics, index / 30.0)
        else:
            result = pipeline.estimate_at(sample.depth_mm, sample.intrinsics, sample.center_mm)
        joints = (result.native_m * 1000.0 if result.detected
                  else np.full(truth[-1].shape, np.nan))
        decided.append(result.handedness)
        predicted.append(joints)
        uvd.append(sample.intrinsics.project(joints))
    if not truth:
        raise EvaluationError('no frames to evaluate')
    errors = metrics.joint_errors(np.stack(predicted), np.stack(truth))
    summary = metrics.summarize(errors, estimator.joint_names)
    summary.update(handedness=args.handedness, per_side=per_side(errors, sides, decided))
    summary.update(weights=str(args.weights), dataset=args.dataset, layout=layout,
                   cube_mm=cube, center=('detect (the node\'s detector and re-centring)'
                                         if args.center == 'detect' else
                                         'given (renderer / dataset centre)'),
                   backend=estimator.backend)
    if args.dataset == 'synthetic':
        summary.update(seed=args.seed, scene=args.scene, stream=args.stream)
    else:
        summary.update(root=str(args.root), split=args.split)
    if args.out:
        out = Path(args.out)
        metrics.write_uvd(out / 'predictions_uvd.txt', np.stack(uvd))
        plot(summary, out)
    return summary


def plot_title(summary: dict) -> str:
    """What a figure of this evaluation shows: weights file, data, frames, protocol, mean.

    A figure copied into the docs must be readable without the command that drew it.
    """
    weights = Path(summary['weights']).name
    if summary['dataset'] == 'synthetic':
        data = f'synthetic seed {summary["seed"]} {summary.get("scene", "third_person")}'
    else:
        data = f'{summary["dataset"]} {summary["split"]}'
    protocol = summary['center'].split(' ')[0]
    mean = summary['mean_error_mm']
    mean_text = f'mean {mean:.2f} mm' if mean is not None else 'mean n/a'
    return (f'{weights}\n{data}, {summary["frames"]} frames, --center {protocol}, '
            f'{mean_text}')


def per_side(errors: np.ndarray, sides: Sequence[str], decided: Sequence[str]) -> dict:
    """Per true side present: frames, mean error (mm, detected frames), and the share of
    detected frames whose side the pipeline gave right.

    :param errors: (N, A) per-joint errors, NaN where no hand was found
    :param sides: (N,) true sides
    :param decided: (N,) the pipeline's sides ('' where no hand was found)
    """
    sides, decided = np.asarray(sides), np.asarray(decided)
    table = {}
    for side in ('right', 'left'):
        chosen = sides == side
        found = chosen & (decided != '')
        if not chosen.any():
            continue
        table[side] = {
            'frames': int(chosen.sum()),
            'mean_error_mm': float(np.nanmean(errors[found])) if found.any() else None,
            'handedness_accuracy': float(np.mean(decided[found] == side)) if found.any()
            else None}
    return table


def plot(summary: dict, out: Path) -> None:
    """Write ``curve.png`` (success-frame curve) and ``per_joint.png`` into ``out``."""
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot

    out.mkdir(parents=True, exist_ok=True)
    title = plot_title(summary)
    curve = summary['success_curve']
    figure, axes = pyplot.subplots(figsize=(5, 4))
    axes.plot(curve['thresholds_mm'], [100 * f for f in curve['fraction']])
    axes.set(xlabel='max joint error threshold (mm)', ylabel='frames within threshold (%)',
             xlim=(0, 80), ylim=(0, 100))
    axes.set_title(f'success-frame curve: {title}', fontsize=8)
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(out / 'curve.png', dpi=100)
    pyplot.close(figure)
    names = list(summary['per_joint_error_mm'])
    values = [v if v is not None else 0.0 for v in summary['per_joint_error_mm'].values()]
    figure, axes = pyplot.subplots(figsize=(max(5, 0.35 * len(names)), 4))
    axes.bar(range(len(names)), values)
    axes.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    axes.set(ylabel='mean error (mm)')
    axes.set_title(f'per-joint error: {title}', fontsize=8)
    figure.tight_layout()
    figure.savefig(out / 'per_joint.png', dpi=100)
    pyplot.close(figure)


def report(summary: dict) -> str:
    """Human-readable summary lines."""
    curve = dict(zip(summary['success_curve']['thresholds_mm'],
                     summary['success_curve']['fraction']))
    mean = summary['mean_error_mm']
    lines = [f'frames {summary["frames"]}, detection failures {summary["failures"]}'
             f' (centre: {summary["center"]})',
             f'mean joint error: {mean:.2f} mm' if mean is not None else 'mean joint error: n/a',
             'success (max error <=): ' + ', '.join(f'{int(t)} mm {100 * curve[t]:.1f}%'
                                                   for t in (10.0, 20.0, 30.0, 40.0, 50.0, 80.0)),
             'per joint (mm): ' + ', '.join(f'{name} {value:.1f}' if value is not None
                                            else f'{name} n/a' for name, value in
                                            summary['per_joint_error_mm'].items())]
    for side, row in summary.get('per_side', {}).items():
        error, accuracy = row['mean_error_mm'], row['handedness_accuracy']
        lines.append(f'{side} hands ({row["frames"]} frames, handedness '
                     f'{summary["handedness"]}): mean error '
                     + (f'{error:.2f} mm' if error is not None else 'n/a')
                     + ', side decided right in '
                     + (f'{100 * accuracy:.1f}%' if accuracy is not None else 'n/a'))
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if frames_check.requested(argv):  # real frames without labels: its own options
        return frames_check.main(argv)
    try:
        args = build_parser().parse_args(argv)
        rendered = args.dataset in RENDERED
        two_hands = args.dataset == 'two_hands'
        if args.num < 0 or (rendered and args.num == 0):
            raise EvaluationError(f'--num must be positive, got {args.num}')
        if two_hands and args.out:
            raise EvaluationError('--out (curves, per-joint bars) is not drawn for two_hands; '
                                  'use --json')
        if not 0.0 <= args.second_hand_score < 1.0:
            raise EvaluationError(f'--second-hand-score must be in [0, 1), got '
                                  f'{args.second_hand_score}')
        if args.side_vote_frames < 1:
            raise EvaluationError(f'--side-vote-frames must be >= 1, got '
                                  f'{args.side_vote_frames}')
        if args.stream and (args.stream < 2 or args.dataset != 'synthetic'
                            or args.center == 'given'
                            or args.scene not in ('third_person', 'left')):
            raise EvaluationError('--stream needs >= 2 frames, --dataset synthetic, the '
                                  'detector (not --center given) and a third-person scene '
                                  f'(third_person or left), got {args.stream}, '
                                  f'{args.dataset}, {args.center}, {args.scene}')
        args.center = args.center or ('detect' if two_hands or args.stream else 'given')
        args.handedness = args.handedness or ('auto' if two_hands else 'right')
        if not rendered and not (args.root and Path(args.root).is_dir()):
            raise EvaluationError(f'--dataset {args.dataset} needs --root pointing to a folder,'
                                  f' got {args.root}')
        for option, path, directory in (('--out', args.out, True), ('--json', args.json, False)):
            problem = path and out_problem(Path(path), directory)
            if problem:  # before the evaluation, not after it
                raise EvaluationError(f'{option} {path}: {problem}')
        if args.classifier not in ('', 'none') and not Path(args.classifier).is_file():
            raise EvaluationError(f'--classifier {args.classifier}: no such file')
        summary = evaluate_two_hands.run(args) if two_hands else run(args)
    except (EvaluationError, WeightsError, HandClassifierError) as error:
        print(f'training.evaluate: error: {error}', file=sys.stderr)
        return 2
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(summary, indent=2) + '\n')
    print(evaluate_two_hands.report(summary) if two_hands else report(summary))
    return 0


if __name__ == '__main__':
    sys.exit(main())
