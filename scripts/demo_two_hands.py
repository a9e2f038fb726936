"""The demo's two-hand figures and tiles, from the node's HandPoseArray answers on ``/hands``.

A hand counts for the true hand of its label within ``NEAR_MM`` (the scoring of
``python -m training.evaluate --dataset two_hands``): per side the share of frames in which it
was found, its mean joint error there and its side swaps; hands near neither are false hands.
Without ground truth the figures are the share of frames with each side and with both.
"""

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from demo_figures import SheetFrame, layout_edges
from demo_input import TRUTH_SIDES, Stamp
from demo_report import TRUTH_LAYOUT, _percent, _percentile
from training.evaluate_two_hands import NEAR_MM, both_found_share, match_hands, side_figures

TILE_CUBE_MM = 500.0  # a two-hand tile shows this cube around the hands' middle (both in it)

Hand = Tuple[str, np.ndarray, str]  # (side, (J, 3) joints in mm, layout)


def array_hands(array) -> List[Hand]:
    """The detected hands of one HandPoseArray, joints in mm."""
    return [(pose.handedness, 1000.0 * np.array([[p.x, p.y, p.z] for p in pose.positions]),
             pose.layout) for pose in array.hands if pose.detected]


def split_truth(truth_mm: np.ndarray) -> Dict[str, np.ndarray]:
    """A two-hand bag's ground truth (:data:`~demo_input.TRUTH_SIDES` in turn) per side."""
    return dict(zip(TRUTH_SIDES, np.split(truth_mm, len(TRUTH_SIDES))))


def two_hand_figures(stamps: List[Stamp], arrays: Dict[Stamp, List[Hand]],
                     truth_mm: Dict[Stamp, np.ndarray], latencies_ms: np.ndarray) -> dict:
    """The report's two-hand figures over the frames sent.

    :param stamps: header stamps of the depth frames sent, in order
    :param arrays: the hands of each answered frame, by stamp
    :param truth_mm: (2J, 3) ground truth by stamp (frames without it are not scored)
    :param latencies_ms: publish-to-receive time of each HandPoseArray
    """
    answered = [s for s in stamps if s in arrays]
    figures = {
        'hands_frames_answered': len(answered),
        'hands_answered_percent': _percent(len(answered), len(stamps)),
        'hands_latency_ms_p50': _percentile(latencies_ms, 50),
        'hands_latency_ms_p95': _percentile(latencies_ms, 95),
    }
    for side in TRUTH_SIDES:
        with_side = sum(any(hand[0] == side for hand in arrays[s]) for s in answered)
        figures[f'frames_with_{side}_hand_percent'] = _percent(with_side, len(answered))
    scored = [s for s in answered if s in truth_mm
              and all(hand[2] == TRUTH_LAYOUT for hand in arrays[s])]
    if not scored:
        return figures
    rows, false_hands = [], 0
    for stamp in scored:
        row, extra = match_hands([hand[:2] for hand in arrays[stamp]],
                                 split_truth(truth_mm[stamp]))
        rows.append(row)
        false_hands += extra
    figures['both_hands_found_percent'] = 100.0 * both_found_share(rows)
    for side, row in side_figures(rows).items():
        figures[f'{side}_found_percent'] = 100.0 * row['found_share']
        figures[f'{side}_mean_joint_error_mm'] = row['mean_error_mm']
        figures[f'{side}_side_swaps'] = row['side_swaps']
    figures['false_hands'] = false_hands
    figures['hand_match_mm'] = NEAR_MM
    return figures


def _stacked(hands: Sequence[Tuple[np.ndarray, Sequence[Tuple[int, int]]]]):
    """Several skeletons as one: joints stacked, each one's bones shifted to its joints."""
    if not hands:
        return None, ()
    joints, edges, offset = [], [], 0
    for hand_joints, hand_edges in hands:
        joints.append(hand_joints)
        edges += [(a + offset, b + offset) for a, b in hand_edges]
        offset += len(hand_joints)
    return np.concatenate(joints), tuple(edges)


def sheet_frame(index: int, depth_mm: np.ndarray, intrinsics, hands: Optional[List[Hand]],
                truth_mm: Optional[np.ndarray]) -> SheetFrame:
    """A contact-sheet tile of both hands: the depth around their middle, every skeleton.

    :param hands: the frame's hands, None when it was not answered
    :param truth_mm: its (2J, 3) ground truth, or None
    """
    predicted, predicted_edges = _stacked([(joints, layout_edges(layout))
                                           for _, joints, layout in hands or ()])
    truth_edges = layout_edges(TRUTH_LAYOUT)
    truth, truth_all_edges = (None, ()) if truth_mm is None else _stacked(
        [(joints, truth_edges) for joints in split_truth(truth_mm).values()])
    shown = truth if truth is not None else predicted
    center = None if shown is None else (shown.min(axis=0) + shown.max(axis=0)) / 2
    return SheetFrame(index, depth_mm, intrinsics, predicted, predicted_edges, truth,
                      truth_all_edges, center, TILE_CUBE_MM,
                      f'#{index}  {_caption(hands, truth_mm)}')


def _caption(hands: Optional[List[Hand]], truth_mm: Optional[np.ndarray]) -> str:
    """'no answer', 'no hand', the sides found ('L R') or each side's error ('L 12 R -')."""
    if hands is None:
        return 'no answer'
    if not hands:
        return 'no hand'
    if truth_mm is None or any(hand[2] != TRUTH_LAYOUT for hand in hands):
        return ' '.join(side[0].upper() for side, _, _ in hands)
    row, _ = match_hands([hand[:2] for hand in hands], split_truth(truth_mm))
    return ' '.join(f'{side[0].upper()} {row[side][1]:.0f}' if row[side][0]
                    else f'{side[0].upper()} -' for side in TRUTH_SIDES) + ' mm'
