"""One depth frame in, one hand out: the node's per-frame work without ROS.

segment (track from the previous centre, or detect: candidates nearest object first, with the
ends of each object, all run through the network as one batch, the most hand-like crop kept)
-> crop -> estimate (re-centred on the predicted palm after a fresh detection) -> mm to metres
-> optional One Euro filter -> optional MediaPipe order, plus the wrist pose
(:mod:`crossinfonet_ros.hand_frame`). A hand of the other side than the network's is run
mirrored (:mod:`crossinfonet_ros.mirror`); with ``handedness='auto'`` each fresh detection's
crops run both ways in the same batch and the side whose skeleton fits the surface better
(:mod:`crossinfonet_ros.hand_fit`) is taken, decided again on the re-centred crop; over the new
track's first ``side_vote_frames`` frames both sides keep running and the fits are summed (a
vote), then the side is kept for as long as the track lasts. Never raises on a depth frame of
the camera's size: anything that keeps a hand from being found comes back as
``HandResult(detected=False, reason=...)``."""

from dataclasses import dataclass, field
import time
from typing import Dict, Optional, Tuple

import numpy as np

from crossinfonet_ros.camera import Intrinsics
from crossinfonet_ros.codec import Crop, joints_to_crop_uv
from crossinfonet_ros.estimator import Estimate, HandPoseEstimator
from crossinfonet_ros.frame_buffers import FrameBuffers
from crossinfonet_ros.hand_fit import surface_distance
from crossinfonet_ros.hand_gate import HandGate
from crossinfonet_ros.hand_frame import wrist_pose
from crossinfonet_ros.layouts import MEDIAPIPE_NAMES
from crossinfonet_ros.mirror import HANDEDNESS_MODES, SIDES, check_side, crop_side, \
    mirror_box, side_camera, side_points
from crossinfonet_ros.one_euro import OneEuroFilter
from crossinfonet_ros.planes import Plane
from crossinfonet_ros.segmentation import (Detection, HandDetectorConfig, detect_hand,
                                           detect_hand_candidates, prepare_frame)

_IDENTITY = (0.0, 0.0, 0.0, 1.0)
# Keys of HandResult.timings_ms, ms per frame: 'network' is the estimator's call less its
# decode (batching the crops included), 'decode' de-normalises joints and reads heat-maps.
TIMED_STAGES = ('segment', 'crop', 'network', 'decode')
SIDE_VOTE_MIN_FRAMES = 5  # votes before side_vote_margin_mm may end a vote


@dataclass(frozen=True)
class PipelineConfig:
    """How frames are turned into hands."""

    detector: HandDetectorConfig  # depth band and refinement cube (cube_mm = crop cube)
    tracking: bool = True  # seed from the previous frame's centre
    output_layout: str = 'native'  # 'native' or 'mediapipe21'
    smoothing: bool = False  # One Euro filter on the output joints
    one_euro_min_cutoff: float = 1.0  # Hz
    one_euro_beta: float = 0.5  # 1/m (joints are filtered in metres)
    # The users' hand: 'right', 'left', or 'auto' (decided on each fresh detection, kept by
    # the track; twice the crops on a fresh detection). The network's own side (the
    # weights') runs as is, the other one mirrored. The node's default is 'auto'.
    handedness: str = 'right'
    network_side: str = 'right'  # the side the weights were trained for
    # 'auto': a new track's side is voted on over its first this many frames (both sides
    # through the network on each, their surface fits summed; a second hand beside it ends the
    # vote; 1 = the fresh detection alone decides). Frames given the right side on 40 unseen
    # tracked streams per side: 1 frame 90 / 80 % (right / left), 10: 94 / 90 %, 30: 94 / 95 %
    # (docs/handedness.md).
    side_vote_frames: int = 30
    # The vote's frames are at least this far apart, s (stamps): a vote costs a second network
    # run and two surface fits (~6 ms on 2 cores), more than a 60 Hz frame time has to spare
    # every frame; 30 a second keeps a 30 Hz stream voting on every frame.
    side_vote_interval_s: float = 0.03
    # ... and it ends early once the summed fits differ by this much, mm, after at least
    # SIDE_VOTE_MIN_FRAMES votes (0 = never). Chosen on seed 700's 80 streams (64 full votes):
    # at 40 mm no vote ended on another side than all 30 frames gave, and half its frames
    # were saved (docs/handedness.md).
    side_vote_margin_mm: float = 40.0
    # Re-crops around the predicted palm centre after a fresh detection: the network was
    # trained on crops centred on the palm, and from a crop centred d mm off it predicts the
    # palm only ~0.45 d away from the crop centre (epoch-74 weights, 40 frames), so each pass
    # closes about half the gap. On 60 random cluttered frames (single-frame detection, shipped
    # epoch-74 weights) 1, 2, 3, 4 passes gave 30.5, 28.8, 28.1, 27.7 mm where the palm-centred
    # crop gives 24.1 mm; 2 is the default (one more network run on a fresh detection only).
    refine_passes: int = 2
    # Candidates tried on a fresh detection, in one batched network run (nearest object, both
    # ends of the object it belongs to, then the next objects: detect_hand_candidates);
    # the one whose crop looks most like a hand (mean heat-map confidence) is kept and then
    # re-centred (``refine_passes``), and one reaching
    # ``min_hand_confidence`` is taken at once. The confidence scale depends on the weights:
    # hands scored 0.997 (median) with early weights, 0.40 after 74 epochs, where crops of the
    # wrong object (a table edge, a box, a forearm nearer than the hand) scored 0.12 (median;
    # 90th percentile 0.25; 120 cluttered frames). So by default (1.0) every candidate is
    # compared and no absolute bar is used; set a bar only for weights it was measured on.
    max_candidates: int = 5
    min_hand_confidence: float = 1.0
    # A tracked hand scoring below this is detected afresh in the same frame (a track that has
    # slid onto another object); 0 = off (the default, for the same reason: the scale depends on
    # the weights). A track is always re-detected when the segmentation loses it.
    lost_track_confidence: float = 0.0
    # Hand or not: the kept crop must pass the hand classifier, else detected false
    # (hand_gate.py); the default, without a classifier, takes every crop for a hand.
    hand_gate: HandGate = field(default_factory=HandGate)
    # A fresh detection's candidate whose crops the hand classifier gives less P(hand) than
    # this runs through the network as one side only, not both (0 = off): half the losing
    # candidates score ~0, and a fresh detection without a hand in view costs ~30 % less with
    # the same answers (docs/detection.md).
    candidate_hand_bar: float = 0.05


