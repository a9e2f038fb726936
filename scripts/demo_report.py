"""The demo's figures: frames answered, detection, joint error, latency; printed and as JSON.

Error figures need ground truth (the synthetic stream has it, a user's bag does not): without
it they are ``null`` in the JSON and printed as ``n/a``.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from demo_input import Stamp

# Share of frames whose worst joint is within this distance: one point of the success-frame
# curve (spec 6.1, max joint error <= threshold, 0-80 mm); 40 mm is this report's choice.
MAX_ERROR_THRESHOLD_MM = 40.0
TRUTH_LAYOUT = 'hands2017'  # joint order of the synthetic ground truth (training.synth)


@dataclass(frozen=True)
class FrameResult:
    """One answered frame, decoded."""

    stamp: Stamp  # header stamp of the input frame
    detected: bool  # a hand was found
    layout: str  # joint order of ``predicted_mm``
    predicted_mm: Optional[np.ndarray]  # (J, 3) joints, camera optical frame, mm; None if not
    truth_mm: Optional[np.ndarray]  # (J, 3) ground truth, mm; None without ground truth
    center_mm: Optional[np.ndarray]  # (3,) crop centre the network saw, mm
    cube_mm: float  # crop cube side, mm

    @property
    def error_mm(self) -> Optional[np.ndarray]:
        """(J,) joint errors, mm, when prediction and ground truth share a joint order."""
        if (self.predicted_mm is None or self.truth_mm is None or self.layout != TRUTH_LAYOUT
                or self.predicted_mm.shape != self.truth_mm.shape):
            return None
        return np.linalg.norm(self.predicted_mm - self.truth_mm, axis=1)


def frame_result(pose, truth_m: Optional[np.ndarray]) -> FrameResult:
    """Decode one HandPose (metres) into a :class:`FrameResult` (mm).

    :param pose: a crossinfonet_ros.msg.HandPose
    :param truth_m: (J, 3) ground truth of the frame in metres, or None
    """
    predicted = center = None
    if pose.detected:
        predicted = 1000.0 * np.array([[p.x, p.y, p.z] for p in pose.positions]).reshape(-1, 3)
        center = 1000.0 * np.array([pose.crop_center.x, pose.crop_center.y, pose.crop_center.z])
    return FrameResult((pose.header.stamp.sec, pose.header.stamp.nanosec), bool(pose.detected),
                       pose.layout, predicted, None if truth_m is None else 1000.0 * truth_m,
                       center, 1000.0 * float(pose.cube_size))


def _percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def _percentile(values: np.ndarray, q: float) -> Optional[float]:
    return float(np.percentile(values, q)) if len(values) else None


def compute_figures(stamps: List[Stamp], results: Dict[Stamp, FrameResult],
                    latencies_ms: np.ndarray, has_truth: bool) -> dict:
    """The report's figures over the frames sent.

    :param stamps: header stamps of the depth frames sent, in order
    :param results: the node's answers by stamp
    :param latencies_ms: publish-to-receive time of each answer
    :param has_truth: whether the stream carries ground truth (error figures or null)
    """
    answered = [results[s] for s in stamps if s in results]
    detected = [r for r in answered if r.detected]
    errors = [r.error_mm for r in detected if r.error_mm is not None]
    figures = {
        'frames_in': len(stamps),
        'frames_answered': len(answered),
        'answered_percent': _percent(len(answered), len(stamps)),
        'frames_detected': len(detected),
        'detection_percent': _percent(len(detected), len(answered)),
        'mean_joint_error_mm': None,
        f'frames_max_error_under_{MAX_ERROR_THRESHOLD_MM:g}mm_percent': None,
        'frames_with_error': len(errors),
        'latency_ms_p50': _percentile(latencies_ms, 50),
        'latency_ms_p95': _percentile(latencies_ms, 95),
    }
    if has_truth and errors:
        stacked = np.stack(errors)
        figures['mean_joint_error_mm'] = float(stacked.mean())
        figures[f'frames_max_error_under_{MAX_ERROR_THRESHOLD_MM:g}mm_percent'] = float(
            100.0 * np.mean(stacked.max(axis=1) <= MAX_ERROR_THRESHOLD_MM))
    return figures


def _format(value) -> str:
    if value is None:
        return 'n/a'
    if isinstance(value, float):
        return 'n/a' if not np.isfinite(value) else f'{value:.1f}'
    return str(value)


def write_report(path: Path, report: dict) -> None:
    """Write the report as JSON (NaN as null, so any JSON reader takes it).

    :param path: the JSON file
    :param report: figures and context (str, numbers, None, lists, dicts)
    """
    def clean(value):
        if isinstance(value, float) and not np.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value
    path.write_text(json.dumps(clean(report), indent=2) + '\n', encoding='utf-8')


def print_report(report: dict) -> None:
    """Print the report, one ``name  value`` line per figure, the output files last."""
    print(f'[demo] report (also in {report["outputs"]["report"]}):')
    for key, value in report.items():
        if key == 'outputs':
            continue
        print(f'  {key:42s} {_format(value)}')
    print('[demo] outputs:')
    for key, value in report['outputs'].items():
        print(f'  {key:42s} {value}')
