"""Train CrossInfoNet: ``python -m training.train --dataset synthetic --out runs/x``.

Defaults follow the paper / released code (spec 2.x): Adam, lr 1e-3 times 0.96 per epoch, drop
probability 0.4, coupled weight decay 1e-5 inside the loss, batch 128 (use 32-64 on a CPU).

Synthetic data are rendered on the fly; an "epoch" is ``--train-size`` fresh renders (default
4096), far shorter than a real-data epoch, so validation, ``best.pt`` and checkpoints come often.
The x0.96 decay then comes ~18x more often per sample than on NYU (72,757 frames per epoch,
spec 5.1): for long synthetic runs pass ``--lr-decay 0.9989`` (= 0.96 per 72,757 samples with
2048-sample epochs). The network's output layers end in BatchNorm (spec 1.7) whose gain starts
at 1 while the targets' spread is ~0.3: the first ~700 Adam steps at lr 1e-3 mostly shrink that
gain, so the error stays above 100 mm for a while (the released code logs ~55 mm after its first
570-step epoch). The model kept as ``best.pt`` is the one with the lowest error on the
VALIDATION split (a held-out seed for synthetic data, a held-out part of the training split for
real data); the test split is never looked at.

Every ``RUN_DIR/checkpoint.pt`` holds model, optimiser, scheduler, AMP scaler, epoch and step,
the epoch's running sums and the python / numpy / torch RNG states; it is written atomically at
every epoch end, every ``--checkpoint-minutes`` and on stopping (``--max-steps`` /
``--time-budget``). The batch order and augmentation draws depend only on (seed, epoch, index),
so ``--resume`` continues exactly where the run stopped, even mid-epoch.

Multi-GPU: ``torchrun --nproc_per_node N -m training.train ...`` (same arguments). Each rank
takes every N-th batch of the epoch's shuffled batch list (the job of a DistributedSampler); only
rank 0 writes files (its training metrics cover its own shard; validation is on the full set).
"""

from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path
import random
import sys
import time
from typing import Optional, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from crossinfonet_ros.layouts import LAYOUTS
from crossinfonet_ros.model import CrossInfoLoss, CrossInfoNet, LossConfig, ModelConfig
from training import checkpoint as ckpt
from training.augment import AUGMENT_MODES, AugmentConfig
from training.synth_dataset import DataError, TrainData, build_data
from training.engine import RunningStats, evaluate, train_steps

DATASET_CHOICES = ('synthetic', 'nyu', 'icvl', 'msra', 'hands2017')
# --variant -> (ModelConfig.variant, heatmaps): the four rows of the paper's Table 1 (spec 1.8).
VARIANT_CONFIGS = {'cross_hm': ('cross', True), 'cross': ('cross', False),
                   'base_hm': ('base', True), 'base': ('base', False)}
# Options that a resumed run may change; every other option comes from the checkpoint.
# --lr-decay is among them so a long synthetic run can switch to a per-sample-equivalent decay.
# --dropout and --augment too, for a last phase fitted closer to the data the model will see.
RUN_CONTROL = ('epochs', 'workers', 'device', 'threads', 'checkpoint_minutes', 'progress',
               'lr_decay', 'precision', 'lr', 'batch_size', 'dropout', 'augment')
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
CSV_FIELDS = ('epoch', 'steps', 'samples', 'lr', 'train_loss', 'train_error_mm',
              'val_error_mm', 'best_val_error_mm', 'seconds')


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


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = _Parser(prog='python -m training.train', description=__doc__.split('\n')[0])
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
    if args.dataset == 'synthetic':
        if args.train_size < args.batch_size:
            raise UsageError(f'--train-size {args.train_size} is smaller than --batch-size'
                             f' {args.batch_size}')
    else:
        if not args.root:
            raise UsageError(f'--dataset {args.dataset} needs --root')
        if not Path(args.root).is_dir():
            raise UsageError(f'--root {args.root} is not a directory')


