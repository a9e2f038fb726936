"""Resumable training checkpoints, written atomically and read without unpickling code.

A checkpoint is a ``torch.save`` of plain tensors, dicts, lists, numbers and strings only, so
``torch.load(..., weights_only=True)`` reads it. It is written to a temp file in the same folder
and moved into place with ``os.replace``: a run killed while saving keeps the previous file.
"""

import os
from pathlib import Path
import random
import tempfile
from typing import Any, Dict, Union

import numpy as np
import torch

PathLike = Union[str, os.PathLike]
CHECKPOINT_NAME = 'checkpoint.pt'  # the latest resumable state of a run
BEST_NAME = 'best.pt'  # the model with the lowest validation error so far


class CheckpointError(ValueError):
    """A checkpoint is missing, unreadable or not one of ours."""


def save_atomically(path: PathLike, payload: Dict[str, Any]) -> Path:
    """``torch.save`` ``payload`` to ``path`` through a temp file and ``os.replace``.

    :param path: destination
    :param payload: plain tensors / containers / scalars (``weights_only`` loadable)
    :return: the path written
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(handle, 'wb') as out:
            torch.save(payload, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


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