@dataclass(frozen=True, eq=False)  # eq would compare arrays ambiguously
class HandResult:
    """The hand found in one frame, in metres and the camera frame, or why there is none."""

    detected: bool  # a hand was found and estimated
    reason: str = ''  # why not, when not detected
    joint_names: Tuple[str, ...] = ()  # output order
    positions_m: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # (J, 3) output
    confidence: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # (J,)
    native_m: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # (A, 3) native
    wrist_position_m: Tuple[float, float, float] = (0.0, 0.0, 0.0)  # hand frame origin
    wrist_orientation: Tuple[float, float, float, float] = _IDENTITY  # (x, y, z, w)
    center_m: Tuple[float, float, float] = (0.0, 0.0, 0.0)  # crop cube centre
    cube_m: float = 0.0  # crop cube side
    roi: Tuple[int, int, int, int] = (0, 0, 0, 0)  # (x, y, width, height), clipped to the image
    tracked: bool = False  # centre seeded from the previous frame
    handedness: str = ''  # the hand's side, 'right' or 'left'; '' when not detected
    crop: Optional[Crop] = None  # the network input (for the debug image; mirrored: see below)
    crop_side: str = 'right'  # side whose frame ``crop`` is cut from (mirror.crop_side)
    hand_score: float = 0.0  # mean heat-map confidence of the kept crop, 0..1
    # The kept skeleton's surface distance (hand_fit), mm; inf when not measured (one side).
    surface_fit_mm: float = float('inf')
    hand_probability: float = float('nan')  # the hand gate's P(hand); nan without a classifier
    track_id: int = 0  # the hand's track (hands.py: a new id per newly found hand); 0: none
    timings_ms: Dict[str, float] = field(default_factory=dict)  # TIMED_STAGES, ms

    def crop_joints_uv(self, intrinsics: Intrinsics) -> np.ndarray:
        """The native joints in pixels of ``crop``, the network input (mirrored for a hand of
        the other side than the network's), e.g. to draw them on it.

        :param intrinsics: the camera of the frame processed
        :returns: (A, 2) crop pixel coordinates
        """
        return joints_to_crop_uv(side_points(self.native_m * 1000.0, self.crop_side), self.crop,
                                 side_camera(intrinsics, self.crop_side))


@dataclass(frozen=True, eq=False)
class _Attempt:
    """One candidate's crop and estimate, and how hand-like it is."""

    detection: Detection  # where the hand was looked for
    side: str  # the hand's side this attempt assumed
    crop: Crop  # the last crop around it (mirrored when ``side`` is not the network's)
    joints_mm: np.ndarray  # (A, 3) estimated joints, camera frame, mm
    confidence: np.ndarray  # (A,) per-joint heat-map confidence
    palm_mm: np.ndarray  # (3,) palm centre of that estimate, mm
    score: float  # mean heat-map confidence of the joints, 0..1
    fit_mm: float  # surface distance of the skeleton (hand_fit), mm; inf when not measured