def model_config_for(args: argparse.Namespace, layout: str) -> ModelConfig:
    """The network configuration of a run."""
    variant, heatmaps = VARIANT_CONFIGS[args.variant]
    return ModelConfig.from_layout(layout, variant=variant, heatmaps=heatmaps,
                                   dropout=args.dropout)


def training_model(config: ModelConfig, device: torch.device) -> CrossInfoNet:
    """The network as training runs it: NHWC (channels-last) convolutions, ~10% faster steps
    under bf16 on CPU (oneDNN; ``bench/bench_training_step.py``) and on CUDA tensor cores."""
    return CrossInfoNet(config).to(device, memory_format=torch.channels_last)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    torch.manual_seed(seed)


def _distributed() -> tuple:
    """(rank, world size); initialises the process group under torchrun."""
    world = int(os.environ.get('WORLD_SIZE', '1'))
    if world <= 1:
        return 0, 1
    backend = 'nccl' if torch.cuda.is_available() else 'gloo'
    torch.distributed.init_process_group(backend)
    return torch.distributed.get_rank(), world


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


def _device(args: argparse.Namespace, world: int) -> torch.device:
    if args.device == 'cpu' or (args.device == 'auto' and not torch.cuda.is_available()):
        return torch.device('cpu')
    local = int(os.environ.get('LOCAL_RANK', '0')) if world > 1 else 0
    torch.cuda.set_device(local)
    return torch.device('cuda', local)


def epoch_batches(size: int, batch_size: int, seed: int, epoch: int, rank: int,
                  world: int) -> list:
    """This rank's batches (lists of item indices) of one epoch; full batches only.

    :param size: items per epoch
    :param batch_size: items per batch
    :param seed: run seed
    :param epoch: epoch number
    :param rank: this process's rank
    :param world: number of processes
    """
    order = np.random.default_rng((int(seed), int(epoch), 0x5EED)).permutation(size)
    count = (size // batch_size) // world * world
    batches = [order[i * batch_size:(i + 1) * batch_size].tolist() for i in range(count)]
    return batches[rank::world]


def _generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) * 100003 + int(epoch) + 1)


