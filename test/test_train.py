"""training.train: a short run learns and writes its files; kill + resume is bit-identical;
bad arguments stop with one line before any work."""

import csv
from pathlib import Path
import subprocess
import sys

import pytest
import torch

from training import train
from training.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parent.parent
# Tiny budget: 4 fixed renders, batch 2 -> 2 steps per epoch, 2 validation renders, 1 thread.
TINY = ['--dataset', 'synthetic', '--batch-size', '2', '--train-size', '4', '--val-size', '2',
        '--threads', '1', '--progress', 'none', '--seed', '3']


def _run(out: Path, *extra: str) -> dict:
    return train.run(train.parse_args(TINY + ['--out', str(out), *extra]))


def _rows(run_dir: Path) -> list:
    with open(run_dir / 'metrics.csv') as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope='module')
def straight(tmp_path_factory) -> tuple:
    """A 2-epoch run (2 steps each): the reference of the resume tests."""
    run_dir = tmp_path_factory.mktemp('straight') / 'run'
    return run_dir, _run(run_dir, '--epochs', '2')


def test_short_run_lowers_loss_and_writes_files(straight):
    run_dir, summary = straight
    rows = _rows(run_dir)
    assert [int(row['epoch']) for row in rows] == [1, 2]
    assert float(rows[-1]['train_loss']) < float(rows[0]['train_loss'])
    # lr x 0.96 per epoch (spec 4)
    assert float(rows[1]['lr']) == pytest.approx(float(rows[0]['lr']) * 0.96)
    assert summary['global_step'] == 4
    assert any((run_dir / 'tb').iterdir())
    best = torch.load(run_dir / 'best.pt', weights_only=True)
    assert best['val_error_mm'] == pytest.approx(summary['best_val_error_mm'])
    assert best['val_error_mm'] == pytest.approx(min(float(r['val_error_mm']) for r in rows))
    state = load_checkpoint(run_dir / 'checkpoint.pt')
    assert state['epoch'] == 2 and state['step'] == 0
    assert not list(run_dir.glob('.*.tmp'))  # atomic writes leave no temp files


def _same_weights(first: Path, second: Path) -> None:
    a = load_checkpoint(first)
    b = load_checkpoint(second)
    assert a['global_step'] == b['global_step']
    for name, tensor in a['model'].items():
        assert torch.equal(tensor, b['model'][name]), name


@pytest.mark.parametrize('first_leg', [['--epochs', '1'], ['--epochs', '2', '--max-steps', '3']],
                         ids=['epoch-boundary', 'mid-epoch'])
def test_resume_is_identical_to_a_straight_run(straight, tmp_path, first_leg):
    reference, _ = straight
    run_dir = tmp_path / 'resumed'
    _run(run_dir, *first_leg)  # the "killed" run: stopped after 1 epoch or mid-epoch
    _run(run_dir, '--resume', '--epochs', '2')  # the first leg's --max-steps is not inherited
    _same_weights(reference / 'checkpoint.pt', run_dir / 'checkpoint.pt')
    for row, other in zip(_rows(reference), _rows(run_dir)):
        assert row['train_loss'] == other['train_loss']
        assert row['val_error_mm'] == other['val_error_mm']


@pytest.mark.parametrize('argv, message', [
    (['--batch-size', '0'], '--batch-size must be positive'),
    (['--dataset', 'nyu', '--root', '/nonexistent/nyu'], 'is not a directory'),
    (['--resume'], 'no checkpoint'),
    (['--variant', 'huge'], 'invalid choice'),
    (['--device', 'cpu', '--precision', 'fp16'], '--precision fp16 needs CUDA'),
    (['--augment', 'rot,flip'], "unknown augmentation mode(s) ['flip']"),
    (['--ema', '1'], '--ema must be in [0, 1), got 1.0'),
])
def test_bad_arguments_exit_with_one_line(tmp_path, capsys, argv, message):
    status = train.main(['--out', str(tmp_path / 'run'), *argv])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / 'run').exists()  # no work started


