"""Output paths of the command-line tools: what stands in the way of writing one, found before
any work is done, so a bad ``--out`` costs one clear line instead of a traceback at the end."""

import os
from pathlib import Path
from typing import Optional


def out_problem(path: Path, directory: bool) -> Optional[str]:
    """Why ``path`` cannot be written (created with its parents as needed), or None.

    :param path: the output folder (``directory``) or file
    :param directory: ``path`` is a folder to create or reuse; else a file to write
    """
    path = Path(path)
    if path.exists():
        if directory and not path.is_dir():
            return 'is a file, not a directory'
        if not directory and path.is_dir():
            return 'is a directory, not a file'
        return None if os.access(path, os.W_OK) else 'is not writable'
    ancestor = path.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f'{ancestor} is a file, not a directory'
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f'cannot create it: {ancestor} is not writable'
    return None