def run(args: argparse.Namespace, data: Optional[TrainData] = None) -> dict:
    """Train as ``args`` say; return a summary (best validation error, epochs, steps).

    :param args: from :func:`parse_args`
    :param data: the opened data (default: :func:`build_data` of ``args``)
    """
    rank, world = _distributed()
    device = _device(args, world)
    torch.set_num_threads(args.threads)
    writer_rank = rank == 0
    run_dir = Path(args.out)
    if writer_rank:  # a read-only --out fails here, not at the first checkpoint
        ckpt.check_writable(run_dir)
    data = data or build_data(args)
    config = model_config_for(args, data.layout)
    _seed_everything(args.seed)
    model = training_model(config, device)
    criterion = CrossInfoLoss(config, LossConfig(weight_decay=args.weight_decay))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=args.lr_decay)
    compute_dtype = autocast_dtype(args.precision, device)
    # Loss scaling for fp16 only: bf16 has fp32's exponent range.
    scaler = torch.amp.GradScaler('cuda') if compute_dtype == torch.float16 else None
    if writer_rank:
        print(f'training on {device} ({args.threads} threads), forward pass in '
              f'{str(compute_dtype or torch.float32).replace("torch.", "")}', file=sys.stderr)
    state = {'epoch': 0, 'step': 0, 'global_step': 0, 'stats': RunningStats(),
             'best': float('inf'), 'seconds': 0.0}
    if args.resume:
        saved = ckpt.load_checkpoint(run_dir / ckpt.CHECKPOINT_NAME)
        model.load_state_dict(saved['model'])
        optimizer.load_state_dict(saved['optimizer'])
        scheduler.load_state_dict(saved['scheduler'])
        scheduler.gamma = args.lr_decay  # the saved one unless --lr-decay was given
        if scaler is not None and saved.get('scaler'):
            scaler.load_state_dict(saved['scaler'])
        state.update(epoch=saved['epoch'], step=saved['step'], global_step=saved['global_step'],
                     stats=RunningStats(**saved['stats']), best=saved['best'],
                     seconds=saved['seconds'])
        ckpt.restore_rng_state(saved['rng'])
        if args.restart_lr is not None:  # --lr on --resume: the decay goes on from this rate
            for group in optimizer.param_groups:
                group['lr'] = args.restart_lr
            # ExponentialLR reads the groups' lr; _last_lr is what get_last_lr() reports.
            scheduler._last_lr = [args.restart_lr] * len(optimizer.param_groups)
        if writer_rank:  # a run killed while saving leaves its temp file (up to a checkpoint)
            ckpt.remove_stale_temps(run_dir)
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == 'cuda' else None)
    if writer_rank:
        run_dir.mkdir(parents=True, exist_ok=True)
        from torch.utils.tensorboard import SummaryWriter
        board = SummaryWriter(str(run_dir / 'tb'))
    meta = {'model_config': config.to_dict(), 'layout': data.layout, 'cube_mm': data.cube_mm}
    started = time.monotonic()
    last_save = [started]
    seconds_before = state['seconds']

    def save(path_name: str = ckpt.CHECKPOINT_NAME) -> None:
        if not writer_rank:
            return
        state['seconds'] = seconds_before + time.monotonic() - started
        ckpt.save_atomically(run_dir / path_name, {
            'model': model.state_dict(), 'optimizer': optimizer.state_dict(),
            'scheduler': scheduler.state_dict(),
            'scaler': scaler.state_dict() if scaler is not None else {},
            'epoch': state['epoch'], 'step': state['step'],
            'global_step': state['global_step'], 'stats': state['stats'].to_dict(),
            'best': state['best'], 'seconds': state['seconds'], 'rng': ckpt.capture_rng_state(),
            'args': vars(args), **meta})
        last_save[0] = time.monotonic()

    stopped = False
    while state['epoch'] < args.epochs and not stopped:
        epoch = state['epoch']
        data.set_epoch(epoch)
        batches = epoch_batches(len(data.train), args.batch_size, args.seed, epoch, rank, world)
        # An own generator: a DataLoader iterator otherwise draws its base seed from the global
        # torch RNG, which would make a mid-epoch resume differ from a straight run.
        loader = DataLoader(data.train, batch_sampler=batches[state['step']:],
                            num_workers=args.workers, generator=_generator(args.seed, epoch))
        bar = tqdm(total=len(batches), initial=state['step'], desc=f'epoch {epoch + 1}',
                   disable=not writer_rank or args.progress == 'none', mininterval=5,
                   dynamic_ncols=True)

        def after_step(stats: RunningStats) -> bool:
            state['step'] += 1
            state['global_step'] += 1
            bar.update(1)
            bar.set_postfix(loss=f'{stats.loss:.4f}', err_mm=f'{stats.error_mm:.1f}')
            if args.max_steps is not None and state['global_step'] >= args.max_steps:
                return True
            now = time.monotonic()
            if args.time_budget is not None and now - started >= args.time_budget:
                return True
            if args.checkpoint_minutes and now - last_save[0] >= 60 * args.checkpoint_minutes \
                    and state['step'] < len(batches):
                save()
            return False

        stopped = train_steps(net, criterion, optimizer, loader, device, state['stats'],
                              scaler, compute_dtype, after_step)
        bar.close()
        if state['step'] < len(batches):  # stopped mid-epoch: keep the position
            stopped = True
            save()
            break
        state['seconds'] = seconds_before + time.monotonic() - started
        _finish_epoch(args, model, data, device, state, optimizer, board if writer_rank else None,
                      run_dir if writer_rank else None, meta)
        scheduler.step()
        state['epoch'] += 1
        state['step'] = 0
        state['stats'] = RunningStats()
        save()
        stopped = stopped or (args.max_steps is not None
                              and state['global_step'] >= args.max_steps)
    if writer_rank:
        board.close()
    if world > 1:
        torch.distributed.destroy_process_group()
    return {'best_val_error_mm': state['best'], 'epochs': state['epoch'],
            'global_step': state['global_step'], 'run_dir': str(run_dir), 'rank': rank}


