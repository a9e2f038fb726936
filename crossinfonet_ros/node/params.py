"""The hand_pose_node's parameters: names, defaults, descriptions, and the checked values.

ROS-free: hand_pose_node.py declares every entry of :data:`PARAMETERS` with its description and
builds :class:`NodeParams` from the values once at start (all parameters are read-only: the node
declares them once at start and checks them on every lifecycle configure, so a later change
could not take effect).
"""

from dataclasses import dataclass
import math
from pathlib import Path
from typing import Iterable, Optional

from crossinfonet_ros.hands import MAX_HANDS
from crossinfonet_ros.mirror import HANDEDNESS_MODES

# Shipped trained weights, relative to a crossinfonet_ros package folder.
SHIPPED_WEIGHTS = Path('weights') / 'hands2017_synth.safetensors'
SHIPPED_HAND_CLASSIFIER = Path('weights') / 'hand_or_not.safetensors'
OUTPUT_LAYOUTS = ('native', 'mediapipe21')

# (name, default, description)
PARAMETERS = (
    ('weights', '', 'CrossInfoNet .safetensors weights file; empty = the shipped '
                    'weights/hands2017_synth.safetensors of the installed package'),
    ('device', 'auto', "Inference device: 'auto' (CUDA when available), 'cpu', 'cuda', 'cuda:N'"),
    ('backend', 'auto', "Inference backend: 'auto', 'torch', 'onnxruntime', "
                        "'onnxruntime-int8x2', 'onnxruntime-int8', 'onnxruntime-fp16' (CUDA)"),
    ('threads', 0, 'Inference threads (ONNX Runtime intra-op; torch set_num_threads); 0 = the '
                   'physical cores this process may run on (os.sched_getaffinity)'),
    ('depth_scale', 0.0, 'Metres per raw depth unit; 0 = from the encoding (16UC1/mono16: '
                         '0.001, 32FC1: 1)'),
    ('min_depth', 0.15, 'Nearest depth considered when looking for the hand, m'),
    ('max_depth', 1.0, 'Farthest depth considered when looking for the hand, m'),
    ('cube_size', 0.0, 'Side of the crop cube around the hand, m; 0 = the one the weights were '
                       'trained with'),
    ('tracking', True, 'Seed the hand search from the previous frame, fall back to detection'),
    ('refine_passes', 2, 'After a fresh detection, re-crop around the predicted palm centre '
                         'this many times (each costs one more inference)'),
    ('handedness', 'auto', "The users' hand: 'auto' (decided on each fresh detection and voted "
                           "on over the track's first side_vote_frames frames, then kept "
                           "while the hand is tracked; twice the crops meanwhile), 'right' or "
                           "'left'. A hand of the other side than the weights' runs mirrored; "
                           'HandPose.handedness, the wrist frame and the marker colour follow '
                           'it'),
    ('side_vote_frames', 30, "handedness auto: frames of a new track whose surface fits of both "
                             "sides are summed before its side is kept (1 = the detection "
                             "alone decides; a second hand beside it ends the vote)"),
    ('max_hands', 1, 'Hands per frame, 1 or 2. With 2 the node tracks both hands of a user (one '
                     'left, one right with handedness auto), publishes them on `hands` '
                     '(HandPoseArray, left before right) and names their TF frames '
                     '<frame_prefix>/<side>/<joint>; hand_pose carries the hand tracked '
                     'longest. 1 keeps 60 Hz within reach: with one hand in view, 2 costs a '
                     'search for the other every few frames'),
    ('second_hand_score', 0.35, 'max_hands 2: the least mean heat-map confidence of a hand '
                                'newly found beside another (a head or body beside the hand '
                                'scores lower; measured for the shipped weights, whose scale it '
                                'is), 0..1; 0 = off'),
    # 'none' here so a node built without the params file (the tests, on random weights)
    # behaves as before; config/hand.yaml (launch file, demo) turns the shipped one on.
    ('hand_classifier', 'none', "Hand or not: the classifier file that decides whether the "
                                "kept crop is a hand (else HandPose.detected is false); '' = "
                                "the shipped weights/hand_or_not.safetensors (config/hand.yaml "
                                "sets it), 'none' = off (the most hand-like object in the "
                                'depth band is always taken for a hand)'),
    ('hand_threshold', 0.0, 'Hand or not: P(hand) bar, 0..1; 0 = the one calibrated in the '
                            'classifier file (docs/detection.md)'),
    ('publish_tf', True, 'Broadcast one TF frame per joint, <frame_prefix>/<joint_name>'),
    ('frame_prefix', 'hand', 'Prefix of the joint TF frame names'),
    ('target_frame', '', 'Frame of HandPose and the markers (e.g. a robot base); empty = the '
                         "depth image's frame, no TF lookup. Joint TF frames stay children of "
                         'the image frame'),
    ('transform_timeout', 0.05, 'How long a frame waits for TF to reach its stamp, 0..1 s; '
                                'then it is dropped (no HandPose, markers or joint TF; counted '
                                'as rejected_no_transform)'),
    ('output_layout', 'native', "Joint order of HandPose: 'native' (the weights' layout) or "
                                "'mediapipe21' (MediaPipe's 21 hand landmarks)"),
    ('smoothing', False, 'Smooth joint positions over time with a One Euro filter'),
    ('one_euro_min_cutoff', 1.0, 'One Euro filter cut-off at rest, Hz (lower = smoother)'),
    ('one_euro_beta', 0.5, 'One Euro filter speed coefficient, 1/m (higher = less lag when '
                           'moving)'),
    ('marker_lifetime', 0.5, 'Lifetime of the RViz skeleton markers, s'),
    ('diagnostics_period', 1.0, 'Period of the /diagnostics status, s'),
    ('input_timeout', 5.0, 'Warn (again every twice this while it lasts, and in /diagnostics) '
                           'when no depth image or no camera info has arrived for this long, '
                           'naming the topic and its publishers, s; 0 = never (e.g. a camera '
                           'triggered now and then)'),
    ('max_pending_frames', 1, 'Depth frames waiting for processing at most; when one more '
                              'arrives the oldest waiting is dropped (1 = newest frame only, '
                              'lowest latency; 2 rides out one slow frame)'),
    ('reload_weights_on_change', True, 'Check the weights file about once a second and reload '
                                       'it when it changes (a bad new file is rejected with an '
                                       'error and the running model kept)'),
    ('autostart', True, 'Configure and activate the lifecycle node at start; false = stay '
                        'unconfigured until a lifecycle manager (or `ros2 lifecycle set`) '
                        'configures and activates it (the model is loaded on activate and '
                        'freed on deactivate)'),
)


