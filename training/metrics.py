"""Hand pose evaluation metrics and the public kits' prediction file format (spec 6.1, 3.8).

* mean 3D joint error: mean over frames and joints of the Euclidean distance, mm (NaN-aware,
  as ``getMeanError``'s nanmean);
* per-joint error: mean over frames;
* success-frame curve: fraction of frames whose MAXIMUM joint error is <= t ("max-frame" metric
  of the awesome-hand-pose-estimation kit), t = 0..80 mm. Frames without a prediction (hand not
  detected) count as failures at every threshold.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Optional, Union

import numpy as np

PathLike = Union[str, os.PathLike]
# Thresholds of the success-frame curve: 0..80 mm in 1 mm steps (spec 6.1).
CURVE_THRESHOLDS_MM = np.arange(0.0, 81.0, 1.0)


def joint_errors(predicted_mm: np.ndarray, truth_mm: np.ndarray) -> np.ndarray:
    """Euclidean error of every joint of every frame.

    :param predicted_mm: (N, A, 3) predictions in mm (NaN rows: no prediction)
    :param truth_mm: (N, A, 3) ground truth in mm
    :return: (N, A) errors in mm (NaN where the prediction is NaN)
    """
    predicted = np.asarray(predicted_mm, dtype=np.float64)
    truth = np.asarray(truth_mm, dtype=np.float64)
    if predicted.shape != truth.shape or predicted.ndim != 3 or predicted.shape[-1] != 3:
        raise ValueError(f'predictions {predicted.shape} and ground truth {truth.shape} must'
                         f' both be (N, A, 3)')
    return np.linalg.norm(predicted - truth, axis=-1)


def success_curve(errors_mm: np.ndarray,
                  thresholds_mm: np.ndarray = CURVE_THRESHOLDS_MM) -> np.ndarray:
    """Fraction of frames whose maximum joint error is <= each threshold.

    :param errors_mm: (N, A) joint errors; a frame with any NaN counts as a failure
    :param thresholds_mm: (T,) thresholds in mm
    :return: (T,) fractions in [0, 1]
    """
    errors = np.asarray(errors_mm, dtype=np.float64)
    if len(errors) == 0:
        return np.zeros(len(thresholds_mm))
    worst = np.where(np.isnan(errors).any(axis=1), np.inf, np.nan_to_num(errors).max(axis=1))
    return (worst[:, None] <= np.asarray(thresholds_mm)[None, :]).mean(axis=0)


def summarize(errors_mm: np.ndarray, joint_names: Optional[tuple] = None,
              thresholds_mm: np.ndarray = CURVE_THRESHOLDS_MM) -> Dict[str, object]:
    """All metrics of one evaluation as JSON-safe values.

    :param errors_mm: (N, A) joint errors, NaN rows for frames without a prediction
    :param joint_names: names for the per-joint table (default: indices)
    :param thresholds_mm: curve thresholds
    :return: ``frames``, ``failures`` (frames without a prediction), ``mean_error_mm`` (over
        predicted frames), ``per_joint_error_mm`` {name: mm}, ``max_error_mean_mm``,
        ``success_curve`` {'thresholds_mm': [...], 'fraction': [...]}
    """
    errors = np.asarray(errors_mm, dtype=np.float64)
    failed = np.isnan(errors).any(axis=1) if errors.size else np.zeros(len(errors), bool)
    good = errors[~failed]
    names = joint_names or tuple(str(i) for i in range(errors.shape[1]))
    per_joint = good.mean(axis=0) if len(good) else np.full(errors.shape[1], np.nan)
    curve = success_curve(errors, thresholds_mm)
    return {
        'frames': int(len(errors)),
        'failures': int(failed.sum()),
        'mean_error_mm': _finite(good.mean()) if len(good) else None,
        'max_error_mean_mm': _finite(good.max(axis=1).mean()) if len(good) else None,
        'per_joint_error_mm': {name: _finite(value) for name, value in zip(names, per_joint)},
        'success_curve': {'thresholds_mm': [float(t) for t in thresholds_mm],
                          'fraction': [float(f) for f in curve]},
    }


def _finite(value: float) -> Optional[float]:
    value = float(value)
    return value if np.isfinite(value) else None


def write_uvd(path: PathLike, uvd: np.ndarray) -> Path:
    """Write predictions in the kits' uvd format: one frame per line, A*3 numbers, 4 decimals.

    :param path: output text file
    :param uvd: (N, A, 3) pixel column, row and depth in mm (NaN rows for failed frames)
    """
    uvd = np.asarray(uvd, dtype=np.float64)
    if uvd.ndim != 3 or uvd.shape[-1] != 3:
        raise ValueError(f'uvd must be (N, A, 3), got {uvd.shape}')
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w') as out:
        for frame in uvd.reshape(len(uvd), -1):
            out.write(' '.join(f'{value:.4f}' for value in frame) + '\n')
    return path


def read_uvd(path: PathLike, num_joints: int) -> np.ndarray:
    """Read a uvd prediction file written by :func:`write_uvd` (or a kit's file).

    :param path: the text file
    :param num_joints: A, joints per frame
    :return: (N, A, 3) float64
    :raises ValueError: a line without A*3 numbers, naming the file and line
    """
    rows = []
    with open(path) as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            values = line.split()
            if len(values) != 3 * num_joints:
                raise ValueError(f'{path}:{number}: expected {3 * num_joints} numbers,'
                                 f' found {len(values)}')
            rows.append([float(value) for value in values])
    return np.asarray(rows, dtype=np.float64).reshape(-1, num_joints, 3)
