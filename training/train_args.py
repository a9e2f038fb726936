"""The command line of ``python -m training.train``: parse, fill the defaults, check, and on
``--resume`` merge with the run's saved arguments (what may change, what may not).

Every problem is a :class:`UsageError` of one line, raised before any work starts.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Optional, Sequence

import torch

from crossinfonet_ros.layouts import LAYOUTS
from training import checkpoint as ckpt
from training.augment import AUGMENT_MODES, AugmentConfig
from training.synth.viewpoints import VIEWPOINTS, check_viewpoints, parse_viewpoint_mix

DESCRIPTION = 'Train CrossInfoNet (see training/train.py for the schedule, resume and DDP).'

DATASET_CHOICES = ('synthetic', 'nyu', 'icvl', 'msra', 'hands2017')
# --variant -> (ModelConfig.variant, heatmaps): the four rows of the paper's Table 1 (spec 1.8).
VARIANT_CONFIGS = {'cross_hm': ('cross', True), 'cross': ('cross', False),
                   'base_hm': ('base', True), 'base': ('base', False)}
# Options that a resumed run may change; every other option comes from the checkpoint.
# --lr-decay is among them so a long synthetic run can switch to a per-sample-equivalent decay.
# --dropout and --augment too, for a last phase fitted closer to the data the model will see;
# --ema switches the weight average on or off; the synthetic scene options let a fine-tune move
# to other viewpoints, left hands, grasps and occluders.
RUN_CONTROL = ('epochs', 'workers', 'device', 'threads', 'checkpoint_minutes', 'progress',
               'lr_decay', 'precision', 'lr', 'batch_size', 'dropout', 'augment', 'ema',
               'left_hand_prob', 'viewpoint', 'viewpoint_mix', 'grasp_prob', 'occluder_prob')
SCENE_SHARES = ('left_hand_prob', 'grasp_prob', 'occluder_prob')  # synthetic, each in [0, 1]
# Limits of one invocation: taken as given (None = no limit), never from the checkpoint.
PER_INVOCATION = ('max_steps', 'time_budget')
# Arguments that --resume never changes: the run's saved value is kept; giving another is an error.
FIXED_ON_RESUME = ('dataset', 'root', 'variant', 'layout', 'weight_decay', 'seed',
                   'cube', 'train_size', 'val_size', 'fixed_pool')
DEFAULT_BATCH_SIZE = 128  # spec 4
DEFAULT_LR = 1e-3  # Adam, spec 2.4
DEFAULT_DROPOUT = 0.4  # drop probability of the FC layers (code keep-prob 0.6, spec 4)
DEFAULT_WEIGHT_DECAY = 1e-5  # coupled L2 factor (spec 2.1)
DEFAULT_TRAIN_SIZE = 4096  # synthetic renders per epoch
PRECISIONS = ('auto', 'fp32', 'bf16', 'fp16')
# lr factor per epoch (spec 4: 0.96 per epoch).
PAPER_LR_DECAY = 0.96
DEFAULT_EPOCHS = 100


class UsageError(Exception):
    """A bad argument or data root: reported as one line before any work starts."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line instead of usage + message
        raise UsageError(message)


def _augment_modes(text: str) -> tuple:
    modes = tuple(mode.strip() for mode in text.split(','))
    try:
        AugmentConfig(modes=modes)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return modes