@dataclass(frozen=True, eq=False)
class FrameStep:
    """A frame between :meth:`HandPosePipeline.begin` and :meth:`~HandPosePipeline.finish`:
    segmented, and cropped around the tracked hand (when there is one) for the network."""

    depth_mm: np.ndarray
    intrinsics: Intrinsics
    frame: object  # segmentation.prepare_frame's, reused by a fresh detection
    timings: Dict[str, float]
    cropped: tuple = ()  # (detection, side, crop) of the tracked hand, for one network run
    reason: str = ''  # why the tracked hand could not be cropped
    moved_mm: Optional[np.ndarray] = None  # the tracked hand's segmented move since last frame
    checks: Dict[int, Tuple[float, str]] = field(default_factory=dict)  # id(crop): hand gate's

    @property
    def crops(self) -> list:
        """The network inputs waiting."""
        return [crop for _, _, crop in self.cropped]


def estimate_crops(estimator: HandPoseEstimator, crops: list, timings: dict) -> Estimate:
    """One network run over ``crops``, its time added to ``timings``' 'network' and 'decode'."""
    started = time.perf_counter()
    batch = estimator.estimate(crops)
    decode_ms = batch.timings['decode_ms']  # joints de-normalised, heat-map confidence
    timings['network'] += (time.perf_counter() - started) * 1e3 - decode_ms
    timings['decode'] += decode_ms
    return batch


