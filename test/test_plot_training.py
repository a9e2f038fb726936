"""scripts/plot_training.py: a run's curve from its metrics.csv; bad input is one line."""

import csv
from pathlib import Path
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ('epoch', 'steps', 'samples', 'lr', 'train_loss', 'train_error_mm', 'val_error_mm',
          'best_val_error_mm', 'seconds')


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, 'scripts/plot_training.py', *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def _write_run(folder: Path, rows: list) -> Path:
    folder.mkdir()
    with open(folder / 'metrics.csv', 'w', newline='') as handle:
        out = csv.DictWriter(handle, fieldnames=FIELDS)
        out.writeheader()
        out.writerows(rows)
    return folder


def _row(epoch: int, val: float) -> dict:
    return dict(epoch=epoch, steps=2, samples=4, lr=1e-3 * 0.96 ** epoch, train_loss=1.0,
                train_error_mm=val + 3, val_error_mm=val, best_val_error_mm=val,
                seconds=40.0 * epoch)


def test_writes_a_png_of_the_run(tmp_path):
    run = _write_run(tmp_path / 'run', [_row(e, 100.0 / e) for e in range(1, 6)])
    out = tmp_path / 'img' / 'curve.png'
    result = _run('--run', str(run), '--out', str(out), '--mark', '3:lr restarted')
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and out.stat().st_size > 10_000


@pytest.mark.parametrize('rows, argv, message', [
    ([], [], 'holds no epochs'),
    ([_row(1, 50.0)], ['--mark', '7:later'], 'are not in the run'),
    ([{**_row(1, 50.0), 'val_error_mm': 'nan?'}], [], 'not a number'),
])
def test_bad_runs_and_marks_fail_with_one_line(tmp_path, rows, argv, message):
    run = _write_run(tmp_path / 'run', rows)
    result = _run('--run', str(run), '--out', str(tmp_path / 'c.png'), *argv)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and message in lines[0]
    assert not (tmp_path / 'c.png').exists()


def test_a_missing_run_and_a_malformed_mark_are_refused(tmp_path):
    missing = _run('--run', str(tmp_path / 'none'), '--out', str(tmp_path / 'c.png'))
    assert missing.returncode == 1 and 'metrics.csv' in missing.stderr
    malformed = _run('--run', str(tmp_path), '--out', str(tmp_path / 'c.png'), '--mark', 'x')
    assert malformed.returncode == 2 and '--mark wants EPOCH:LABEL' in malformed.stderr


def test_title_names_the_run_the_weights_and_the_best_epoch(tmp_path):
    sys.path.insert(0, str(ROOT / 'scripts'))
    from plot_training import read_metrics, title
    run = _write_run(tmp_path / 'run', [_row(1, 50.0), _row(2, 20.0), _row(3, 30.0)])
    text = title(run, read_metrics(run), Path('w/hands.safetensors'))
    assert text.splitlines() == [
        f'run {run} -> hands.safetensors (best validation 20.00 mm at epoch 2)',
        '3 epochs, 0.0 h of training']
    assert '->' not in title(run, read_metrics(run))
