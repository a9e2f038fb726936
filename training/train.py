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

``--ema DECAY`` keeps an exponential moving average of the weights
(:mod:`training.weight_average`); it is then the model validated and kept as ``best.pt``.

Every ``RUN_DIR/checkpoint.pt`` holds model, weight average, optimiser, scheduler, AMP scaler,
epoch and step, the epoch's running sums and the python / numpy / torch RNG states; it is
written atomically at every epoch end, every ``--checkpoint-minutes`` and on stopping
(``--max-steps`` / ``--time-budget``). The batch order and augmentation draws depend only on
(seed, epoch, index), so ``--resume`` continues exactly where the run stopped, even mid-epoch.

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

from crossinfonet_ros.model import CrossInfoLoss, CrossInfoNet, LossConfig, ModelConfig
from training import checkpoint as ckpt
from training.synth_dataset import DataError, TrainData, build_data
from training.engine import RunningStats, evaluate, train_steps
from training.train_args import VARIANT_CONFIGS, UsageError, autocast_dtype, parse_args
from training.weight_average import WeightAverage

CSV_FIELDS = ('epoch', 'steps', 'samples', 'lr', 'train_loss', 'train_error_mm',
              'val_error_mm', 'best_val_error_mm', 'seconds')


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
    # --ema: validated and kept as best.pt instead of the trained weights; switched on by a
    # --resume it starts as a copy of the network.
    average = WeightAverage(model, args.ema) if args.ema else None
    if average is not None and args.resume and saved.get('weight_average'):
        average.load_state_dict(saved['weight_average'])
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
            'weight_average': average.state_dict() if average is not None else None,
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
            if average is not None:
                average.update(model)
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
        _finish_epoch(args, model, average, data, device, state, optimizer,
                      board if writer_rank else None, run_dir if writer_rank else None, meta)
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


def _finish_epoch(args, model, average, data, device, state, optimizer, board, run_dir,
                  meta) -> None:
    """Validate, log the epoch (CSV, TensorBoard) and keep the best model (rank 0 writes).

    With a weight average the average is the model validated and kept; the trained weights'
    validation error is printed beside it and logged to TensorBoard as ``val_error_mm_trained``.
    """
    stats = state['stats']

    def validate(network) -> float:
        return evaluate(network, DataLoader(data.val, batch_size=min(args.batch_size, 64),
                                            num_workers=args.workers,
                                            generator=_generator(args.seed, -1)),
                        device)['error_mm']

    kept = average.model if average is not None else model
    val_error = validate(kept)
    trained_error = validate(model) if average is not None else None
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
    trained = ''
    if trained_error is not None:
        board.add_scalar('val_error_mm_trained', trained_error, epoch)
        trained = f', trained weights {trained_error:.2f}'
    board.flush()
    print(f'epoch {epoch}: loss {stats.loss:.4f} train {stats.error_mm:.2f} mm'
          f' val {val_error:.2f} mm{trained} (best {state["best"]:.2f})', file=sys.stderr,
          flush=True)
    if improved:
        ckpt.save_atomically(run_dir / ckpt.BEST_NAME, {
            'model': kept.state_dict(), 'epoch': epoch, 'val_error_mm': val_error,
            'training': training_record(args, epoch, val_error), **meta})


def training_record(args: argparse.Namespace, epoch: int, val_error: float) -> dict:
    """What a weights file says about how it was trained."""
    return {'dataset': args.dataset, 'variant': args.variant, 'epochs': epoch,
            'batch_size': args.batch_size, 'lr': args.lr, 'lr_decay': args.lr_decay,
            'train_size_per_epoch': args.train_size, 'seed': args.seed,
            'dropout': args.dropout, 'augment': list(args.augment), 'ema': args.ema,
            'val_error_mm': val_error, 'val_split': 'synthetic held-out seed'
            if args.dataset == 'synthetic' else 'held-out part of the training split',
            **({'left_hand_prob': args.left_hand_prob, 'viewpoint': args.viewpoint,
                'viewpoint_mix': [list(pair) for pair in args.viewpoint_mix],
                'grasp_prob': args.grasp_prob, 'occluder_prob': args.occluder_prob}
               if args.dataset == 'synthetic' else {})}


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
