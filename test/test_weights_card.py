"""scripts/weights_card.py: the shipped weights' card is built from the run's own files."""

import csv
import json
from pathlib import Path
import subprocess
import sys

import numpy as np

from training import metrics

ROOT = Path(__file__).resolve().parent.parent


def test_card_reads_the_metrics_and_evaluations_of_the_run(weights, tmp_path):
    run = tmp_path / 'run'
    run.mkdir()
    with open(run / 'metrics.csv', 'w', newline='') as handle:
        out = csv.DictWriter(handle, fieldnames=['epoch', 'lr', 'train_error_mm',
                                                 'val_error_mm'])
        out.writeheader()
        out.writerows([dict(epoch=1, lr=1e-3, train_error_mm=90.0, val_error_mm=80.0),
                       dict(epoch=2, lr=9.6e-4, train_error_mm=60.0, val_error_mm=50.0)])
    errors = np.array([[5.0, 15.0], [25.0, 35.0], [np.nan, np.nan]])
    summary = metrics.summarize(errors, ('a', 'b'))
    summary.update(center='given (test)', dataset='synthetic', seed=4)
    (tmp_path / 'eval.json').write_text(json.dumps(summary))
    result = subprocess.run([sys.executable, 'scripts/weights_card.py', '--weights', str(weights),
                             '--run', str(run), '--eval', str(tmp_path / 'eval.json'),
                             '--note', 'first step', '--out', str(tmp_path / 'card.json')],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    card = json.loads((tmp_path / 'card.json').read_text())
    assert card['layout'] == 'hands2017' and card['bytes'] == weights.stat().st_size
    assert card['run']['epoch_log (epoch, lr, train_error_mm, val_error_mm)'] == \
        ['1 0.001 90.0 80.0', '2 0.00096 60.0 50.0']
    assert card['run']['history'] == ['first step']
    evaluation = card['held_out_evaluations'][0]
    assert evaluation['mean_error_mm'] == summary['mean_error_mm'] == 20.0
    assert evaluation['detection_failures'] == 1
    # Max error per frame 15 and 35 mm, one frame without a hand: 1/3 within 20 mm, 2/3 in 40.
    assert evaluation['success_fraction_max_error_le_mm']['20'] == round(1 / 3, 3)
    assert evaluation['success_fraction_max_error_le_mm']['40'] == round(2 / 3, 3)


def test_missing_run_folder_is_one_error_line(weights, tmp_path):
    result = subprocess.run([sys.executable, 'scripts/weights_card.py', '--weights', str(weights),
                             '--run', str(tmp_path / 'nope'), '--out', str(tmp_path / 'c.json')],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and 'metrics.csv' in result.stderr
