"""Rolling counters and latency percentiles behind the node's /diagnostics status, and the
rule that turns them into a health level (ROS-free)."""

from collections import Counter, deque
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

# Latency samples kept for the percentiles: ~30 s at 30 Hz.
_LATENCY_WINDOW = 1000
# An image older than this on arrival, or stamped in the future, carries a stamp of another
# clock (a bag replayed, simulated time, an unsynchronised camera host): its age means nothing.
_MAX_STAMP_AGE_NS = 10 * 10**9


def stamp_age_ms(stamp_ns: int, now_ns: int) -> Optional[float]:
    """How old a message is on arrival: this machine's wall clock at reception minus the
    header stamp, ms; None when the stamp is not on this clock (negative or above 10 s).

    For a camera on this machine the stamp is its capture time, so this is the driver plus
    DDS delay; a publisher that stamps at publication (the benchmarks) measures its transport.

    :param stamp_ns: the header stamp, ns since the epoch
    :param now_ns: the wall clock at reception (``time.time_ns()``)
    """
    age_ns = now_ns - stamp_ns
    return age_ns * 1e-6 if 0 <= age_ns < _MAX_STAMP_AGE_NS else None


class NodeStats:
    """Thread-safe counts since the last report plus totals; percentiles over a window."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latencies_ms = deque(maxlen=_LATENCY_WINDOW)
        self._stages: Dict[str, deque] = {}
        self._window = Counter()  # since the last report
        self._total = Counter()  # since start
        self._rejected = Counter()  # reason -> count, since start
        self._window_start = time.monotonic()

    def count(self, what: str, n: int = 1) -> None:
        """Count an event: 'input', 'output', 'detected', 'dropped', 'bad_transform'."""
        with self._lock:
            self._window[what] += n
            self._total[what] += n

    def reject(self, reason: str) -> None:
        """Count a rejected message and why (a short kind, e.g. 'encoding')."""
        with self._lock:
            self._rejected[reason] += 1
            self._window['rejected'] += 1
            self._total['rejected'] += 1

    def latency(self, latency_ms: float, stages_ms: Dict[str, float]) -> None:
        """Record one frame's input-to-publish latency and its per-stage split."""
        with self._lock:
            self._latencies_ms.append(latency_ms)
            for stage, value in stages_ms.items():
                self._stages.setdefault(stage, deque(maxlen=_LATENCY_WINDOW)).append(value)

    def totals(self) -> Dict[str, int]:
        """Counts since start: events, plus ``'rejected_<reason>'`` per rejection reason."""
        with self._lock:
            totals = dict(self._total)
            totals.update({f'rejected_{k}': v for k, v in self._rejected.items()})
        return totals

    def report(self) -> Tuple[List[Tuple[str, str]], Dict[str, int]]:
        """Key/value pairs for a DiagnosticStatus, and the window counts; starts a new window."""
        with self._lock:
            now = time.monotonic()
            elapsed = max(now - self._window_start, 1e-6)
            window, self._window = self._window, Counter()
            self._window_start = now
            latencies = np.asarray(self._latencies_ms, dtype=np.float64)
            stages = {name: np.asarray(v, dtype=np.float64) for name, v in self._stages.items()}
            total, rejected = Counter(self._total), Counter(self._rejected)
        pairs = [
            ('input_rate_hz', f'{window["input"] / elapsed:.2f}'),
            ('output_rate_hz', f'{window["output"] / elapsed:.2f}'),
            ('detection_rate', f'{window["detected"] / max(window["output"], 1):.3f}'),
        ]
        # Two hands (the node counts each side then): how often each side is found.
        pairs += [(f'{side}_detection_rate',
                   f'{window[f"detected_{side}"] / max(window["output"], 1):.3f}')
                  for side in ('left', 'right') if f'detected_{side}' in total]
        if latencies.size:
            p50, p95, p99 = np.percentile(latencies, [50, 95, 99])
            pairs += [('latency_p50_ms', f'{p50:.2f}'), ('latency_p95_ms', f'{p95:.2f}'),
                      ('latency_p99_ms', f'{p99:.2f}')]
        for name, values in sorted(stages.items()):
            pairs.append((f'{name}_p50_ms', f'{np.percentile(values, 50):.2f}'))
        pairs += [(f'{key}_total', str(total[key]))
                  for key in ('input', 'output', 'detected', 'dropped', 'rejected', 'empty_depth')]
        if total['bad_transform']:  # malformed TF from other nodes (target_frame only)
            pairs.append(('bad_transform_total', str(total['bad_transform'])))
        pairs += [(f'rejected_{reason}', str(n)) for reason, n in sorted(rejected.items())]
        return pairs, dict(window)


def health(active: bool, has_camera_info: bool, window: Dict[str, int],
           silent: Sequence[str] = ()) -> Tuple[bool, str]:
    """``(ok, message)`` of the node's diagnostic status: not ok while inactive, while an input
    is silent, before any camera info, when frames were rejected or dropped in the period, or
    when none came in.

    :param active: a model is loaded and frames are answered
    :param has_camera_info: a valid camera info has arrived
    :param window: the period's counts (:meth:`NodeStats.report`)
    :param silent: one line per input silent for too long (they name the topics)
    """
    if not active:
        return False, 'inactive: no model loaded'
    if silent:
        return False, '; '.join(silent)
    if not has_camera_info:
        return False, 'no camera info received yet'
    rejected, dropped = window.get('rejected', 0), window.get('dropped', 0)
    if rejected or dropped:
        return False, f'{rejected} rejected, {dropped} dropped in the last period'
    if not window.get('input', 0):
        return False, 'no depth images'
    return True, 'running'


class Throttle:
    """Per-key rate limit for log messages: at most one per ``period_s`` per key."""

    def __init__(self, period_s: float = 5.0) -> None:
        self.period_s = period_s
        self._last: Dict[str, float] = {}
        self._suppressed = Counter()
        self._lock = threading.Lock()

    def ready(self, key: str) -> Tuple[bool, int]:
        """``(log now?, messages suppressed since the last one)``."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.period_s:
                self._suppressed[key] += 1
                return False, 0
            self._last[key] = now
            return True, self._suppressed.pop(key, 0)