def test_wrong_root_exits_non_zero_as_a_process(tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    result = subprocess.run([sys.executable, '-m', 'training.train', '--dataset', 'icvl',
                             '--root', str(empty), '--out', str(tmp_path / 'run')],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and 'icvl' in lines[0] and str(empty) in lines[0]


def test_a_repeated_epoch_replaces_its_row_and_later_ones(tmp_path):
    path = tmp_path / 'metrics.csv'
    row = {field: 0 for field in train.CSV_FIELDS}
    for epoch in (1, 2, 3):
        train.append_metrics_row(path, {**row, 'epoch': epoch, 'train_loss': epoch})
    # Killed after writing epoch 3's row, resumed from epoch 2's checkpoint: epoch 3 again.
    train.append_metrics_row(path, {**row, 'epoch': 3, 'train_loss': 30})
    assert [(r['epoch'], r['train_loss']) for r in _rows(tmp_path)] == \
        [('1', '1'), ('2', '2'), ('3', '30')]


def test_resume_can_restart_the_lr_and_change_the_batch_size_between_epochs(tmp_path):
    run_dir = tmp_path / 'run'
    _run(run_dir, '--epochs', '1')
    train.run(train.parse_args(['--out', str(run_dir), '--resume', '--epochs', '3', '--lr',
                                '5e-4', '--batch-size', '4', '--lr-decay', '0.5',
                                '--progress', 'none']))
    rows = _rows(run_dir)
    assert [float(row['lr']) for row in rows] == pytest.approx([1e-3, 5e-4, 2.5e-4])
    assert [int(row['steps']) for row in rows] == [2, 1, 1]  # 4 renders: batches of 2, then 4
    state = load_checkpoint(run_dir / 'checkpoint.pt')
    assert state['args']['batch_size'] == 4 and state['args']['seed'] == 3
    assert state['optimizer']['param_groups'][0]['lr'] == pytest.approx(1.25e-4)


def test_resume_can_change_dropout_and_augmentation_for_a_last_phase(tmp_path):
    run_dir = tmp_path / 'run'
    _run(run_dir, '--epochs', '1')
    args = train.parse_args(['--out', str(run_dir), '--resume', '--epochs', '2', '--dropout',
                             '0', '--augment', 'com,none,none'])
    assert (args.dropout, args.augment) == (0.0, ('com', 'none', 'none'))
    data = train.build_data(args)
    assert data.train.config.modes == ('com', 'none', 'none')
    network = train.training_model(train.model_config_for(args, data.layout), torch.device('cpu'))
    assert not any(isinstance(m, torch.nn.Dropout) for m in network.modules())
    train.run(args, data)
    state = load_checkpoint(run_dir / 'checkpoint.pt')
    assert state['epoch'] == 2
    assert (state['args']['dropout'], tuple(state['args']['augment'])) == \
        (0.0, ('com', 'none', 'none'))
    # The next resume keeps them; a run that never named them has the spec's defaults.
    again = train.parse_args(['--out', str(run_dir), '--resume', '--epochs', '3'])
    assert (again.dropout, again.augment) == (0.0, ('com', 'none', 'none'))
    fresh = train.parse_args(TINY + ['--out', str(tmp_path / 'other')])
    assert (fresh.dropout, fresh.augment) == (0.4, ('com', 'rot', 'sc', 'none'))


@pytest.mark.parametrize('first_leg, argv, message', [
    (['--epochs', '1'], ['--seed', '4'], '--seed cannot change on --resume'),
    (['--epochs', '1'], ['--variant', 'base'], '--variant cannot change on --resume'),
    (['--epochs', '1'], ['--seed', '0'], '--seed cannot change on --resume'),
    (['--epochs', '1'], ['--weight-decay', '0'], '--weight-decay cannot change on --resume'),
    (['--epochs', '2', '--max-steps', '3'], ['--batch-size', '4'],
     '--batch-size can change only between epochs'),
])
def test_resume_refuses_what_it_cannot_change(tmp_path, capsys, first_leg, argv, message):
    run_dir = tmp_path / 'run'
    _run(run_dir, *first_leg)
    before = (run_dir / 'checkpoint.pt').read_bytes()
    capsys.readouterr()
    status = train.main(['--out', str(run_dir), '--resume', *argv])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert len(err.splitlines()) == 1 and message in err
    assert (run_dir / 'checkpoint.pt').read_bytes() == before


def test_resume_needs_only_the_run_folder(tmp_path):
    run_dir = tmp_path / 'run'
    _run(run_dir, '--epochs', '1', '--variant', 'base', '--dropout', '0')
    args = train.parse_args(['--out', str(run_dir), '--resume', '--epochs', '2'])
    assert (args.variant, args.dropout, args.seed, args.train_size) == ('base', 0.0, 3, 4)


def test_weight_average_is_validated_kept_and_resumed_exactly(tmp_path):
    straight_dir, resumed_dir = tmp_path / 'straight', tmp_path / 'resumed'
    _run(straight_dir, '--epochs', '2', '--ema', '0.5')
    _run(resumed_dir, '--epochs', '2', '--max-steps', '3', '--ema', '0.5')  # stops mid-epoch 2
    _run(resumed_dir, '--resume', '--epochs', '2')  # --ema comes from the checkpoint
    a = load_checkpoint(straight_dir / 'checkpoint.pt')
    b = load_checkpoint(resumed_dir / 'checkpoint.pt')
    assert a['weight_average']['updates'] == b['weight_average']['updates'] == 4
    for name, tensor in a['weight_average']['model'].items():
        assert torch.equal(tensor, b['weight_average']['model'][name]), name
    # The average is what best.pt keeps: after one epoch (best so far by definition) it is the
    # average, not the trained weights.
    first = tmp_path / 'first'
    _run(first, '--epochs', '1', '--ema', '0.5')
    state = load_checkpoint(first / 'checkpoint.pt')
    best = torch.load(first / 'best.pt', weights_only=True)
    name = next(key for key, value in best['model'].items() if value.is_floating_point()
                and not torch.equal(value, state['model'][key]))
    assert torch.equal(best['model'][name], state['weight_average']['model'][name])
    assert best['training']['ema'] == 0.5
    # --ema 0 on a resume switches it off: no average is saved any more.
    _run(first, '--resume', '--epochs', '2', '--ema', '0')
    assert load_checkpoint(first / 'checkpoint.pt')['weight_average'] is None
