"""Plot a training run's error and learning rate against training time, from its metrics.csv::

    python scripts/plot_training.py --run runs/shipped --out docs/img/shipped_training_curve.png \
        --weights crossinfonet_ros/weights/hands2017_synth.safetensors \
        --mark '77:batch 64, lr 2e-4' --mark '209:no dropout'

The x axis is the run's own clock (the ``seconds`` column: time spent training, resumptions
included, pauses between them not), so the budget a figure cost is read off the plot. ``--mark
EPOCH:LABEL`` draws a labelled line where a phase of the run began (a resume with new options).
"""

import argparse
import csv
from pathlib import Path
import sys
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training.out_path import out_problem  # noqa: E402

COLUMNS = ('epoch', 'seconds', 'lr', 'train_error_mm', 'val_error_mm')
TICKS_MM = (5, 10, 15, 20, 30, 50, 100, 200, 500, 1000)  # error axis labels (log scale)


def read_metrics(run: Path) -> dict:
    """The run's per-epoch columns as lists of floats (``COLUMNS``).

    :raises ValueError: no metrics.csv rows, or a column missing or not numeric
    """
    path = run / 'metrics.csv'
    with open(path, newline='') as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f'{path} holds no epochs')
    missing = [name for name in COLUMNS if name not in rows[0]]
    if missing:
        raise ValueError(f'{path} lacks the column(s) {", ".join(missing)}')
    try:
        return {name: [float(row[name]) for row in rows] for name in COLUMNS}
    except (TypeError, ValueError):
        raise ValueError(f'{path} holds a value that is not a number') from None


def parse_mark(text: str) -> tuple:
    """``'EPOCH:LABEL'`` -> ``(epoch, label)``."""
    epoch, separator, label = text.partition(':')
    if not separator or not epoch.strip().isdigit() or not label.strip():
        raise argparse.ArgumentTypeError(f'--mark wants EPOCH:LABEL, got {text!r}')
    return int(epoch), label.strip()


def title(run: Path, metrics: dict, weights: Optional[Path] = None) -> str:
    """The figure's title: which run, which weights file came of it, and at which epoch.

    :param run: the run folder
    :param metrics: :func:`read_metrics` of it
    :param weights: the file exported from the run's best epoch, if any
    """
    best = min(metrics['val_error_mm'])
    epoch = int(metrics['epoch'][metrics['val_error_mm'].index(best)])
    hours = metrics['seconds'][-1] / 3600.0
    target = f' -> {weights.name}' if weights is not None else ''
    return (f'run {run}{target} (best validation {best:.2f} mm at epoch {epoch})\n'
            f'{len(metrics["epoch"])} epochs, {hours:.1f} h of training')


def plot(metrics: dict, marks: list, out: Path, heading: str) -> None:
    """Write the figure: errors (log scale) and lr against training hours."""
    import matplotlib
    import matplotlib.ticker
    matplotlib.use('Agg')
    from matplotlib import pyplot

    hours = [seconds / 3600.0 for seconds in metrics['seconds']]
    figure, errors = pyplot.subplots(figsize=(8, 4.5), dpi=100)
    errors.plot(hours, metrics['train_error_mm'], color='0.6', lw=1,
                label='training batches (augmented)')
    errors.plot(hours, metrics['val_error_mm'], color='tab:blue', lw=1.5,
                label='validation (held-out renders)')
    errors.set_yscale('log')
    low, high = errors.get_ylim()
    errors.set_yticks([tick for tick in TICKS_MM if low <= tick <= high])
    errors.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    errors.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    errors.set_xlabel('training time, hours')
    errors.set_ylabel('mean joint error, mm')
    errors.grid(True, which='both', alpha=0.3)
    rate = errors.twinx()
    rate.plot(hours, metrics['lr'], color='tab:orange', lw=1, ls='--', label='learning rate')
    rate.set_yscale('log')
    rate.set_ylabel('learning rate')
    for epoch, label in marks:
        if epoch in metrics['epoch']:
            at = hours[metrics['epoch'].index(epoch)]
            errors.axvline(at, color='tab:red', lw=0.8, alpha=0.6)
            errors.text(at, errors.get_ylim()[1], f' {label}', rotation=90, va='top',
                        fontsize=7, color='tab:red')
    lines = errors.get_legend_handles_labels()
    more = rate.get_legend_handles_labels()
    errors.legend(lines[0] + more[0], lines[1] + more[1], loc='lower left', fontsize=8)
    errors.set_title(heading, fontsize=10)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out)
    pyplot.close(figure)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='scripts/plot_training.py',
                                     description=__doc__.splitlines()[0])
    parser.add_argument('--run', type=Path, required=True, help='training run folder')
    parser.add_argument('--out', type=Path, required=True, help='PNG to write')
    parser.add_argument('--weights', type=Path,
                        help='the weights file exported from the run, named in the title')
    parser.add_argument('--mark', type=parse_mark, action='append', default=[],
                        help='EPOCH:LABEL, a phase that began at EPOCH (repeatable)')
    args = parser.parse_args(argv)
    problem = out_problem(args.out, directory=False)
    if problem:
        print(f'plot_training: error: --out {args.out}: {problem}', file=sys.stderr)
        return 1
    try:
        metrics = read_metrics(args.run)
    except (OSError, ValueError) as error:
        print(f'plot_training: error: {error}', file=sys.stderr)
        return 1
    unknown = [epoch for epoch, _ in args.mark if epoch not in metrics['epoch']]
    if unknown:
        print(f'plot_training: error: --mark epoch(s) {unknown} are not in the run',
              file=sys.stderr)
        return 1
    plot(metrics, args.mark, args.out, title(args.run, metrics, args.weights))
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
