"""Which of the node's inputs have gone silent, and when to say so (ROS-free).

A wrong topic name fails in silence: the subscription waits forever. The node feeds every
arrival into :class:`InputWatch` and asks it once a second which inputs have been silent for
longer than the timeout; it warns then, again every ``repeat_s`` while the silence lasts, and
once more (as good news) when the input comes back.
"""

from dataclasses import dataclass
import threading
from typing import Dict, List, Optional, Sequence


@dataclass(frozen=True)
class Silence:
    """One input silent for too long."""

    name: str  # the input's key, e.g. 'depth_image'
    seconds: float  # since its last message, or since the watch started when none came
    ever: bool  # a message arrived before this silence


class InputWatch:
    """Last arrival per input; silences longer than ``timeout_s``, due for a warning.

    Times are seconds on any monotonic clock, passed in by the caller. Thread-safe.

    :param names: the inputs watched
    :param timeout_s: silence after which an input is reported; 0 = never
    :param repeat_s: how often a lasting silence is reported again
    :param now_s: the start (an input that never arrives is silent from here)
    """

    def __init__(self, names: Sequence[str], timeout_s: float, repeat_s: float,
                 now_s: float) -> None:
        if timeout_s < 0 or repeat_s <= 0:
            raise ValueError(f'need timeout_s >= 0 and repeat_s > 0, got {timeout_s} and '
                             f'{repeat_s}')
        self.timeout_s = timeout_s
        self.repeat_s = repeat_s
        self._lock = threading.Lock()
        self._since: Dict[str, float] = {name: now_s for name in names}
        self._ever: Dict[str, bool] = {name: False for name in names}
        self._warned: Dict[str, Optional[float]] = {name: None for name in names}

    def arrived(self, name: str, now_s: float) -> Optional[float]:
        """Record a message on ``name``.

        :returns: when this ends a silence that was reported, its length in seconds; else None
        """
        with self._lock:
            reported = self._warned[name] is not None
            silent_for = now_s - self._since[name]
            self._since[name] = now_s
            self._ever[name] = True
            self._warned[name] = None
        return silent_for if reported else None

    def silent(self, now_s: float) -> List[Silence]:
        """Every input silent for at least the timeout now (none with a timeout of 0)."""
        with self._lock:
            return self._silences(now_s)

    def due(self, now_s: float) -> List[Silence]:
        """The silences to warn about now: new ones, and lasting ones every ``repeat_s``;
        they are marked as reported."""
        with self._lock:
            due = [s for s in self._silences(now_s) if self._warned[s.name] is None
                   or now_s - self._warned[s.name] >= self.repeat_s]
            for silence in due:
                self._warned[silence.name] = now_s
        return due

    def _silences(self, now_s: float) -> List[Silence]:
        if not self.timeout_s:
            return []
        return [Silence(name, now_s - since, self._ever[name])
                for name, since in self._since.items() if now_s - since >= self.timeout_s]


def silence_message(silence: Silence, label: str, topic: str, publishers: int) -> str:
    """One line on a silent input, naming its resolved topic and how many publish on it.

    :param label: what the input carries, e.g. 'depth image'
    :param topic: the subscription's resolved (remapped, namespaced) topic name
    :param publishers: publishers on ``topic`` now
    """
    count = f'{publishers} publisher' + ('' if publishers == 1 else 's')
    if silence.ever:
        return f'no {label} on {topic} for {silence.seconds:.1f} s ({count}): the stream stopped'
    hint = ("nothing publishes it: remap it to the camera driver's topic" if not publishers
            else 'is the camera streaming?')
    return f'no {label} on {topic} since start ({silence.seconds:.1f} s, {count}): {hint}'