class HandPosePipeline:
    """Stateful per-frame processing (tracking seed, filter) around one estimator."""

    def __init__(self, estimator: HandPoseEstimator, config: PipelineConfig) -> None:
        """:raises ValueError: mediapipe21 output asked for a layout without MediaPipe joints"""
        if config.handedness not in HANDEDNESS_MODES:
            raise ValueError(f'handedness must be one of {HANDEDNESS_MODES}, got '
                             f'{config.handedness!r}')
        check_side(config.network_side)
        if config.side_vote_frames < 1:
            raise ValueError(f'side_vote_frames must be >= 1, got {config.side_vote_frames}')
        if not 0.0 <= config.candidate_hand_bar < 1.0:
            raise ValueError(f'candidate_hand_bar must be in [0, 1), got '
                             f'{config.candidate_hand_bar}')
        if not config.side_vote_margin_mm >= 0.0:
            raise ValueError(f'side_vote_margin_mm must be >= 0, got {config.side_vote_margin_mm}')
        if not config.side_vote_interval_s >= 0.0:
            raise ValueError(f'side_vote_interval_s must be >= 0, got '
                             f'{config.side_vote_interval_s}')
        self.estimator = estimator
        self.config = config
        self.layout = estimator.layout
        if config.output_layout == 'mediapipe21':
            if self.layout.mediapipe is None:
                raise ValueError(f"output_layout 'mediapipe21' needs a joint layout with "
                                 f"MediaPipe's 21 landmarks; the weights' layout "
                                 f"{self.layout.name!r} has none")
            self.output_index = np.asarray(self.layout.mediapipe)
            self.output_names = MEDIAPIPE_NAMES
            self.output_layout_name = 'mediapipe21'
        else:
            self.output_index = np.arange(self.layout.num_joints)
            self.output_names = self.layout.joint_names
            self.output_layout_name = self.layout.name
        self._filter = (OneEuroFilter(config.one_euro_min_cutoff, config.one_euro_beta)
                        if config.smoothing else None)
        self._seed_mm: Optional[np.ndarray] = None  # last frame's segmented centre of mass
        self._palm_mm: Optional[np.ndarray] = None  # last frame's predicted palm centre
        self._joints_mm: Optional[np.ndarray] = None  # last frame's joints (unfiltered)
        self._side: Optional[str] = None  # the tracked hand's side
        self._fresh_side: Optional[str] = None  # this frame's side of a new hand, when given
        # The track's side vote: summed surface fits, left minus right (mm; > 0: right), and
        # the frames that voted so far.
        self._side_evidence_mm = 0.0
        self._votes = 0
        self._last_vote_s: Optional[float] = None  # the stamp of the last frame that voted
        self._kept: Optional[_Attempt] = None  # the last frame's winning attempt
        # The segmentation's working arrays, reused frame after frame (one frame at a time).
        self._buffers = FrameBuffers()

    @property
    def holds_hand(self) -> bool:
        """The last frame found a hand: the next one starts from it."""
        return self._seed_mm is not None

    @property
    def side(self) -> Optional[str]:
        """The tracked hand's side; None: no hand."""
        return self._side

    @property
    def seed_mm(self) -> Optional[np.ndarray]:
        """Where the next frame's segmentation starts (the tracked hand, mm); None: no hand."""
        return self._seed_mm

    def reset(self) -> None:
        """Forget the tracking seed, the hand's side and the filter history."""
        self._seed_mm = None
        self._palm_mm = None
        self._joints_mm = None
        self._side = None
        self._side_evidence_mm = 0.0
        self._votes = 0
        self._last_vote_s = None
        self._kept = None
        if self._filter is not None:
            self._filter.reset()

    def _segment(self, frame, depth_mm: np.ndarray, intrinsics: Intrinsics, timings: dict,
                 seeded: bool):
        """The tracked detection (seeded) or the fresh candidates, nearest object first, on the
        frame prepared once per image (a lost track then fits the plane once)."""
        started = time.perf_counter()
        if seeded:
            found = detect_hand(depth_mm, intrinsics, self.config.detector, self._seed_mm, frame)
        else:
            found = detect_hand_candidates(depth_mm, intrinsics, self.config.detector,
                                           self.config.max_candidates, frame)
        timings['segment'] += (time.perf_counter() - started) * 1e3
        return found

    def _sides(self, tracked: bool, time_s: Optional[float] = None) -> tuple:
        """The sides to try: the track's (both while a vote is due at ``time_s``), the one
        given for a new hand, the configured one, or both (network's first)."""
        if tracked and self._side is not None:
            return SIDES if self._vote_due(time_s) else (self._side,)
        if self._fresh_side is not None:
            return (self._fresh_side,)
        if self.config.handedness != 'auto':
            return (self.config.handedness,)
        network = self.config.network_side
        return (network,) + tuple(side for side in SIDES if side != network)

    @property
    def voting(self) -> bool:
        """The tracked hand's side is still being voted on (``handedness: auto``)."""
        return (self.config.handedness == 'auto' and self._side is not None
                and self._votes < self.config.side_vote_frames)

    def _vote_due(self, time_s: Optional[float]) -> bool:
        """The frame stamped ``time_s`` votes (None: any frame of a vote does); a stamp
        earlier than the last vote's (a replayed bag) is due too."""
        last = self._last_vote_s
        return self.voting and (time_s is None or last is None or time_s < last
                                or time_s - last >= self.config.side_vote_interval_s)

    @property
    def side_evidence_mm(self) -> float:
        """How strongly the track's frames so far say its side: the summed left-view minus
        right-view surface fits, mm (> 0: right; 0: none measured)."""
        return self._side_evidence_mm

    def retake_side(self, depth_mm: np.ndarray, intrinsics: Intrinsics, time_s: float,
                    side: str, probability: float = float('nan')) -> HandResult:
        """This frame's hand again as a ``side`` hand (the other hand of a pair took its side):
        its last crop's centre run through the network as ``side``, the side kept from now on.

        :param depth_mm: the depth the hand was found on this frame
        :param probability: its hand gate's P(hand) this frame (the same place)
        """
        kept = self._kept
        if kept is None:
            raise RuntimeError('retake_side needs a hand found in this frame')
        timings = dict.fromkeys(TIMED_STAGES, 0.0)
        center_mm = side_points(kept.crop.center_mm, self._view(kept.side))
        attempt = self._estimate_at(kept.detection, center_mm, check_side(side), depth_mm,
                                    intrinsics, timings)
        self.end_side_vote()
        if isinstance(attempt, str):
            self.reset()
            return HandResult(False, attempt, timings_ms=timings)
        return self._result(attempt, self._seed_mm, depth_mm.shape, timings, time_s,
                            probability)

    def end_side_vote(self) -> None:
        """Keep the tracked hand's side from now on (e.g. a second hand was found beside it:
        the sides of two hands are a pair)."""
        self._votes = self.config.side_vote_frames

    def _vote(self, attempts: list) -> list:
        """This frame's side vote from the tracked crop's attempts of both sides; returns the
        attempts with the side the vote stands at (the other side's dropped). A second hand in
        the frame (``new_side`` given) ends the vote: the sides of two hands are a pair."""
        pair = [a for a in attempts if isinstance(a, _Attempt)]
        if len(pair) == 2 and self._fresh_side is None:
            fits = {a.side: a.fit_mm for a in pair}
            if all(np.isfinite(list(fits.values()))):
                self._side_evidence_mm += fits['left'] - fits['right']
            self._votes += 1
            margin = self.config.side_vote_margin_mm
            if margin and self._votes >= SIDE_VOTE_MIN_FRAMES and \
                    abs(self._side_evidence_mm) >= margin:
                self._votes = self.config.side_vote_frames  # decided: the vote ends early
        else:
            self._votes = self.config.side_vote_frames
        side = self._side
        if self._fresh_side is None and self._side_evidence_mm != 0.0:
            side = 'right' if self._side_evidence_mm > 0 else 'left'
        kept = [a for a in attempts if not isinstance(a, _Attempt) or a.side == side]
        return kept or attempts

    def _try(self, candidates, depth_mm: np.ndarray, intrinsics: Intrinsics, timings: dict,
             sides: tuple, best: Optional['_Attempt'] = None):
        """Estimate the hand at every candidate in one batched network run (~1.4x faster than
        a run per crop for 5 crops: batch 5 vs 1 in ``bench/bench_inference.py``), each
        candidate once per side in ``sides`` (the side whose skeleton fits its surface better
        stands for the candidate); return the most hand-like attempt (or ``best`` if none beats
        it; the first new best reaching ``min_hand_confidence`` ends the choice) and the first
        reason a candidate failed."""
        cropped, reason = self._crops(candidates, depth_mm, intrinsics, timings, sides)
        cropped = self._hand_like(cropped, timings)
        attempts = self._attempts(cropped, intrinsics, timings, measure_fit=len(sides) > 1)
        return self._best(attempts, reason, best)

    def _hand_like(self, cropped: list, timings: dict) -> list:
        """``cropped`` less the other side's crops of candidates the hand classifier rules out
        (P(hand) of every crop of theirs below ``candidate_hand_bar``): those run through the
        network once, as the first side; all crops without a classifier."""
        gate, bar = self.config.hand_gate, self.config.candidate_hand_bar
        if gate.classifier is None or bar <= 0.0 or \
                len({id(detection) for detection, _, _ in cropped}) == len(cropped):
            return cropped  # no classifier, or one side a candidate: nothing to leave out
        started = time.perf_counter()
        kept, likely = [], {}  # id(detection): a crop of it reached the bar
        for entry in cropped:
            key = id(entry[0])
            if key not in likely:  # its first side runs in any case
                likely[key] = gate.probability(entry[2].depth) >= bar
                kept.append(entry)
            elif likely[key] or gate.probability(entry[2].depth) >= bar:
                likely[key] = True
                kept.append(entry)
        timings['crop'] += (time.perf_counter() - started) * 1e3
        return kept

    def _crops(self, candidates, depth_mm: np.ndarray, intrinsics: Intrinsics, timings: dict,
               sides: tuple):
        """``(detection, side, crop)`` for every candidate and side, and the first reason one
        could not be cut."""
        reason, cropped = '', []
        for detection in candidates:
            if not detection:
                reason = reason or detection.reason
                continue
            center_mm = np.asarray(detection.center_mm, dtype=np.float64)
            if detection.seeded and self._palm_mm is not None:
                # Tracking: last frame's palm centre, moved as the segmented hand moved.
                center_mm = self._palm_mm + (center_mm - self._seed_mm)
            for side in sides:
                crop = self._crop_at(center_mm, side, depth_mm, intrinsics, timings)
                if isinstance(crop, str):
                    reason = reason or crop
                else:
                    cropped.append((detection, side, crop))
        return cropped, reason

    def _best(self, attempts: list, reason: str, best: Optional['_Attempt'] = None):
        """The most hand-like of ``attempts`` (or ``best``), and the first reason one failed."""
        for attempt in _better_sides(attempts):
            if isinstance(attempt, str):
                reason = reason or attempt
                continue
            if best is None or attempt.score > best.score:
                best = attempt
                if attempt.score >= self.config.min_hand_confidence:
                    break
        return best, reason

    def _crop_at(self, center_mm: np.ndarray, side: str, depth_mm: np.ndarray,
                 intrinsics: Intrinsics, timings: dict):
        """The network input for a ``side`` hand around ``center_mm``, or why it cannot be
        cut."""
        started = time.perf_counter()
        try:
            crop = crop_side(depth_mm, center_mm, self.config.detector.cube_mm, intrinsics,
                             self._view(side), self.estimator.input_size)
        except ValueError as error:  # e.g. a centre so near the cube projects to nothing
            return f'cannot crop the hand: {error}'
        timings['crop'] += (time.perf_counter() - started) * 1e3
        return crop

    def _view(self, side: str) -> str:
        """The side whose frame the network sees a ``side`` hand in (mirror.crop_side): the
        network's own side runs unmirrored."""
        return 'right' if side == self.config.network_side else 'left'

    def _attempts(self, cropped, intrinsics: Intrinsics, timings: dict,
                  measure_fit: bool = False, batch: Optional[Estimate] = None) -> list:
        """One :class:`_Attempt` (or why it failed) per ``(detection, side, crop)``, in
        order, from one network run over all the crops (``batch``: that run's, done by the
        caller); ``measure_fit``: with the skeleton's surface distance (the side decision)."""
        if not cropped:
            return []
        if batch is None:
            batch = estimate_crops(self.estimator, [crop for _, _, crop in cropped], timings)
        attempts = []
        for index, (detection, side, crop) in enumerate(cropped):
            view_joints = batch.joints_mm[index]
            if not np.all(np.isfinite(view_joints)):
                attempts.append('the network returned non-finite joints')
                continue
            view = self._view(side)
            fit = float('inf')
            if measure_fit:
                fit = surface_distance(crop, view_joints, side_camera(intrinsics, view),
                                       self.layout.edges)
            joints = side_points(view_joints, view)
            score = float(np.mean(batch.confidence[index]))
            attempts.append(_Attempt(detection, side, crop, joints, batch.confidence[index],
                                     self.layout.palm_center(joints),
                                     score if np.isfinite(score) else 0.0, fit))
        return attempts

    def _estimate_at(self, detection: Detection, center_mm: np.ndarray, side: str,
                     depth_mm: np.ndarray, intrinsics: Intrinsics, timings: dict):
        """Crop a ``side`` hand around ``center_mm`` and run the network: the
        :class:`_Attempt`, or why it failed."""
        crop = self._crop_at(center_mm, side, depth_mm, intrinsics, timings)
        if isinstance(crop, str):
            return crop
        return self._attempts([(detection, side, crop)], intrinsics, timings)[0]

    def _palm_trusted(self, attempt: '_Attempt') -> bool:
        """The predicted palm is within half a crop cube of the segmented hand (else the
        estimate is not to be trusted for re-centring or tracking)."""
        return bool(np.linalg.norm(attempt.palm_mm - attempt.detection.center_mm)
                    <= self.config.detector.cube_mm / 2)

    def _recentre(self, attempt: '_Attempt', depth_mm: np.ndarray, intrinsics: Intrinsics,
                  timings: dict, passes: int) -> '_Attempt':
        """Re-crop on the predicted palm centre ``passes`` times (a fresh detection's
        centre is that of the visible surface; the network was trained on crops centred on the
        palm). A palm centre farther than half a cube from the detection is not trusted: the
        attempt so far is kept."""
        for _ in range(passes):
            if not self._palm_trusted(attempt):
                break
            moved = self._estimate_at(attempt.detection, attempt.palm_mm, attempt.side,
                                      depth_mm, intrinsics, timings)
            if isinstance(moved, str):
                break
            attempt = moved
        return attempt

    def process(self, depth_mm: np.ndarray, intrinsics: Intrinsics, time_s: float,
                new_side: Optional[str] = None) -> HandResult:
        """Find and estimate the hand in one frame.

        :param depth_mm: (H, W) depth in mm matching ``intrinsics``
        :param intrinsics: the camera
        :param time_s: the frame's time stamp, s (for the filter)
        :param new_side: the side of a hand found afresh in this frame, in place of
            ``handedness`` (e.g. the other side of a hand already found); a tracked hand keeps
            its own
        """
        step = self.begin(depth_mm, intrinsics, time_s=time_s)
        batch = estimate_crops(self.estimator, step.crops, step.timings) if step.cropped \
            else None
        return self.finish(step, batch, time_s, new_side)

    def begin(self, depth_mm: np.ndarray, intrinsics: Intrinsics,
              plane: Optional[Plane] = None, time_s: Optional[float] = None) -> FrameStep:
        """The first half of :meth:`process`: the frame segmented and, while a hand is tracked,
        cropped around it. Run the step's crops through the network (together with other
        tracks' crops, :mod:`crossinfonet_ros.hands`) and pass the result to :meth:`finish`.

        :param plane: the dominant plane another track's step found on this image before
            something was cut out of it (``depth_mm``): reused, not fitted again
        :param time_s: the frame's stamp, s (whether a side vote is due; None: it is)
        """
        started = time.perf_counter()
        frame = prepare_frame(depth_mm, intrinsics, self.config.detector, self._buffers, plane)
        timings = dict.fromkeys(TIMED_STAGES, 0.0)
        timings['segment'] = (time.perf_counter() - started) * 1e3
        if not (self.config.tracking and self._seed_mm is not None):
            return FrameStep(depth_mm, intrinsics, frame, timings)
        tracked = self._segment(frame, depth_mm, intrinsics, timings, seeded=True)
        cropped, reason = self._crops([tracked], depth_mm, intrinsics, timings,
                                      self._sides(tracked=True, time_s=time_s))
        moved = tracked.center_mm - self._seed_mm if tracked else None
        # The hand gate needs no network: a track none of whose crops looks like a hand is
        # detected afresh without running them (one network run less on a lost track).
        checks = {}
        for _, _, crop in cropped:
            checks[id(crop)] = self.config.hand_gate.check(crop)
            if not checks[id(crop)][1]:
                break
        else:
            cropped = []
        return FrameStep(depth_mm, intrinsics, frame, timings, tuple(cropped), reason, moved,
                         checks)

    def expected_joints_mm(self, step: Optional[FrameStep] = None) -> Optional[np.ndarray]:
        """The tracked hand's joints before the network has seen this frame: last frame's,
        moved as its segmentation moved in ``step`` (None: not moved, not segmented yet); None
        without a tracked hand or when ``step`` lost it."""
        if self._joints_mm is None or step is None:
            return self._joints_mm
        return None if step.moved_mm is None else self._joints_mm + step.moved_mm

    def finish(self, step: FrameStep, batch: Optional[Estimate], time_s: float,
               new_side: Optional[str] = None) -> HandResult:
        """The second half of :meth:`process`, from the network's answer to ``step.crops``
        (None when there were none)."""
        if new_side is not None:
            check_side(new_side)
        self._fresh_side = new_side
        depth_mm, intrinsics, frame, timings = (step.depth_mm, step.intrinsics, step.frame,
                                                step.timings)
        best, reason, checked = None, step.reason, None
        if step.cropped:
            voting = len({side for _, side, _ in step.cropped}) > 1
            attempts = self._attempts(list(step.cropped), intrinsics, timings,
                                      measure_fit=voting, batch=batch)
            if voting:
                attempts = self._vote(attempts)
                self._last_vote_s = time_s
            best, reason = self._best(attempts, reason)
            if best is not None and best.score >= self.config.lost_track_confidence:
                checked = (best, step.checks.get(id(best.crop))
                           or self.config.hand_gate.check(best.crop))  # kept below
        if checked is None or checked[1][1]:
            # No track, or a track that no longer looks like a hand: detect afresh.
            candidates = self._segment(frame, depth_mm, intrinsics, timings, seeded=False)
            fresh, fresh_reason = self._try(candidates, depth_mm, intrinsics, timings,
                                            self._sides(tracked=False), best)
            best, reason = fresh, fresh_reason or reason
        if best is None:
            self.reset()
            return HandResult(False, reason, timings_ms=timings)
        if not (best.detection.seeded and self._palm_mm is not None):
            # A new track: its side vote starts (none when the side is given or fixed). The
            # last re-centring pass is the side decision's: both sides on that crop.
            deciding = bool(self.config.refine_passes) and len(self._sides(tracked=False)) > 1
            best = self._recentre(best, depth_mm, intrinsics, timings,
                                  self.config.refine_passes - deciding)  # the winner only
            self._side_evidence_mm, self._votes = 0.0, self.config.side_vote_frames
            if deciding:
                best, self._side_evidence_mm = self._redecide(best, depth_mm, intrinsics,
                                                              timings)
                self._votes, self._last_vote_s = 1, time_s
        probability, verdict = (checked[1] if checked and checked[0] is best
                                else self.config.hand_gate.check(best.crop))
        if verdict:
            self.reset()
            return HandResult(False, verdict, hand_probability=probability,
                              hand_score=best.score, timings_ms=timings)
        seed = best.detection.center_mm
        if not best.detection.seeded:
            seed = self._settled_seed(frame, depth_mm, intrinsics, timings, seed)
        return self._result(best, seed, depth_mm.shape, timings, time_s, probability)

    def _settled_seed(self, frame, depth_mm: np.ndarray, intrinsics: Intrinsics, timings: dict,
                      center_mm: np.ndarray) -> np.ndarray:
        """Where the tracked segmentation converges from a fresh detection's centre on this
        frame: the next frame's seed, so that the next centre's move from it is the hand's own.
        A candidate at an object's end is no fixed point of the refinement: from it, the next
        frame's centre slid along the forearm (63 mm on a two-hand render), the crop with it."""
        started = time.perf_counter()
        settled = detect_hand(depth_mm, intrinsics, self.config.detector, center_mm, frame)
        timings['segment'] += (time.perf_counter() - started) * 1e3
        return settled.center_mm if settled else center_mm

    def _redecide(self, best: '_Attempt', depth_mm: np.ndarray, intrinsics: Intrinsics,
                  timings: dict) -> Tuple['_Attempt', float]:
        """The last re-centring pass, both sides in one batch, deciding the side again: the
        palm-centred crop is what the network was trained on, the detection's is not (an
        untrusted palm: ``best``'s own crop). Returns the attempt and the side vote's first
        evidence (left minus right fit, mm; 0: none)."""
        center_mm = (best.palm_mm if self._palm_trusted(best)
                     else side_points(best.crop.center_mm, self._view(best.side)))
        cropped = []
        for side in self._sides(tracked=False):
            crop = self._crop_at(center_mm, side, depth_mm, intrinsics, timings)
            if isinstance(crop, str):
                return best, 0.0
            cropped.append((best.detection, side, crop))
        attempts = self._attempts(cropped, intrinsics, timings, measure_fit=True)
        fits = {a.side: a.fit_mm for a in attempts if isinstance(a, _Attempt)}
        evidence = fits['left'] - fits['right'] if len(fits) == 2 else 0.0
        decided = _better_sides(attempts)
        if len(decided) == 1 and isinstance(decided[0], _Attempt):
            return decided[0], evidence if np.isfinite(evidence) else 0.0
        return best, 0.0

    def estimate_at(self, depth_mm: np.ndarray, intrinsics: Intrinsics,
                    center_mm) -> HandResult:
        """One frame with the crop centre given (the evaluation protocol 'given'): no
        segmentation, tracking, re-centring or filter; the hand's side as ``handedness`` says
        (``'auto'``: decided as on a fresh detection).

        :param depth_mm: (H, W) depth in mm matching ``intrinsics``
        :param intrinsics: the camera
        :param center_mm: (3,) crop cube centre, camera frame, mm
        """
        self._fresh_side = None
        timings = dict.fromkeys(TIMED_STAGES, 0.0)
        detection = Detection(np.asarray(center_mm, dtype=np.float64), 0)
        best, reason = self._try([detection], depth_mm, intrinsics, timings,
                                 self._sides(tracked=False))
        if best is None:
            return HandResult(False, reason, timings_ms=timings)
        return HandResult(**dict(self._fields(best, depth_mm.shape), timings_ms=timings))

    def _result(self, best: '_Attempt', seed_mm: np.ndarray, shape: Tuple[int, int],
                timings: dict, time_s: float, probability: float) -> HandResult:
        """The frame's result from the winning attempt; updates the track (from ``seed_mm``,
        the next frame's segmentation seed) and the filter."""
        native_m = best.joints_mm / 1000.0
        if self._filter is not None:
            if best.side != self._side:
                self._filter.reset()  # a new hand: no smoothing across a change of side
            native_m = self._filter(native_m, time_s)
        self._seed_mm = np.asarray(seed_mm, dtype=np.float64)
        self._palm_mm = best.palm_mm if self._palm_trusted(best) else self._seed_mm
        self._joints_mm = best.joints_mm
        self._side = best.side
        self._kept = best
        return HandResult(**dict(self._fields(best, shape, native_m), timings_ms=timings,
                                 hand_probability=probability))

    def _fields(self, best: '_Attempt', shape: Tuple[int, int],
                native_m: Optional[np.ndarray] = None) -> dict:
        """HandResult fields of a winning attempt (joints ``native_m``, default its own)."""
        native_m = best.joints_mm / 1000.0 if native_m is None else native_m
        detection, crop = best.detection, best.crop
        cube_mm = self.config.detector.cube_mm
        position, orientation = wrist_pose(native_m, self.layout, best.side)
        height, width = shape
        view = self._view(best.side)
        x0, y0, x1, y1 = crop.roi if view == 'right' else mirror_box(crop.roi, width)
        x0c, y0c = min(max(x0, 0), width), min(max(y0, 0), height)
        x1c, y1c = min(max(x1, 0), width), min(max(y1, 0), height)
        return dict(
            detected=True, joint_names=tuple(self.output_names),
            positions_m=native_m[self.output_index],
            confidence=np.asarray(best.confidence, np.float32)[self.output_index],
            native_m=native_m, wrist_position_m=position, wrist_orientation=orientation,
            center_m=tuple(float(v) / 1000.0 for v in side_points(crop.center_mm, view)),
            cube_m=cube_mm / 1000.0, roi=(x0c, y0c, x1c - x0c, y1c - y0c),
            tracked=bool(detection.seeded), handedness=best.side, crop=crop, crop_side=view,
            hand_score=best.score, surface_fit_mm=best.fit_mm)


def _better_sides(attempts: list) -> list:
    """Per candidate (consecutive attempts of one detection), the side whose skeleton lies
    nearer the surface (:func:`~crossinfonet_ros.hand_fit.surface_distance`; ties: the first,
    the network's own side); failures pass through."""
    kept = []
    for attempt in attempts:
        previous = kept[-1] if kept else None
        if (isinstance(attempt, _Attempt) and isinstance(previous, _Attempt)
                and previous.detection is attempt.detection):
            if attempt.fit_mm < previous.fit_mm:
                kept[-1] = attempt
            continue
        kept.append(attempt)
    return kept