@dataclass(frozen=True)
class NodeParams:
    """Checked parameter values (units as the parameter descriptions say)."""

    weights: str  # weights file; '' = shipped
    device: str  # inference device
    backend: str  # inference backend
    threads: int  # inference threads; 0 = the cores this process may run on
    depth_scale: float  # metres per raw unit, 0 = from the encoding
    min_depth: float  # detection band near limit, m
    max_depth: float  # detection band far limit, m
    cube_size: float  # crop cube side, m; 0 = from the weights
    tracking: bool  # seed from the previous frame
    refine_passes: int  # re-crops around the predicted palm centre after a detection
    handedness: str  # 'auto', 'right' or 'left'
    side_vote_frames: int  # frames a new track's side is voted on (auto)
    max_hands: int  # hands per frame, 1 or 2
    second_hand_score: float  # least heat-map score of a second hand found afresh
    hand_classifier: str  # classifier file; '' = shipped, 'none' = off
    hand_threshold: float  # P(hand) bar; 0 = the file's
    publish_tf: bool  # per-joint TF frames
    frame_prefix: str  # TF frame name prefix
    target_frame: str  # frame of HandPose and markers; '' = the image frame
    transform_timeout: float  # s a frame waits for TF to reach its stamp
    output_layout: str  # 'native' or 'mediapipe21'
    smoothing: bool  # One Euro filter on
    one_euro_min_cutoff: float  # Hz
    one_euro_beta: float  # 1/m
    marker_lifetime: float  # s
    diagnostics_period: float  # s
    input_timeout: float  # s of silence on an input before a warning; 0 = never
    max_pending_frames: int  # frames waiting for the worker at most
    reload_weights_on_change: bool  # watch the weights file and reload it when it changes
    autostart: bool  # configure and activate at start, without a lifecycle manager

    def __post_init__(self) -> None:
        problems = []
        if self.threads < 0:
            problems.append(f'threads must be >= 0 (0 = the usable cores), got {self.threads}')
        if not 1 <= self.max_pending_frames <= 30:
            problems.append(f'max_pending_frames must be in 1..30, got {self.max_pending_frames}')
        if not 0 <= self.refine_passes <= 3:
            problems.append(f'refine_passes must be in 0..3, got {self.refine_passes}')
        if not (math.isfinite(self.depth_scale) and self.depth_scale >= 0):
            problems.append(f'depth_scale must be >= 0, got {self.depth_scale}')
        if not 0 <= self.min_depth < self.max_depth:
            problems.append(f'need 0 <= min_depth < max_depth, got {self.min_depth} and '
                            f'{self.max_depth}')
        if not (math.isfinite(self.cube_size) and self.cube_size >= 0):
            problems.append(f'cube_size must be >= 0 m, got {self.cube_size}')
        if self.handedness not in HANDEDNESS_MODES:
            problems.append(f'handedness must be one of {HANDEDNESS_MODES}, got '
                            f'{self.handedness!r}')
        if not 1 <= self.side_vote_frames <= 300:
            problems.append(f'side_vote_frames must be in 1..300, got {self.side_vote_frames}')
        if not 1 <= self.max_hands <= MAX_HANDS:
            problems.append(f'max_hands must be 1 or {MAX_HANDS}, got {self.max_hands}')
        if not 0 <= self.second_hand_score < 1:
            problems.append(f'second_hand_score must be in [0, 1) (0 = off), got '
                            f'{self.second_hand_score}')
        if not 0 <= self.hand_threshold < 1:
            problems.append(f"hand_threshold must be in [0, 1) (0 = the classifier file's), "
                            f'got {self.hand_threshold}')
        if self.output_layout not in OUTPUT_LAYOUTS:
            problems.append(f'output_layout must be one of {OUTPUT_LAYOUTS}, got '
                            f'{self.output_layout!r}')
        for name in ('one_euro_min_cutoff', 'marker_lifetime', 'diagnostics_period'):
            if not getattr(self, name) > 0:
                problems.append(f'{name} must be > 0, got {getattr(self, name)}')
        if not (math.isfinite(self.transform_timeout) and 0 <= self.transform_timeout <= 1):
            problems.append(f'transform_timeout must be in 0..1 s, got {self.transform_timeout}')
        if any(c.isspace() for c in self.target_frame) or self.target_frame.startswith('/'):
            problems.append(f'target_frame must be a TF frame name without spaces or a '
                            f"leading '/', got {self.target_frame!r}")
        if self.target_frame.startswith(f'{self.frame_prefix}/'):
            problems.append(f'target_frame {self.target_frame!r} is one of the joint frames '
                            f'(frame_prefix {self.frame_prefix!r})')
        if not (math.isfinite(self.input_timeout) and self.input_timeout >= 0):
            problems.append(f'input_timeout must be >= 0 s, got {self.input_timeout}')
        if not self.one_euro_beta >= 0:
            problems.append(f'one_euro_beta must be >= 0, got {self.one_euro_beta}')
        if problems:
            raise ValueError('bad parameters: ' + '; '.join(problems))

    @classmethod
    def from_values(cls, values: dict) -> 'NodeParams':
        """Build from ``{name: value}`` (every name of :data:`PARAMETERS`)."""
        kinds = {name: type(default) for name, default, _ in PARAMETERS}
        return cls(**{name: kinds[name](values[name]) for name in kinds})


def find_shipped_weights(package_paths: Iterable[str],
                         relative: Path = SHIPPED_WEIGHTS) -> Optional[Path]:
    """The shipped weights file (or another shipped file ``relative`` to the package) in the
    first package folder holding it, else None.

    The package is split between the source tree and the colcon install (``__path__`` has
    both), so every folder is searched.
    """
    for folder in package_paths:
        candidate = Path(folder) / relative
        if candidate.is_file():
            return candidate
    return None
