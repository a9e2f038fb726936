"""Up to ``max_hands`` hands per frame: one :class:`~crossinfonet_ros.pipeline.HandPosePipeline`
per track, all on one estimator.

The tracks that hold a hand go first, nearest first, each segmented on the depth with the
other hands cut out where they are expected (bones and forearm, :mod:`crossinfonet_ros.hand_mask`),
all their crops in one network run; then a free track looks for a new hand in what the found
hands leave. So a track never takes another's hand, a hand leaving does not disturb the other,
and two crops of one hand (or a hand and its own forearm) count once. Two hands of one person
have two sides: with ``handedness='auto'`` a new hand found beside a tracked one, or a tracked
hand found again, is given the side the other leaves (and a hand still voting on its side
keeps the one it has); two hands found in one frame each decide their side, and when both
claim the same one the hand with the weaker evidence takes the other. While a hand is tracked,
a free track searches every ``search_every`` frames only (a search runs a batch of candidate
crops through the network).
"""

from dataclasses import dataclass, field, replace
import time
from typing import Dict, List, Optional, Tuple

import numpy as np

from crossinfonet_ros.camera import Intrinsics
from crossinfonet_ros.estimator import Estimate, HandPoseEstimator
from crossinfonet_ros.frame_buffers import FrameBuffers
from crossinfonet_ros.hand_mask import cut_out_hand
from crossinfonet_ros.mirror import SIDES
from crossinfonet_ros.pipeline import TIMED_STAGES, HandPosePipeline, HandResult, \
    PipelineConfig, estimate_crops

MAX_HANDS = 2
# With one hand tracked, the other is looked for every this many frames: picked up within
# 50 ms at 60 Hz, at a third of the cost of a search on every frame.
SEARCH_EVERY = 3
# A hand newly found beside another must score at least this (mean heat-map confidence): the
# person's head or body beside a real hand passes the hand classifier more often than a lone
# object does. Every true second hand found afresh on seed 9100's two-hand renders (192)
# scored >= 0.363 with the shipped weights, 29 false ones 0.43 (median); a head on real SR305
# frames 0.17-0.39 (docs/detection.md). The scale is the weights': 0 turns it off.
SECOND_HAND_SCORE = 0.35


@dataclass(frozen=True, eq=False)
class HandsResult:
    """The hands found in one frame."""

    hands: Tuple[HandResult, ...] = ()  # the hands found, left before right (then by track id)
    # The hand for a one-hand interface (HandPose on hand_pose): the one tracked longest (lowest
    # track id), or, when there is none, the first track's result (it says why).
    primary: HandResult = field(default_factory=lambda: HandResult(False))
    timings_ms: Dict[str, float] = field(default_factory=dict)  # TIMED_STAGES, all tracks

    @property
    def reason(self) -> str:
        """Why no hand was found ('' when one was)."""
        return self.primary.reason


