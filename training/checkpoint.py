"""Resumable training checkpoints, written atomically and read without unpickling code.

A checkpoint is a ``torch.save`` of plain tensors, dicts, lists, numbers and strings only, so
``torch.load(..., weights_only=True)`` reads it. It is written to a temp file in the same folder
and moved into place with ``os.replace``: a run killed while saving keeps the previous file.
"""

import errno
import os
from pathlib import Path
import random
import shutil
import tempfile
from typing import Any, Dict, Union

import numpy as np
import torch

PathLike = Union[str, os.PathLike]
CHECKPOINT_NAME = 'checkpoint.pt'  # the latest resumable state of a run
BEST_NAME = 'best.pt'  # the model with the lowest validation error so far
# Less free space than this after a failed write means the disk filled up: a write stops at most
# one tensor short of the end, and the largest (the 9216x1024 FC weights, spec 1.4) is 36 MiB
# (spec 1.7: flatten 9216 -> FC 1024).
_FULL_DISK_BYTES = 64 * 2 ** 20


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable or not one of ours."""


class CheckpointWriteError(CheckpointError):
    """A checkpoint could not be written (full disk, read-only folder); the previous file at the
    same path, if any, is untouched."""


def save_atomically(path: PathLike, payload: Dict[str, Any]) -> Path:
    """``torch.save`` ``payload`` to ``path`` through a temp file and ``os.replace``.

    :param path: destination
    :param payload: plain tensors / containers / scalars (``weights_only`` loadable)
    :return: the path written
    :raises CheckpointWriteError: the folder or the file cannot be written (the temp file is
        removed, a previous checkpoint at ``path`` is left as it was)
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    except OSError as error:
        raise _write_error(path, error) from error
    try:
        with os.fdopen(handle, 'wb') as out:
            torch.save(payload, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException as error:
        # torch.save reports a failed write as a RuntimeError; the cause is read before the temp
        # file is removed and frees the space it took.
        failure = _write_error(path, error) if isinstance(error, (OSError, RuntimeError)) \
            else None
        Path(temp).unlink(missing_ok=True)
        if failure is None:
            raise
        raise failure from error
    return path


def check_writable(folder: PathLike) -> None:
    """Fail early, before hours of training, when checkpoints cannot be written in ``folder``.

    Creates and removes a temp file: ``os.access`` says yes to root in a chmod-ed folder.

    :raises CheckpointWriteError: naming the folder and the cause (read-only, permissions)
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix='.write-test.', suffix='.tmp', dir=folder)
        os.close(handle)
        os.unlink(temp)
    except OSError as error:
        raise CheckpointWriteError(f'cannot write checkpoints in {folder}: '
                                   f'{error.strerror or error}') from error


def remove_stale_temps(folder: PathLike) -> list:
    """Delete the temp files of :func:`save_atomically` left in ``folder`` by a killed run.

    Call only when no other process writes checkpoints there (a resumed run, before training).

    :param folder: a run folder
    :returns: the paths removed
    """
    stale = [temp for name in (CHECKPOINT_NAME, BEST_NAME)
             for temp in Path(folder).glob(f'.{name}.*.tmp')]
    for temp in stale:
        temp.unlink(missing_ok=True)
    return stale


def _write_error(path: Path, error: BaseException) -> CheckpointWriteError:
    """One line naming the file, the cause and what is left."""
    if isinstance(error, OSError) and error.strerror:
        cause = error.strerror
    else:
        cause = (str(error).strip().splitlines() or [type(error).__name__])[0]
        try:
            free = shutil.disk_usage(path.parent).free
        except OSError:
            free = None
        # torch.save hides a full disk behind its zip writer's message ('unexpected pos ...').
        if free is not None and free < _FULL_DISK_BYTES:
            cause = f'{os.strerror(errno.ENOSPC)} ({free // 2 ** 20} MiB free; {cause})'
    kept = 'the previous one is kept' if path.is_file() else 'no previous one exists'
    return CheckpointWriteError(f'cannot write checkpoint {path}: {cause} ({kept})')


def load_checkpoint(path: PathLike) -> Dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` (no arbitrary code runs).

    :param path: a file written by :func:`save_atomically`
    :raises CheckpointError: missing or unreadable, naming the file
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f'no checkpoint at {path}')
    try:
        data = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # torch raises many types for foreign/corrupt files
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CheckpointError(f'cannot read checkpoint {path}: {first_line}') from None
    if not isinstance(data, dict) or 'model' not in data:
        raise CheckpointError(f'{path} is not a training checkpoint (no "model" entry)')
    return data


def capture_rng_state() -> Dict[str, Any]:
    """Python, NumPy and torch (CPU and CUDA) generator states as weights-only-safe values."""
    version, mt_state, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        'python': [version, list(mt_state), gauss],
        'numpy': {'kind': kind, 'keys': torch.from_numpy(keys.astype(np.int64)), 'pos': int(pos),
                  'has_gauss': int(has_gauss), 'cached': float(cached)},
        'torch': torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Dict[str, Any]) -> None:
    """Undo :func:`capture_rng_state`.

    :param state: a dict from :func:`capture_rng_state`
    """
    version, mt_state, gauss = state['python']
    random.setstate((version, tuple(mt_state), gauss))
    numpy_state = state['numpy']
    np.random.set_state((numpy_state['kind'],
                         numpy_state['keys'].numpy().astype(np.uint32), numpy_state['pos'],
                         numpy_state['has_gauss'], numpy_state['cached']))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])
