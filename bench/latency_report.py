"""Figures of one node-latency run (bench_node_latency.py), from what the benchmark recorded:
percentiles, the backlog check, whether the node worked on the newest frame, and the per-stage
budget of the median frame. ROS-free, so it is tested without a node."""

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

# The node's stages in the order a frame meets them (keys ``<stage>_p50_ms`` of its
# /diagnostics); 'input_age' is stamp -> reception, the others are its own processing.
NODE_STAGES = ('queue', 'convert', 'segment', 'crop', 'network', 'decode')
# The budget of the median frame, publish -> HandPose received, in that order.
BUDGET = ('transport',) + NODE_STAGES + ('other', 'publish+back')


@dataclass(frozen=True)
class Answer:
    """One HandPose that answered a frame the benchmark sent."""

    index: int  # the frame's position in the stream
    published_ns: int  # wall clock when the frame was published (its header stamp)
    received_ns: int  # wall clock when its HandPose arrived here
    processing_ms: float  # the node's receive -> HandPose publish (HandPose.processing_time)
    detected: bool

    @property
    def latency_ms(self) -> float:
        """Publish -> HandPose received, ms."""
        return (self.received_ns - self.published_ns) * 1e-6

    @property
    def transport_ms(self) -> float:
        """Both DDS legs: the latency less the node's processing, ms."""
        return self.latency_ms - self.processing_ms


def percentiles(values: Sequence[float], points=(50, 95, 99)) -> Tuple[float, ...]:
    """The percentiles of ``values`` (NaN for none)."""
    if not len(values):
        return tuple(float('nan') for _ in points)
    return tuple(float(v) for v in np.percentile(np.asarray(values, dtype=np.float64), points))


def backlog(answers: Sequence[Answer], start_ns: int, seconds: float) -> Tuple[float, float]:
    """Median latency of the frames published in the first second of the stream and in its
    last second, ms: a backlog that grows shows as a last second slower than the first.

    :param start_ns: wall clock at the first frame of the stream
    :param seconds: the stream's length
    """
    end_ns = start_ns + int(seconds * 1e9)
    first = [a.latency_ms for a in answers if a.published_ns < start_ns + 10**9]
    last = [a.latency_ms for a in answers if a.published_ns >= end_ns - 10**9]
    return percentiles(first, (50,))[0], percentiles(last, (50,))[0]


def stale_answers(published_ns: Sequence[int], answers: Sequence[Answer]) -> Tuple[int, int]:
    """``(answers checked, answers of a frame that was not the newest)``.

    The node takes its next frame right after publishing an answer, so a frame published
    before that answer arrived here, less both transport legs (their p99 in this run: the
    frame was surely at the node by then), was waiting; the next frame answered must be it or
    a newer one. An answer of an older frame, or one arriving out of order, is stale.

    :param published_ns: wall clock at publication of every frame sent, by index
    :param answers: the answers, in any order
    """
    ordered = sorted(answers, key=lambda a: a.received_ns)
    if len(ordered) < 2:
        return 0, 0
    margin_ns = percentiles([a.transport_ms for a in ordered], (99,))[0] * 1e6
    times = np.asarray(published_ns, dtype=np.int64)
    stale = 0
    for previous, answer in zip(ordered, ordered[1:]):
        waiting = int(np.searchsorted(times, previous.received_ns - margin_ns, 'right')) - 1
        stale += answer.index < max(waiting, previous.index + 1)
    return len(ordered) - 1, stale


def budget(answers: Sequence[Answer], node: Dict[str, str]) -> Dict[str, Optional[float]]:
    """Where the median frame's milliseconds go, publish -> HandPose received (:data:`BUDGET`;
    None where the node did not report a stage).

    ``transport`` is the node's stamp -> reception age (the benchmark stamps at publication);
    the node's stages are its /diagnostics medians; ``other`` is the node's median processing
    (reception -> HandPose publish) less those stages (camera info lookup, scoring, the
    result, messages); ``publish+back`` is the median of both DDS legs less ``transport``: the
    HandPose publish and its way back. Medians do not add exactly: compare ``sum`` with the
    median latency.

    :param node: key/values of the node's last /diagnostics status
    """
    def stage(key: str) -> Optional[float]:
        value = node.get(f'{key}_p50_ms')
        return float(value) if value is not None else None

    parts: Dict[str, Optional[float]] = {'transport': stage('input_age')}
    parts.update((name, stage(name)) for name in NODE_STAGES)
    processing, = percentiles([a.processing_ms for a in answers], (50,))
    both_legs, = percentiles([a.transport_ms for a in answers], (50,))
    named = [parts[name] for name in NODE_STAGES]
    parts['other'] = None if None in named else processing - sum(named)
    parts['publish+back'] = (None if parts['transport'] is None
                             else both_legs - parts['transport'])
    parts['sum'] = sum(v for v in parts.values() if v is not None)
    return parts


def summary(answers: Sequence[Answer], published_ns: Sequence[int], seconds: float,
            node: Dict[str, str]) -> dict:
    """The run's figures as plain data (the JSON bench_latency_table.py reads).

    :param published_ns: wall clock at publication of every frame sent, by index
    :param node: key/values of the node's last /diagnostics status ({} when none came)
    """
    latencies = [a.latency_ms for a in answers]
    p50, p95, p99 = percentiles(latencies)
    first, last = backlog(answers, published_ns[0], seconds) if published_ns else (None, None)
    checked, stale = stale_answers(published_ns, answers)
    span_s = (max(a.received_ns for a in answers) - published_ns[0]) * 1e-9 if answers else 0
    return {
        'sent': len(published_ns), 'answered': len(answers),
        'detected': sum(a.detected for a in answers),
        'output_rate_hz': len(answers) / span_s if span_s > 0 else 0.0,
        'p50_ms': p50, 'p95_ms': p95, 'p99_ms': p99,
        'max_ms': max(latencies) if latencies else float('nan'),
        'first_second_p50_ms': first, 'last_second_p50_ms': last,
        'newest_checked': checked, 'stale': stale,
        'missed': sorted(set(range(len(published_ns))) - {a.index for a in answers}),
        'budget_ms': budget(answers, node) if answers else {},
    }


def report_lines(figures: dict) -> List[str]:
    """The run's figures in words (what bench_node_latency.py prints)."""
    lines = [f'answered: {figures["answered"]} / {figures["sent"]}  detected: '
             f'{figures["detected"]}  output rate: {figures["output_rate_hz"]:.1f} Hz']
    if figures['answered']:
        lines.append(f'latency image publish -> HandPose received, ms: p50 '
                     f'{figures["p50_ms"]:.1f}  p95 {figures["p95_ms"]:.1f}  p99 '
                     f'{figures["p99_ms"]:.1f}  max {figures["max_ms"]:.1f}')
        lines.append(f'backlog: p50 of the frames of the first second '
                     f'{figures["first_second_p50_ms"]:.1f} ms, of the last second '
                     f'{figures["last_second_p50_ms"]:.1f} ms')
        lines.append(f'newest frame processed: {figures["newest_checked"] - figures["stale"]} '
                     f'of {figures["newest_checked"]} answers (stale: {figures["stale"]})')
        parts = figures['budget_ms']
        lines.append('budget of the median frame, ms: ' + '  '.join(
            f'{name} {"-" if parts.get(name) is None else f"{parts[name]:.2f}"}'
            for name in BUDGET + ('sum',)))
    return lines