class HandsPipeline:
    """Per-frame processing of up to ``max_hands`` tracked hands around one estimator."""

    def __init__(self, estimator: HandPoseEstimator, config: PipelineConfig,
                 max_hands: int = 1, search_every: int = SEARCH_EVERY,
                 second_hand_score: float = SECOND_HAND_SCORE) -> None:
        """:raises ValueError: ``max_hands`` not in 1..2, ``second_hand_score`` not in [0, 1),
        or the pipeline's own reasons"""
        if not 0.0 <= second_hand_score < 1.0:
            raise ValueError(f'second_hand_score must be in [0, 1), got {second_hand_score}')
        self.second_hand_score = second_hand_score
        if not 1 <= max_hands <= MAX_HANDS:
            raise ValueError(f'max_hands must be 1 or {MAX_HANDS}, got {max_hands}')
        if search_every < 1:
            raise ValueError(f'search_every must be at least 1, got {search_every}')
        self.tracks = [HandPosePipeline(estimator, config) for _ in range(max_hands)]
        self.search_every = search_every
        self._ids = [0] * max_hands  # each track's hand, 0 while it holds none
        self._next_id = 1
        self._frame = 0
        self._buffers = FrameBuffers()  # the depth with the found hands cut out

    # What a one-track pipeline tells about itself (the node reads these).
    estimator = property(lambda self: self.tracks[0].estimator)
    config = property(lambda self: self.tracks[0].config)
    layout = property(lambda self: self.tracks[0].layout)
    output_layout_name = property(lambda self: self.tracks[0].output_layout_name)

    @property
    def max_hands(self) -> int:
        """Tracks, the most hands a frame can give."""
        return len(self.tracks)

    def reset(self) -> None:
        """Forget every track."""
        for track in self.tracks:
            track.reset()
        self._ids = [0] * len(self.tracks)

    def process(self, depth_mm: np.ndarray, intrinsics: Intrinsics, time_s: float
                ) -> HandsResult:
        """Find, estimate and track the hands in one frame.

        :param depth_mm: (H, W) depth in mm matching ``intrinsics`` (not changed)
        :param intrinsics: the camera
        :param time_s: the frame's time stamp, s (for the filter)
        """
        self._frame += 1
        timings = dict.fromkeys(TIMED_STAGES, 0.0)
        # Nearest hand first: a hand in front of another would take its track's segmentation.
        holding = sorted((i for i, track in enumerate(self.tracks) if track.holds_hand),
                         key=lambda i: self.tracks[i].seed_mm[2])
        free = [i for i in range(len(self.tracks)) if i not in holding]
        found: List[HandResult] = []
        results: Dict[int, HandResult] = {}
        self._track(holding, depth_mm, intrinsics, time_s, found, results, timings)
        # A free track looks for a new hand in what the found ones leave, unless a track that
        # lost its hand has just searched and found none.
        if free and all(results[i].detected for i in holding) and \
                (not found or self._frame % self.search_every == 0):
            self._search(free, depth_mm, intrinsics, time_s, found, results, timings)
        hands = tuple(sorted(found, key=lambda hand: (hand.handedness != 'left', hand.track_id)))
        primary = (min(found, key=lambda hand: hand.track_id) if found
                   else results[(holding + free)[0]])
        return HandsResult(hands, replace(primary, timings_ms=timings), timings)

    def _track(self, holding: List[int], depth_mm: np.ndarray, intrinsics: Intrinsics,
               time_s: float, found: List[HandResult], results: Dict[int, HandResult],
               timings: dict) -> None:
        """The tracks ``holding`` hands, in that order: each segmented without the others
        (where the network will find them: last frame's joints, moved as their segmentation
        moved when it already ran), then all their crops through the network in one run."""
        steps = []
        for position, index in enumerate(holding):
            others = [self.tracks[i].expected_joints_mm(step) for i, step in zip(holding, steps)]
            others += [self.tracks[i].expected_joints_mm() for i in holding[position + 1:]]
            work = self._without(depth_mm, others, intrinsics, timings, f'track{position}')
            steps.append(self.tracks[index].begin(work, intrinsics,
                                                  steps[0].frame.plane if steps else None,
                                                  time_s))
        batches = self._estimate_together(steps, timings)
        for position, (index, step, batch) in enumerate(zip(holding, steps, batches)):
            # Lost and found again in this frame: the side left by the hands found and by
            # those still tracked.
            taken = [hand.handedness for hand in found]
            taken += [self.tracks[i].side for i in holding[position + 1:]]
            result = self.tracks[index].finish(step, batch, time_s, self._new_side(taken))
            self._keep(index, result, found, results, timings)

    def _search(self, free: List[int], depth_mm: np.ndarray, intrinsics: Intrinsics,
                time_s: float, found: List[HandResult], results: Dict[int, HandResult],
                timings: dict) -> None:
        """The ``free`` tracks look for new hands, one after the other, each without the
        hands found before it. Beside a hand found afresh in this frame (``handedness`` auto)
        the new hand decides its own side too; should both claim one side, the hand with the
        weaker evidence takes the other (:meth:`_settle_pair`)."""
        seen = depth_mm
        work = self._without(depth_mm, [hand.native_m * 1000.0 for hand in found], intrinsics,
                             timings, 'search')
        for index in free:
            open_pair = self._open_side(found)
            new_side = None if open_pair else self._new_side([h.handedness for h in found])
            result = self.tracks[index].process(work, intrinsics, time_s, new_side)
            if found and result.detected and result.hand_score < self.second_hand_score:
                self.tracks[index].reset()
                result = replace(HandResult(False, f'a second hand not hand-like enough (score '
                                                   f'{result.hand_score:.2f} < '
                                                   f'{self.second_hand_score:.2f})'),
                                 timings_ms=result.timings_ms)
            if open_pair and result.detected and result.handedness == open_pair.handedness:
                result = self._settle_pair(open_pair, seen, index, result, work, intrinsics,
                                           time_s, found, results)
            if not self._keep(index, result, found, results, timings):
                break  # the next search would look at the same depth
            if len(found) > 1:  # a pair now: no track's side changes on its own any more
                for track in self.tracks:
                    track.end_side_vote()
            if index != free[-1]:
                seen = work
                work = self._without(work, [result.native_m * 1000.0], intrinsics, timings,
                                     'search')

    def _open_side(self, found: List[HandResult]) -> Optional[HandResult]:
        """The one hand found so far when its side is still open ('auto', found afresh in this
        frame); None otherwise."""
        if len(found) != 1 or self.config.handedness != 'auto':
            return None
        return found[0] if not found[0].tracked else None

    def _settle_pair(self, first: HandResult, first_depth: np.ndarray, index: int,
                     second: HandResult, second_depth: np.ndarray, intrinsics: Intrinsics,
                     time_s: float, found: List[HandResult],
                     results: Dict[int, HandResult]) -> HandResult:
        """Both hands of a pair found afresh claim one side: the one with the weaker side
        evidence (its left and right views' surface fits) takes the other, the second hand by
        a new search as that side, the first by its crop run again as it. Returns the second
        hand's result; the first's is replaced in ``found`` (or dropped, if it failed)."""
        other = next(side for side in SIDES if side != second.handedness)
        first_index = self._ids.index(first.track_id)
        first_track, second_track = self.tracks[first_index], self.tracks[index]
        if abs(second_track.side_evidence_mm) <= abs(first_track.side_evidence_mm):
            # The search again as the side left over (as without a pair decision).
            second_track.reset()
            again = second_track.process(second_depth, intrinsics, time_s, other)
            return _with_timings(again, second.timings_ms)
        retaken = first_track.retake_side(first_depth, intrinsics, time_s, other,
                                          first.hand_probability)
        if retaken.detected:
            found[found.index(first)] = results[first_index] = replace(
                retaken, track_id=first.track_id, timings_ms={})
        else:
            found.remove(first)
            self._ids[first_index] = 0
            results[first_index] = retaken
        return _with_timings(second, retaken.timings_ms)  # counted once, with the second's

    def _estimate_together(self, steps: list, timings: dict) -> List[Optional[Estimate]]:
        """Each step's share of one network run over all their crops (None: it has none)."""
        crops = [crop for step in steps for crop in step.crops]
        if not crops:
            return [None] * len(steps)
        batch = estimate_crops(self.estimator, crops, timings)
        shares, start = [], 0
        for step in steps:
            count = len(step.cropped)
            shares.append(batch.part(start, start + count) if count else None)
            start += count
        return shares

    def _keep(self, index: int, result: HandResult, found: List[HandResult],
              results: Dict[int, HandResult], timings: dict) -> bool:
        """Record track ``index``'s result (a hand another track holds is none); True when it
        found a hand, which is then in ``found`` with its track id."""
        for stage, ms in result.timings_ms.items():
            timings[stage] = timings.get(stage, 0.0) + ms
        track = self.tracks[index]
        if result.detected and any(_same_hand(result, other) for other in found):
            track.reset()
            result = HandResult(False, 'the same hand as another track')
        if not result.detected:
            self._ids[index] = 0
            results[index] = result
            return False
        if not result.tracked or not self._ids[index]:  # found afresh: a new hand
            self._ids[index], self._next_id = self._next_id, self._next_id + 1
        result = replace(result, track_id=self._ids[index])
        found.append(result)
        results[index] = result
        return True

    def _new_side(self, taken: List[Optional[str]]) -> Optional[str]:
        """The side a new hand must have: the other one of a hand's side ``taken`` ('auto'
        only: a fixed ``handedness`` holds for every hand)."""
        taken = [side for side in taken if side]
        if not taken or self.config.handedness != 'auto':
            return None
        return next(side for side in SIDES if side != taken[0])

    def _without(self, depth_mm: np.ndarray, hands_mm: list, intrinsics: Intrinsics,
                 timings: dict, name: str) -> np.ndarray:
        """``depth_mm`` without the hands at ``hands_mm`` (native joints, mm; None: skipped),
        in the reused array ``name`` (``depth_mm`` itself when there is nothing to cut)."""
        hands_mm = [joints for joints in hands_mm if joints is not None]
        if not hands_mm:
            return depth_mm
        started = time.perf_counter()
        work = self._buffers.take(f'without_{name}', depth_mm.shape, depth_mm.dtype)
        if work is not depth_mm:
            np.copyto(work, depth_mm)
        layout = self.layout
        for joints in hands_mm:
            cut_out_hand(work, intrinsics, joints, layout.edges, layout.wrist,
                         layout.palm_center(joints))
        timings['segment'] += (time.perf_counter() - started) * 1e3
        return work


def _with_timings(result: HandResult, more: Dict[str, float]) -> HandResult:
    """``result`` with ``more`` stage times added to its own."""
    timings = dict(result.timings_ms)
    for stage, ms in more.items():
        timings[stage] = timings.get(stage, 0.0) + ms
    return replace(result, timings_ms=timings)


def _same_hand(a: HandResult, b: HandResult) -> bool:
    """Two results whose crop centres are within half a cube of each other: one hand."""
    gap = np.linalg.norm(np.subtract(a.center_m, b.center_m))
    return bool(gap < 0.5 * max(a.cube_m, b.cube_m))