def _finish_epoch(args, model, data, device, state, optimizer, board, run_dir, meta) -> None:
    """Validate, log the epoch (CSV, TensorBoard) and keep the best model (rank 0 writes)."""
    stats = state['stats']
    result = evaluate(model, DataLoader(data.val, batch_size=min(args.batch_size, 64),
                                        num_workers=args.workers,
                                        generator=_generator(args.seed, -1)), device)
    val_error = result['error_mm']
    improved = val_error < state['best']
    if improved:
        state['best'] = val_error
    if run_dir is None:
        return
    epoch = state['epoch'] + 1
    row = {'epoch': epoch, 'steps': stats.steps, 'samples': stats.samples,
           'lr': optimizer.param_groups[0]['lr'], 'train_loss': stats.loss,
           'train_error_mm': stats.error_mm, 'val_error_mm': val_error,
           'best_val_error_mm': state['best'],
           'seconds': round(state['seconds'], 1)}
    append_metrics_row(run_dir / 'metrics.csv', row)
    for key in ('train_loss', 'train_error_mm', 'val_error_mm', 'lr'):
        board.add_scalar(key, row[key], epoch)
    board.flush()
    print(f'epoch {epoch}: loss {stats.loss:.4f} train {stats.error_mm:.2f} mm'
          f' val {val_error:.2f} mm (best {state["best"]:.2f})', file=sys.stderr, flush=True)
    if improved:
        ckpt.save_atomically(run_dir / ckpt.BEST_NAME, {
            'model': model.state_dict(), 'epoch': epoch, 'val_error_mm': val_error,
            'training': training_record(args, epoch, val_error), **meta})


def training_record(args: argparse.Namespace, epoch: int, val_error: float) -> dict:
    """What a weights file says about how it was trained."""
    return {'dataset': args.dataset, 'variant': args.variant, 'epochs': epoch,
            'batch_size': args.batch_size, 'lr': args.lr, 'lr_decay': args.lr_decay,
            'train_size_per_epoch': args.train_size, 'seed': args.seed,
            'dropout': args.dropout, 'augment': list(args.augment),
            'val_error_mm': val_error, 'val_split': 'synthetic held-out seed'
            if args.dataset == 'synthetic' else 'held-out part of the training split'}


def append_metrics_row(path: Path, row: dict) -> None:
    """Add an epoch's row to the CSV, dropping rows of that epoch or later first.

    A run killed after writing an epoch's row but before saving that epoch's checkpoint repeats
    the epoch when resumed: the repeated epoch's row replaces the first one.
    """
    rows = []
    if path.exists():
        with open(path, newline='') as handle:
            rows = list(csv.DictReader(handle))
    kept = [old for old in rows if int(old['epoch']) < row['epoch']]
    if len(kept) != len(rows):
        temporary = path.with_name(f'.{path.name}.tmp')
        with open(temporary, 'w', newline='') as handle:
            out = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
            out.writeheader()
            out.writerows(kept)
        os.replace(temporary, path)
    with open(path, 'a', newline='') as handle:
        out = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        if handle.tell() == 0:
            out.writeheader()
        out.writerow(row)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status: 0 done, 2 bad arguments or data, 1 a
    file of the run could not be written (full disk, read-only folder: one error line)."""
    try:
        args = parse_args(argv)
        data = build_data(args)  # a wrong root fails here, before any work
    except (UsageError, DataError) as error:
        print(f'training.train: error: {error}', file=sys.stderr)
        return 2
    try:
        summary = run(args, data)
    except (ckpt.CheckpointError, OSError) as error:  # e.g. a full disk, a read-only --out
        print(f'training.train: error: {error}', file=sys.stderr)
        return 1
    if summary['rank'] == 0:
        print(f'done: best validation error {summary["best_val_error_mm"]:.2f} mm after'
              f' {summary["epochs"]} epochs ({summary["global_step"]} steps)', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
