"""Cache of derived model files (ONNX exports, quantised graphs), keyed by weights content.

``<root>/<key>-<code>/<file>``: ``root`` is ``$CROSSINFONET_ROS_CACHE``, else
``$XDG_CACHE_HOME/crossinfonet_ros``, else ``~/.cache/crossinfonet_ros``; ``key`` identifies the
weights content (:func:`crossinfonet_ros.weights.metadata_fingerprint`) and ``code`` the code
that derives the files (the model, graph, rewrite and export sources and the torch / onnx
versions), so new weights or new code never reuse a stale file.

Each file is built into a temp file in the same folder and renamed into place: concurrent
builders (two nodes starting together) each produce a complete file and the last rename wins;
readers never see a partial file. An unwritable cache falls back to a per-process temp folder.
Entries unused for :data:`MAX_AGE_DAYS` are deleted when a new entry is made (each is about
150 MB); deleting the cache by hand is always safe.
"""

import functools
import hashlib
import json
import logging
import os
from pathlib import Path
import shutil
import tempfile
import time
from typing import Callable, Optional

from crossinfonet_ros.weights import write_atomically

CACHE_ENV = 'CROSSINFONET_ROS_CACHE'
MAX_AGE_DAYS = 30

_PACKAGE = Path(__file__).resolve().parent.parent
# Sources whose changes alter the derived files.
_CODE = ('model', 'backends/graph.py', 'backends/fc_int8.py', 'backends/qdq_int8.py',
         'backends/probe.py', 'onnx_export.py')

_fallback_root: Optional[Path] = None


def cache_root() -> Path:
    """The cache folder in effect (not necessarily existing yet)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache'
    return Path(base) / 'crossinfonet_ros'


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Short digest of the code and library versions that derive the cached files.

    Versions come from the installed distributions' metadata (equal to ``torch.__version__``
    etc. here), so checking the cache imports neither torch nor onnx.
    """
    digest = hashlib.sha256(_installed_version('torch').encode())
    onnx, onnxruntime = _installed_version('onnx'), _installed_version('onnxruntime')
    if onnx and onnxruntime:
        digest.update(f'{onnx}|{onnxruntime}'.encode())
    for item in _CODE:
        path = _PACKAGE / item
        for source in sorted(path.rglob('*.py')) if path.is_dir() else [path]:
            digest.update(source.read_bytes())
    return digest.hexdigest()[:12]


def entry_dir(key: str) -> Path:
    """Folder of one weights content's derived files, created if needed (see module doc)."""
    global _fallback_root
    name = f'{key}-{code_fingerprint()}'
    folder = cache_root() / name
    try:
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            _prune(folder.parent, keep=name)
        if os.access(folder, os.W_OK):
            os.utime(folder)  # marks the entry as used (see _prune)
            return folder
    except OSError:
        pass
    if _fallback_root is None:
        _fallback_root = Path(tempfile.mkdtemp(prefix='crossinfonet_ros-cache-'))
        logging.getLogger(__name__).warning('cache %s is not writable; using %s for this '
                                            'process', cache_root(), _fallback_root)
    folder = _fallback_root / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def find_file(key: str, name: str) -> Optional[Path]:
    """A file already in the cache (this process's fallback folder included), else None.

    Unlike :func:`entry_dir` this creates nothing; a hit marks the entry as used (see
    :func:`_prune`).

    :param key: weights content key
    :param name: file name inside the entry, e.g. ``'fp32.onnx'``
    """
    entry = f'{key}-{code_fingerprint()}'
    for root in (cache_root(), _fallback_root):
        if root is not None and (root / entry / name).is_file():
            try:
                os.utime(root / entry)
            except OSError:  # a read-only cache is still usable
                pass
            return root / entry / name
    return None


def find_record(key: str, name: str) -> Optional[dict]:
    """A JSON record already in the cache, else None (absent or unreadable); creates nothing."""
    path = find_file(key, name)
    try:
        return json.loads(path.read_text()) if path is not None else None
    except (OSError, ValueError):
        return None


def cached_file(key: str, name: str, build: Callable[[], bytes]) -> Path:
    """Path of a cached file, building it with ``build()`` (its bytes) when missing.

    :param key: weights content key
    :param name: file name inside the entry, e.g. ``'fp32.onnx'``
    :param build: returns the file content; called only on a miss
    """
    path = entry_dir(key) / name
    if not path.is_file():
        write_atomically(path, build())
    return path


def read_record(key: str, name: str) -> Optional[dict]:
    """A JSON record stored next to the cached files, or None when absent or unreadable."""
    try:
        return json.loads((entry_dir(key) / name).read_text())
    except (OSError, ValueError):
        return None


def write_record(key: str, name: str, record: dict) -> None:
    """Store a JSON record (atomically) next to the cached files."""
    write_atomically(entry_dir(key) / name, json.dumps(record, indent=1, sort_keys=True).encode())


def _installed_version(distribution: str) -> str:
    """Version of an installed distribution, '' when it is not installed."""
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return ''


def _prune(root: Path, keep: str) -> None:
    """Delete entries not used for MAX_AGE_DAYS (best effort; another process may race)."""
    limit = time.time() - MAX_AGE_DAYS * 86400
    for entry in root.iterdir():
        try:
            if entry.name != keep and entry.is_dir() and entry.stat().st_mtime < limit:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue
