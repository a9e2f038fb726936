"""Write the card (JSON) that describes a shipped weights file: what it is, how it was trained,
how it was measured. Every figure is read from the files a run leaves, none typed by hand::

    python scripts/weights_card.py --weights crossinfonet_ros/weights/hands2017_synth.safetensors \
        --run runs/shipped --eval runs/shipped/eval_given.json --eval runs/shipped/eval_detect.json \
        --note "resumed at epoch 20 with --precision bf16" --out crossinfonet_ros/weights/hands2017_synth.json

``--eval`` takes ``training.evaluate --json`` outputs (any number); ``--note`` free-text steps of
the run's history (resumptions with changed options), kept in order.
"""

import argparse
import csv
import json
from pathlib import Path
import sys

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crossinfonet_ros.weights import WeightsError, load_weights  # noqa: E402

THRESHOLDS_MM = (10.0, 20.0, 30.0, 40.0, 50.0, 80.0)


def epoch_log(run: Path) -> list:
    """``'epoch lr train_error_mm val_error_mm'`` lines of the run's metrics.csv."""
    with open(run / 'metrics.csv', newline='') as handle:
        return [f'{int(row["epoch"])} {float(row["lr"]):.6g} {float(row["train_error_mm"]):.1f}'
                f' {float(row["val_error_mm"]):.1f}' for row in csv.DictReader(handle)]


def evaluation_summary(path: Path) -> dict:
    """The headline figures of a ``training.evaluate --json`` file."""
    data = json.loads(path.read_text())
    curve = dict(zip(data['success_curve']['thresholds_mm'], data['success_curve']['fraction']))
    return {'json': str(path), 'dataset': data.get('dataset'), 'seed': data.get('seed'),
            'frames': data['frames'], 'centre': data['center'],
            'detection_failures': data['failures'], 'mean_error_mm': data['mean_error_mm'],
            'success_fraction_max_error_le_mm': {f'{t:g}': round(curve[t], 3)
                                                 for t in THRESHOLDS_MM if t in curve},
            'per_joint_error_mm': data['per_joint_error_mm']}


def card(args: argparse.Namespace) -> dict:
    """The card's content."""
    _, metadata = load_weights(args.weights)
    run = Path(args.run)
    log = epoch_log(run)
    last = log[-1].split() if log else None
    return {
        'file': str(args.weights),
        'what': args.what,
        'layout': metadata.layout, 'cube_mm': metadata.cube_mm,
        'input_size': metadata.input_size, 'stored_dtype': metadata.stored_dtype,
        'bytes': Path(args.weights).stat().st_size,
        'training_record_in_file': metadata.training,
        'run': {'folder': str(run), 'history': list(args.note),
                'epochs_logged': len(log), 'last_epoch_lr': float(last[1]) if last else None,
                'epoch_log (epoch, lr, train_error_mm, val_error_mm)': log},
        'held_out_evaluations': [evaluation_summary(Path(p)) for p in args.eval],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='scripts/weights_card.py',
                                     description=__doc__.splitlines()[0])
    parser.add_argument('--weights', type=Path, required=True)
    parser.add_argument('--run', type=Path, required=True, help='training run folder')
    parser.add_argument('--eval', action='append', default=[], help='evaluate --json output')
    parser.add_argument('--note', action='append', default=[], help='a step of the history')
    parser.add_argument('--what', default='CrossInfoNet (cross_hm) trained on synthetic depth '
                        'hands only (training/synth: sensor noise, dropouts, clutter); accuracy '
                        'on real cameras is unknown.')
    parser.add_argument('--out', type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        content = card(args)
    except (WeightsError, OSError, KeyError, ValueError) as error:
        print(f'weights_card: error: {error}', file=sys.stderr)
        return 1
    args.out.write_text(json.dumps(content, indent=2) + '\n')
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
