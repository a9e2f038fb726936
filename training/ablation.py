"""Paper Table 1 on synthetic data: ``python -m training.ablation --budget-steps N --seed S``.

Trains Base, Base+HM, Cross and Cross+HM (spec 1.8) with the same step budget, seed, batch size
and synthetic data (same renders in the same order), evaluates each on the same held-out
synthetic validation set, and prints a table with the paper's ICVL / NYU numbers alongside for
reference (spec 1.8, Table 1). Each variant's run lives in ``OUT/<variant>``; re-running with the
same ``--out`` resumes / reuses finished runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
from typing import Dict, Optional, Sequence

from training import train
from training.checkpoint import CHECKPOINT_NAME

# Paper Table 1 (spec 1.8): mean error in mm, (ICVL 22K genuine frames, NYU).
PAPER_TABLE1 = {'base': (9.28, 11.17), 'base_hm': (9.08, 10.84), 'cross': (8.79, 10.57),
                'cross_hm': (8.48, 10.08)}
LABELS = {'base': 'Base', 'base_hm': 'Base+HM', 'cross': 'Cross', 'cross_hm': 'Cross+HM'}


def train_variant(variant: str, out: Path, steps: int, seed: int, batch_size: int,
                  val_size: int, threads: int, cube: float) -> float:
    """Train one variant for ``steps`` steps (one synthetic epoch); return its val error, mm."""
    argv = ['--dataset', 'synthetic', '--variant', variant, '--out', str(out),
            '--seed', str(seed), '--batch-size', str(batch_size),
            '--train-size', str(steps * batch_size), '--val-size', str(val_size),
            '--epochs', '1', '--threads', str(threads), '--cube', str(cube),
            '--progress', 'none']
    if (out / CHECKPOINT_NAME).is_file():
        argv.append('--resume')
    summary = train.run(train.parse_args(argv))
    return float(summary['best_val_error_mm'])


def format_table(results: Dict[str, float], steps: int, seed: int) -> str:
    """The Table 1 style text: variant, our synthetic error, the paper's ICVL / NYU errors."""
    lines = [f'Ablation (paper Table 1) -- {steps} steps, seed {seed}, synthetic validation',
             f'{"variant":<10} {"synthetic (mm)":>15} {"paper ICVL (mm)":>16}'
             f' {"paper NYU (mm)":>15}']
    for variant, error in results.items():
        icvl, nyu = PAPER_TABLE1[variant]
        lines.append(f'{LABELS[variant]:<10} {error:>15.2f} {icvl:>16.2f} {nyu:>15.2f}')
    return '\n'.join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog='python -m training.ablation',
                                     description=__doc__.split('\n')[0])
    parser.add_argument('--budget-steps', type=int, required=True,
                        help='optimiser steps per variant')
    parser.add_argument('--seed', type=int, default=0, help='seed shared by all variants')
    parser.add_argument('--batch-size', type=int, default=32, help='batch size')
    parser.add_argument('--val-size', type=int, default=256, help='validation renders')
    parser.add_argument('--cube', type=float, default=250.0, help='cube side, mm')
    parser.add_argument('--threads', type=int, default=2, help='torch CPU threads')
    parser.add_argument('--variants', nargs='+', default=list(PAPER_TABLE1),
                        choices=list(PAPER_TABLE1), help='subset of the variants')
    parser.add_argument('--out', help='runs folder (default runs/ablation/seed<S>-<N>steps)')
    parser.add_argument('--json', help='also write the results here')
    args = parser.parse_args(argv)
    for name in ('budget_steps', 'batch_size', 'val_size', 'threads'):
        if getattr(args, name) <= 0:
            print(f'training.ablation: error: --{name.replace("_", "-")} must be positive',
                  file=sys.stderr)
            return 2
    out = Path(args.out or f'runs/ablation/seed{args.seed}-{args.budget_steps}steps')
    results = {}
    for variant in args.variants:
        results[variant] = train_variant(variant, out / variant, args.budget_steps, args.seed,
                                         args.batch_size, args.val_size, args.threads,
                                         args.cube)
    print(format_table(results, args.budget_steps, args.seed))
    if args.json:
        Path(args.json).write_text(json.dumps({
            'budget_steps': args.budget_steps, 'seed': args.seed,
            'batch_size': args.batch_size, 'val_error_mm': results,
            'paper_table1_mm': {k: {'icvl': v[0], 'nyu': v[1]}
                                for k, v in PAPER_TABLE1.items()}}, indent=2) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
