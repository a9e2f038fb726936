"""Watch a weights file and rebuild the model off the processing thread when it changes (ROS-free).

The node calls :meth:`WeightsWatcher.poll` from a ~1 s timer. A change is the file's
``(mtime, size, inode)`` signature differing from the one loaded; it is acted on only once the
signature has stayed the same for two polls in a row, so a file still being written in place is
not even tried. The rebuild runs in its own thread (model loading takes from a fraction of a
second to ~10 s with a first ONNX export) and hands the result to ``on_ready``, which swaps it in
with one assignment. ``weights.load_weights`` verifies the tensors' checksum, so a file caught
half-written, truncated or corrupted fails the build: ``on_error`` is called once for that
signature and the running model stays in place. An atomic replace (write a temp file, rename)
changes the inode, so it is seen as a change even with an equal size and mtime.
"""

from dataclasses import dataclass
import os
import threading
from typing import Callable, Generic, Optional, TypeVar

Built = TypeVar('Built')


@dataclass(frozen=True)
class FileSignature:
    """What identifies one version of a file without reading it."""

    mtime_ns: int  # last modification, ns since the epoch
    size: int  # bytes
    inode: int  # changes on an atomic replace (rename over the old file)


def describe_error(error: BaseException) -> str:
    """The error's message, with its type when that is not self-explaining (e.g. a
    ``RecursionError``, or an exception whose message is empty).

    :param error: the exception
    """
    if isinstance(error, ValueError) and str(error):  # WeightsError and the like say it all
        return str(error)
    return f'{type(error).__name__}: {error}' if str(error) else type(error).__name__


def file_signature(path: str) -> Optional[FileSignature]:
    """The file's signature, or None when it does not exist (or cannot be stat'ed)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return FileSignature(stat.st_mtime_ns, stat.st_size, stat.st_ino)


class WeightsWatcher(Generic[Built]):
    """Rebuild something from a file whenever the file settles on a new version.

    :param path: the watched file
    :param build: ``build(path)`` -> the new object; raises on a bad file (its message is
        passed to ``on_error``); runs in a background thread
    :param on_ready: called with the new object (from the background thread)
    :param on_error: called with one message per bad version of the file (background thread,
        or the polling thread when the file disappeared)
    """

    def __init__(self, path: str, build: Callable[[str], Built],
                 on_ready: Callable[[Built], None], on_error: Callable[[str], None]) -> None:
        self.path = str(path)
        self._build = build
        self._on_ready = on_ready
        self._on_error = on_error
        self._loaded = file_signature(self.path)  # the version in use
        self._candidate: Optional[FileSignature] = self._loaded  # seen at the last poll
        self._handled = self._loaded  # last version built or rejected
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()

    @property
    def busy(self) -> bool:
        """A rebuild is running."""
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    def poll(self) -> None:
        """Look at the file once; start a rebuild when a new version has settled."""
        current = file_signature(self.path)
        settled = current == self._candidate
        self._candidate = current
        if not settled or current == self._handled or self.busy:
            return
        self._handled = current
        if current is None:
            self._on_error(f'{self.path}: the weights file disappeared; keeping the loaded model')
            return
        thread = threading.Thread(target=self._rebuild, args=(current,),
                                  name='weights_reload', daemon=True)
        with self._lock:
            self._thread = thread
        thread.start()

    def wait(self, timeout: Optional[float] = None) -> None:
        """Wait for a running rebuild to finish (tests, shut-down)."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _rebuild(self, signature: FileSignature) -> None:
        try:
            built = self._build(self.path)
        except Exception as error:  # any bad file: keep the running model, say why once
            self._on_error(f'{describe_error(error)}; keeping the loaded model')
            return
        if file_signature(self.path) != signature:
            # Replaced again while loading: drop this build, the next polls build the newest.
            self._handled = None
            return
        self._loaded = signature
        self._on_ready(built)
