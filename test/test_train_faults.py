"""Training survives faults (issue 8.5): SIGKILL then --resume equals an uninterrupted run; a
checkpoint write that fails (full disk, read-only folder) stops with one error line and leaves
the previous checkpoint intact.

The full disk and the read-only folder are real when the tests may mount a small tmpfs (root
with CAP_SYS_ADMIN); otherwise the same failures are injected (ENOSPC part-way through the write,
EACCES on creating the temp file), since root ignores a chmod-ed folder.
"""

import errno
import hashlib
import os
from pathlib import Path
import signal
import subprocess
import sys
import time

import pytest
import torch

from training import checkpoint as ckpt
from training import train
from test_train import _rows, _same_weights

ROOT = Path(__file__).resolve().parent.parent
# 8 fixed-seed renders, batch 2 -> 4 steps per epoch (room for mid-epoch checkpoints), 1 thread.
TINY = ['--dataset', 'synthetic', '--batch-size', '2', '--train-size', '8', '--val-size', '2',
        '--threads', '1', '--progress', 'none', '--seed', '5']
# A tmpfs that holds one epoch's best.pt + checkpoint.pt (~96 + ~288 MB for the hands2017
# model with Adam state) but not a second copy of either.
SMALL_DISK = '420m'


def _cli(*argv: str) -> list:
    return [sys.executable, '-m', 'training.train', *TINY, *argv]


def _last_rows(run_dir: Path) -> dict:
    """epoch -> its metrics row; a killed run may have logged an epoch twice (the last counts)."""
    return {int(row['epoch']): row for row in _rows(run_dir)}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path):
    run_dir = tmp_path / 'killed'
    # Checkpoints after every step (--checkpoint-minutes 6 ms): the kill lands mid-epoch or
    # even mid-write.
    child = subprocess.Popen(_cli('--epochs', '50', '--checkpoint-minutes', '0.0001', '--out',
                                  str(run_dir)), cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (run_dir / ckpt.CHECKPOINT_NAME).exists():
            assert child.poll() is None, child.stderr.read()
            assert time.monotonic() < deadline, 'no checkpoint within 120 s'
            time.sleep(0.02)
        time.sleep(1.0)  # a few more steps and saves
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    saved = ckpt.load_checkpoint(run_dir / ckpt.CHECKPOINT_NAME)
    epochs = saved['epoch'] + 1  # finish the epoch the kill interrupted (or the next one)
    train.run(train.parse_args(TINY + ['--out', str(run_dir), '--resume',
                                       '--epochs', str(epochs)]))
    assert not list(run_dir.glob('.*.tmp')), 'the resumed run left the killed run\'s temp file'
    reference = tmp_path / 'straight'
    train.run(train.parse_args(TINY + ['--out', str(reference), '--epochs', str(epochs)]))
    _same_weights(reference / ckpt.CHECKPOINT_NAME, run_dir / ckpt.CHECKPOINT_NAME)
    resumed, straight = _last_rows(run_dir), _last_rows(reference)
    assert sorted(resumed) == sorted(straight) == list(range(1, epochs + 1))
    # The next epoch after the kill: same loss and validation error, to the last digit.
    assert resumed[epochs]['train_loss'] == straight[epochs]['train_loss']
    assert resumed[epochs]['val_error_mm'] == straight[epochs]['val_error_mm']
    print(f'killed at epoch {saved["epoch"]} step {saved["step"]}; resumed to epoch {epochs}')


@pytest.fixture
def small_disk(tmp_path):
    """A real 420 MB tmpfs folder, or None when this process may not mount one."""
    mount_point = tmp_path / 'disk'
    mount_point.mkdir()
    if os.geteuid() != 0 or subprocess.run(
            ['mount', '-t', 'tmpfs', '-o', f'size={SMALL_DISK}', 'tmpfs', str(mount_point)],
            capture_output=True).returncode != 0:
        yield None
        return
    try:
        yield mount_point
    finally:
        subprocess.run(['umount', '-l', str(mount_point)], check=False)


def _fail_writes_after_first_checkpoint(monkeypatch) -> None:
    """Inject a disk that fills up after the first checkpoint.pt: later saves write 4 KB and
    fail with ENOSPC, as a real full disk does part-way."""
    real_save = torch.save
    written = {'checkpoints': 0}

    def save(payload, out, *args, **kwargs):
        if written['checkpoints']:
            out.write(b'\0' * 4096)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_save(payload, out, *args, **kwargs)
        written['checkpoints'] += 'optimizer' in payload  # checkpoint.pt, not best.pt
    monkeypatch.setattr(ckpt.torch, 'save', save)


def _one_error_line(stderr: str, *words: str) -> str:
    errors = [line for line in stderr.splitlines() if 'error' in line.lower()]
    assert len(errors) == 1, stderr
    assert 'Traceback' not in stderr, stderr
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


def test_full_disk_stops_with_one_error_and_keeps_the_checkpoint(small_disk, tmp_path,
                                                                  monkeypatch, capsys):
    if small_disk is None:
        _fail_writes_after_first_checkpoint(monkeypatch)
    run_dir = (small_disk or tmp_path) / 'run'
    status = train.main(TINY + ['--out', str(run_dir), '--epochs', '3'])
    stderr = capsys.readouterr().err
    assert status == 1
    line = _one_error_line(stderr, 'No space left on device', str(run_dir), 'is kept')
    assert line.startswith('training.train: error: cannot write checkpoint')
    # The previous checkpoint is intact: loadable, at the end of epoch 1.
    saved = ckpt.load_checkpoint(run_dir / ckpt.CHECKPOINT_NAME)
    assert (saved['epoch'], saved['step'], saved['global_step']) == (1, 0, 4)
    assert not list(run_dir.glob('.*.tmp')), 'a failed write left its temp file'
    print(f'full disk ({"tmpfs " + SMALL_DISK if small_disk else "injected ENOSPC"}): {line}')


def test_read_only_folder_stops_the_cli_with_one_error_and_keeps_the_checkpoint(small_disk,
                                                                                 tmp_path):
    run_dir = (small_disk or tmp_path) / 'run'
    train.run(train.parse_args(TINY + ['--out', str(run_dir), '--epochs', '1']))
    before = _sha256(run_dir / ckpt.CHECKPOINT_NAME)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    if small_disk is not None:
        subprocess.run(['mount', '-o', 'remount,ro', str(small_disk)], check=True)
        how = 'read-only tmpfs'
    elif os.geteuid() != 0:
        run_dir.chmod(0o555)
        how = 'chmod 555'
    else:  # root without mount: make creating the temp file fail as a read-only folder does
        hook = tmp_path / 'hook'
        hook.mkdir()
        (hook / 'sitecustomize.py').write_text(
            'import errno, tempfile\n'
            'def _mkstemp(*a, **k):\n'
            '    raise PermissionError(errno.EACCES, "Permission denied")\n'
            'tempfile.mkstemp = _mkstemp\n')
        env['PYTHONPATH'] = os.pathsep.join([str(hook), str(ROOT)])
        how = 'injected EACCES'
    try:
        result = subprocess.run(_cli('--out', str(run_dir), '--resume', '--epochs', '2'),
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    finally:
        if small_disk is None and os.geteuid() != 0:
            run_dir.chmod(0o755)
    assert result.returncode == 1, result.stderr
    line = _one_error_line(result.stderr, str(run_dir))
    assert line.startswith('training.train: error: ')
    assert _sha256(run_dir / ckpt.CHECKPOINT_NAME) == before
    assert ckpt.load_checkpoint(run_dir / ckpt.CHECKPOINT_NAME)['epoch'] == 1
    print(f'read-only folder ({how}): {line}')
