"""Output paths of the CLIs: new folders are made with their parents, and a path that cannot be
written (a file in the way, a folder where a file goes) is one clear line before any work."""

from pathlib import Path
import subprocess
import sys

import pytest

from conftest import ROOT
from training.out_path import out_problem


@pytest.fixture
def blocked(tmp_path):
    """A plain file, in the way of anything below it."""
    path = tmp_path / 'file'
    path.write_text('x')
    return path


def test_out_problem_names_what_is_in_the_way(tmp_path, blocked):
    assert out_problem(tmp_path / 'new' / 'deeper', directory=True) is None
    assert out_problem(tmp_path / 'new' / 'x.png', directory=False) is None
    assert out_problem(tmp_path, directory=True) is None
    assert out_problem(blocked, directory=True) == 'is a file, not a directory'
    assert out_problem(tmp_path, directory=False) == 'is a directory, not a file'
    assert out_problem(blocked / 'a' / 'b', directory=True) == \
        f'{blocked} is a file, not a directory'


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_synth_creates_the_folder_and_its_parents(tmp_path):
    out = tmp_path / 'data' / 'synth'
    done = run('-m', 'training.synth', '--out', str(out), '--num', '1')
    assert done.returncode == 0, done.stderr
    assert any((out / 'training' / 'images').iterdir())
    bag = tmp_path / 'bags' / 'one'
    done = run('-m', 'training.synth', '--out', str(bag), '--num', '1', '--format', 'rosbag2')
    assert done.returncode == 0, done.stderr
    assert (bag / 'metadata.yaml').is_file()


def test_preview_creates_the_folder_and_its_parents(tmp_path):
    out = tmp_path / 'docs' / 'img'
    done = run('-m', 'training.synth.preview', '--out', str(out), '--frames', '1',
               '--crops', '1')
    assert done.returncode == 0, done.stderr
    assert sorted(p.suffix for p in out.iterdir()) == ['.png', '.png']


@pytest.mark.parametrize('tool, folder', [
    (('-m', 'training.synth', '--num', '1'), True),
    (('-m', 'training.synth.preview'), True),
    (('-m', 'training.evaluate', '--weights', 'never-read.safetensors'), True),
    (('-m', 'training.export', '--checkpoint', 'never-read.pt'), False),
    (('scripts/plot_training.py', '--run', 'never-read'), False)])
def test_an_out_that_cannot_be_written_is_one_line(tmp_path, blocked, tool, folder):
    # A folder output given a file, a file output given a folder; then a file in the way.
    for out, problem in ((blocked if folder else tmp_path, 'not a '),
                         (blocked / 'below', f'{blocked} is a file, not a directory')):
        done = run(*tool, '--out', str(out))
        assert done.returncode != 0
        assert f'--out {out}: ' in done.stderr and problem in done.stderr, done.stderr
        assert done.stderr.count('\n') == 1, done.stderr