def _viewpoint_mix(text: str) -> tuple:
    try:
        return parse_viewpoint_mix(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = _Parser(prog='python -m training.train', description=DESCRIPTION)
    add = parser.add_argument
    add('--dataset', choices=DATASET_CHOICES, help='training data (default synthetic)')
    add('--root', help='dataset root folder (real datasets)')
    add('--variant', choices=tuple(VARIANT_CONFIGS),
        help='network variant (paper Table 1; default cross_hm)')
    add('--layout', help='joint layout (synthetic: any; real data: the dataset\'s own)')
    add('--epochs', type=int, help=f'epochs to reach (default {DEFAULT_EPOCHS})')
    add('--batch-size', type=int,
        help=f'batch size per process (default {DEFAULT_BATCH_SIZE}, spec 4; on --resume: '
             'changes it, accepted only at an epoch boundary)')
    add('--lr', type=float,
        help=f'Adam learning rate (default {DEFAULT_LR:g}, spec 2.4; on --resume: restarts the '
             'schedule at this rate)')
    add('--lr-decay', type=float,
        help=f'lr factor per epoch (default {PAPER_LR_DECAY}, spec 4; on --resume: changes it)')
    add('--dropout', type=float,
        help=f'drop probability of the FC layers (default {DEFAULT_DROPOUT}, spec 4; on'
             ' --resume: changes it)')
    add('--augment', type=_augment_modes,
        help=f'augmentation modes, comma-separated, one drawn per sample (default'
             f' {",".join(AUGMENT_MODES)}, spec 3.7; repeat a mode to weight it; on --resume:'
             ' changes them)')
    add('--ema', type=float, metavar='DECAY',
        help='validate and keep (best.pt) an exponential moving average of the weights, updated'
             ' after every step with this decay, e.g. 0.998 (default 0: off; on --resume:'
             ' switches it on, off or changes the decay)')
    add('--weight-decay', type=float,
        help=f'coupled L2 factor in the loss (default {DEFAULT_WEIGHT_DECAY:g})')
    add('--device', help='auto (default), cpu or cuda')
    add('--out', required=True, help='run directory (checkpoints, metrics.csv, tb/)')
    add('--resume', action='store_true', help='continue the run in --out')
    add('--seed', type=int, help='seed of initialisation, data order and data (default 0)')
    add('--workers', type=int, help='DataLoader worker processes (default 0: main process)')
    add('--threads', type=int, help='torch CPU threads (default min(2, cores))')
    add('--cube', type=float, help='crop cube side, mm (synthetic default 250)')
    add('--train-size', type=int,
        help=f'synthetic: renders per epoch (default {DEFAULT_TRAIN_SIZE})')
    add('--val-size', type=int, help='validation samples (synthetic default 256)')
    add('--fixed-pool', action='store_true', help='synthetic: same renders every epoch')
    add('--left-hand-prob', type=float,
        help='synthetic: share of left hands, 0..1 (default 0; on --resume: changes it)')
    add('--viewpoint', choices=VIEWPOINTS,
        help='synthetic: camera viewpoint (default third_person; on --resume: changes it)')
    add('--viewpoint-mix', type=_viewpoint_mix, metavar='NAME=SHARE,...',
        help='synthetic: draw each render\'s viewpoint with these shares, e.g.'
             ' third_person=0.5,egocentric=0.3,overhead=0.2 (overrides --viewpoint; on'
             ' --resume: changes it)')
    add('--grasp-prob', type=float,
        help='synthetic: share of hands holding an object, 0..1 (default 0; on --resume: '
             'changes it)')
    add('--occluder-prob', type=float,
        help='synthetic: share of renders with an object in front of the hand, 0..1 (default '
             '0; on --resume: changes it)')
    add('--max-steps', type=int, help='stop after this many optimiser steps in total')
    add('--time-budget', type=float, help='stop after this many seconds of this invocation')
    add('--checkpoint-minutes', type=float, help='also checkpoint mid-epoch this often')
    add('--progress', choices=('bar', 'none'), help='tqdm bar per epoch (default bar)')
    add('--precision', choices=PRECISIONS,
        help='forward-pass arithmetic: auto (default: fp16 AMP on CUDA, bf16 autocast on CPUs '
             'with native bf16, else fp32), fp32, bf16, fp16 (CUDA only)')
    return parser


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse and check the arguments; on resume, merge with the checkpoint's.

    :raises UsageError: one-line description of the first problem
    """
    args = build_parser().parse_args(argv)
    run_dir = Path(args.out)
    checkpoint_path = run_dir / ckpt.CHECKPOINT_NAME
    if args.resume:
        if not checkpoint_path.is_file():
            raise UsageError(f'--resume: no checkpoint at {checkpoint_path}')
        try:
            checkpoint = ckpt.load_checkpoint(checkpoint_path)
        except ckpt.CheckpointError as error:
            raise UsageError(str(error)) from None
        saved, given = checkpoint['args'], vars(args)
        if given['batch_size'] not in (None, saved['batch_size']) and checkpoint['step']:
            raise UsageError(f'--batch-size can change only between epochs; the checkpoint is'
                             f' {checkpoint["step"]} steps into epoch {checkpoint["epoch"] + 1}:'
                             f' resume once with --epochs {checkpoint["epoch"] + 1} (finishes'
                             ' that epoch), then with --batch-size')
        for key in FIXED_ON_RESUME:
            value = given.get(key)
            if value is None or value is False:  # not given (False: a store_true left off)
                continue
            if value != saved.get(key):
                raise UsageError(f'--{key.replace("_", "-")} cannot change on --resume (the run'
                                 f' has {saved.get(key)!r}); start a new run with another --out')
        merged = dict(saved)
        for key in RUN_CONTROL:
            if given.get(key) is not None:
                merged[key] = given[key]
        merged['resume'], merged['out'] = True, args.out
        for key in PER_INVOCATION:  # limits of one invocation are not inherited
            merged[key] = given[key]
        merged['restart_lr'] = given['lr']  # None: the schedule continues where it was
        args = argparse.Namespace(**merged)
    elif checkpoint_path.exists():
        raise UsageError(f'{run_dir} already holds a checkpoint: pass --resume or another --out')
    _fill_defaults(args)
    _check_args(args)
    return args


def _fill_defaults(args: argparse.Namespace) -> None:
    args.batch_size = DEFAULT_BATCH_SIZE if args.batch_size is None else args.batch_size
    args.lr = DEFAULT_LR if args.lr is None else args.lr
    args.restart_lr = getattr(args, 'restart_lr', None)
    args.dataset = args.dataset or 'synthetic'
    args.variant = args.variant or 'cross_hm'
    args.dropout = DEFAULT_DROPOUT if args.dropout is None else args.dropout
    args.augment = tuple(getattr(args, 'augment', None) or AUGMENT_MODES)  # absent: older runs
    args.ema = getattr(args, 'ema', None) or 0.0
    args.weight_decay = DEFAULT_WEIGHT_DECAY if args.weight_decay is None else args.weight_decay
    args.seed = 0 if args.seed is None else args.seed
    args.train_size = DEFAULT_TRAIN_SIZE if args.train_size is None else args.train_size
    args.epochs = DEFAULT_EPOCHS if args.epochs is None else args.epochs
    args.lr_decay = PAPER_LR_DECAY if args.lr_decay is None else args.lr_decay
    args.device = args.device or 'auto'
    args.workers = 0 if args.workers is None else args.workers
    args.threads = args.threads or min(2, os.cpu_count() or 1)
    args.progress = args.progress or 'bar'
    args.precision = getattr(args, 'precision', None) or 'auto'  # absent in older checkpoints
    for share in SCENE_SHARES:  # the scene options: absent in older runs
        value = getattr(args, share, None)
        setattr(args, share, 0.0 if value is None else value)
    args.viewpoint = getattr(args, 'viewpoint', None) or 'third_person'
    args.viewpoint_mix = tuple(tuple(pair) for pair in getattr(args, 'viewpoint_mix', None) or ())
    if args.dataset == 'synthetic':
        args.cube = 250.0 if args.cube is None else args.cube  # renderer default (synth/scene)
        args.layout = args.layout or 'hands2017'
        args.val_size = 256 if args.val_size is None else args.val_size


def _check_args(args: argparse.Namespace) -> None:
    positive = {'--epochs': args.epochs, '--batch-size': args.batch_size, '--lr': args.lr,
                '--threads': args.threads, '--train-size': args.train_size}
    for name, value in positive.items():
        if value is None or value <= 0:
            raise UsageError(f'{name} must be positive, got {value}')
    for name, value in (('--max-steps', args.max_steps), ('--time-budget', args.time_budget),
                        ('--cube', args.cube), ('--checkpoint-minutes',
                                                args.checkpoint_minutes)):
        if value is not None and value <= 0:
            raise UsageError(f'{name} must be positive, got {value}')
    if not 0 < args.lr_decay <= 1:
        raise UsageError(f'--lr-decay must be in (0, 1], got {args.lr_decay}')
    if not 0 <= args.dropout < 1:
        raise UsageError(f'--dropout must be in [0, 1), got {args.dropout}')
    if not 0 <= args.ema < 1:
        raise UsageError(f'--ema must be in [0, 1), got {args.ema}')
    if args.weight_decay < 0:
        raise UsageError(f'--weight-decay must be >= 0, got {args.weight_decay}')
    if args.workers < 0:
        raise UsageError(f'--workers must be >= 0, got {args.workers}')
    if args.val_size is not None and args.val_size <= 0:
        raise UsageError(f'--val-size must be positive, got {args.val_size}')
    if args.layout is not None and args.layout not in LAYOUTS:
        raise UsageError(f'unknown --layout {args.layout!r}; valid: {", ".join(sorted(LAYOUTS))}')
    if args.device not in ('auto', 'cpu', 'cuda'):
        raise UsageError(f'--device must be auto, cpu or cuda, got {args.device!r}')
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise UsageError('--device cuda: no CUDA device is available')
    cuda = args.device != 'cpu' and torch.cuda.is_available()
    autocast_dtype(args.precision, torch.device('cuda' if cuda else 'cpu'))  # raises if unusable
    for share in SCENE_SHARES:
        if not 0.0 <= getattr(args, share) <= 1.0:
            raise UsageError(f'--{share.replace("_", "-")} must be in [0, 1], got '
                             f'{getattr(args, share)}')
    try:
        check_viewpoints(args.viewpoint, args.viewpoint_mix)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.dataset != 'synthetic' and (any(getattr(args, share) for share in SCENE_SHARES)
                                        or args.viewpoint_mix
                                        or args.viewpoint != 'third_person'):
        raise UsageError('--left-hand-prob, --grasp-prob, --occluder-prob, --viewpoint and'
                         ' --viewpoint-mix apply to --dataset synthetic only')
    if args.dataset == 'synthetic':
        if args.train_size < args.batch_size:
            raise UsageError(f'--train-size {args.train_size} is smaller than --batch-size'
                             f' {args.batch_size}')
    else:
        if not args.root:
            raise UsageError(f'--dataset {args.dataset} needs --root')
        if not Path(args.root).is_dir():
            raise UsageError(f'--root {args.root} is not a directory')


def cpu_has_bf16() -> bool:
    """True when this CPU computes bf16 natively (AVX-512 BF16 or AMX): ~2x faster training."""
    return bool(torch.backends.mkldnn.is_available()
                and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def autocast_dtype(precision: str, device: torch.device) -> Optional[torch.dtype]:
    """The autocast dtype of ``--precision`` on ``device`` (None = fp32).

    :raises UsageError: fp16 asked for on a CPU, or bf16 on a CPU without native bf16
    """
    if precision == 'auto':
        if device.type == 'cuda':
            return torch.float16
        return torch.bfloat16 if cpu_has_bf16() else None
    if precision == 'fp16' and device.type != 'cuda':
        raise UsageError('--precision fp16 needs CUDA; on a CPU use bf16 or fp32')
    if precision == 'bf16' and device.type == 'cpu' and not cpu_has_bf16():
        raise UsageError('--precision bf16: this CPU has no native bf16 (AVX-512 BF16 / AMX); '
                         'use fp32')
    return {'fp32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}[precision]
