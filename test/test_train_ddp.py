"""training.train under torchrun: two processes (gloo on CPU) share each epoch's batches."""

from pathlib import Path
import shutil
import subprocess
import sys

import pytest

from training.checkpoint import load_checkpoint
from test_train import _rows

ROOT = Path(__file__).resolve().parent.parent


def test_two_process_run_splits_batches_and_writes_once(tmp_path):
    torchrun = shutil.which('torchrun') or str(Path(sys.executable).parent / 'torchrun')
    if not Path(torchrun).exists():
        pytest.skip('torchrun is not installed next to this Python')
    out = tmp_path / 'run'
    result = subprocess.run(
        [torchrun, '--standalone', '--nproc_per_node', '2', '-m', 'training.train',
         '--dataset', 'synthetic', '--batch-size', '2', '--train-size', '8', '--val-size', '2',
         '--threads', '1', '--progress', 'none', '--seed', '3', '--epochs', '2',
         '--out', str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    # 8 crops in batches of 2 = 4 batches per epoch, 2 per rank: 2 epochs -> 4 steps per rank.
    state = load_checkpoint(out / 'checkpoint.pt')
    assert state['epoch'] == 2 and state['global_step'] == 4
    assert [int(row['epoch']) for row in _rows(out)] == [1, 2]  # rank 0 alone writes
    assert result.stderr.count('done: best validation error') == 1
