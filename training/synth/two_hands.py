"""Two-hand scenes: both hands of one person facing the camera, apart, close together,
crossing each other in a stream, or one hidden for a while behind a board passing in front.

Each hand is a single-sample scene of its own (:func:`~training.synth.scene.sample_scene`, a
right hand, and another one mirrored into a left hand), moved so that the palms sit side by side
at one depth: the person's right hand on the camera's left (negative x), as a third-person
camera sees it. The right hand's clutter (its upper arm, the body, a table, a wall) stays;
the left hand brings its hand and forearm only.
"""

from dataclasses import dataclass, replace
from typing import Dict, Iterator, Tuple

import numpy as np

from training.synth.clutter import Clutter
from training.synth.placement import palm_center
from training.synth.occluder import TAG_OCCLUDER
from training.synth.raster import Primitives, boxes, render_depth
from training.synth.scene import PosedHand, Scene, SynthConfig, mirror_scene, sample_scene, \
    sampling_camera
from training.synth.sensor import apply_sensor

# Gap between the two palm centres, mm, per arrangement (uniform).
ARRANGEMENTS: Dict[str, Tuple[float, float]] = {
    'apart': (240.0, 360.0),
    'close': (150.0, 190.0),  # the hands' edges a few cm apart or touching
}
DEPTH_RANGE_MM = (420.0, 650.0)  # the palms' depth: both hands in a 640x480 view
BEHIND_MM = 120.0  # in a crossing, the left hand passes this far behind the right one
BOARD_HALF_MM = (80.0, 110.0, 5.0)  # the board of hidden_stream: 160 x 220 x 10 mm
BOARD_FRONT_MM = 150.0  # it passes this far in front of the hidden hand's palm
TWO_HAND_TAG = 0x32484E44  # '2HND': two-hand seeds apart from the single samples'


@dataclass(frozen=True, eq=False)
class TwoHandFrame:
    """One rendered frame with both hands and their joints."""

    depth_mm: np.ndarray  # (H, W) float32 depth, mm (0: no reading)
    joints_mm: Dict[str, np.ndarray]  # 'left' / 'right' -> (21, 3) HANDS2017 joints, mm
    name: str


def shift_scene(scene: Scene, offset_mm: np.ndarray) -> Scene:
    """The scene moved by ``offset_mm`` (hand, clutter, crop centre)."""
    offset = np.asarray(offset_mm, dtype=np.float64)
    hand = PosedHand(scene.hand.joints_mm + offset,
                     scene.hand.primitives.transformed(np.eye(3), offset),
                     scene.hand.elbow_mm + offset)
    clutter = Clutter(scene.clutter.static.transformed(np.eye(3), offset),
                      None if scene.clutter.shoulder_mm is None
                      else scene.clutter.shoulder_mm + offset, scene.clutter.arm_radii_mm)
    return replace(scene, hand=hand, clutter=clutter, center_mm=scene.center_mm + offset)


def sample_pair(seed: int, index: int, config: SynthConfig = SynthConfig()
                ) -> Tuple[Scene, Scene, np.random.Generator]:
    """A left and a right hand (third person, ``config``'s hands), not yet placed, and the
    pair's own random generator."""
    base = replace(config, left_hand_prob=0.0, no_hand_prob=0.0, viewpoint='third_person',
                   viewpoint_mix=())
    right = sample_scene(seed, 2 * index, base)
    left = sample_scene(seed, 2 * index + 1, base)
    left = mirror_scene(left, palm_center(left.hand.joints_mm)[0])
    rng = np.random.default_rng(np.random.SeedSequence([seed, TWO_HAND_TAG, index]))
    return left, right, rng


def place(scene: Scene, palm_mm: np.ndarray) -> Scene:
    """The scene moved so that its hand's palm centre is at ``palm_mm``."""
    return shift_scene(scene, np.asarray(palm_mm) - palm_center(scene.hand.joints_mm))


def two_hand_frame(seed: int, index: int, arrangement: str = 'apart',
                   config: SynthConfig = SynthConfig()) -> TwoHandFrame:
    """Frame ``index`` of the two-hand set ``seed``: both hands side by side.

    :param arrangement: a key of :data:`ARRANGEMENTS`
    """
    if arrangement not in ARRANGEMENTS:
        raise ValueError(f'unknown arrangement {arrangement!r}; valid: '
                         f'{", ".join(ARRANGEMENTS)}')
    left, right, rng = sample_pair(seed, index, config)
    depth = rng.uniform(*DEPTH_RANGE_MM)
    gap = rng.uniform(*ARRANGEMENTS[arrangement])
    height = rng.uniform(-0.1, 0.1) * depth
    left = place(left, (gap / 2, height + rng.uniform(-20, 20), depth + rng.uniform(-40, 40)))
    right = place(right, (-gap / 2, height, depth))
    return render_pair(left, right, config, f'two/{seed}/{index}/{arrangement}')


def crossing_stream(seed: int, frames: int, config: SynthConfig = SynthConfig(),
                    span_mm: float = 320.0, back: bool = False) -> Iterator[TwoHandFrame]:
    """A stream in which the hands swap places: the right hand moves from the camera's left to
    its right, the left hand the other way, ``BEHIND_MM`` behind it (hidden by it for a few
    frames), poses fixed.

    :param frames: frames in the stream (at least 2)
    :param span_mm: each hand's path across, mm
    :param back: the way back: the right hand from the camera's right to its left
    """
    left, right, rng = sample_pair(seed, 0, config)
    depth = rng.uniform(*DEPTH_RANGE_MM)
    for step in range(frames):
        x = span_mm * (step / (frames - 1) - 0.5) * (-1.0 if back else 1.0)
        yield render_pair(place(left, (-x, 0.0, depth + BEHIND_MM)),
                          place(right, (x, 0.0, depth)), config,
                          f'two/{seed}/crossing/{step}')


def back_and_forth(seed: int, frames: int, crossing_frames: int = 30,
                   config: SynthConfig = SynthConfig()) -> Iterator[TwoHandFrame]:
    """A stream of crossings there and back, each of ``crossing_frames`` frames by another
    pair of hands (:func:`crossing_stream` of seeds ``seed``, ``seed + 1``, ...): where one
    crossing ends the next one starts, so the hands never swap places between frames."""
    for crossing in range(-(-frames // crossing_frames)):
        length = min(crossing_frames, frames - crossing * crossing_frames)
        stream = crossing_stream(seed + crossing, max(crossing_frames, 2), config,
                                 back=crossing % 2 == 1)
        for _, frame in zip(range(length), stream):
            yield frame


def hidden_stream(seed: int, frames: int, hidden: Tuple[int, int], slide: int = 4,
                  config: SynthConfig = SynthConfig()) -> Iterator[TwoHandFrame]:
    """Both hands apart and still while a board slides in front of the left hand from the
    camera's right: it covers the left palm over frames ``hidden[0]`` to ``hidden[1] - 1``,
    moving in over the ``slide`` frames before and out over the ``slide`` frames after; the
    right hand stays in view.

    :param hidden: ``(first, end)`` frames of the left palm covered
    """
    first, end = hidden
    if not 0 <= first - slide and end + slide <= frames and first < end and slide >= 1:
        raise ValueError(f'hidden {hidden} and slide {slide} do not fit {frames} frames')
    left, right, rng = sample_pair(seed, 0, config)
    depth = rng.uniform(*DEPTH_RANGE_MM)
    gap = rng.uniform(*ARRANGEMENTS['apart'])
    left = place(left, (gap / 2, 0.0, depth))
    right = place(right, (-gap / 2, 0.0, depth))
    palm = palm_center(left.hand.joints_mm)
    # Out of the way: the board's near edge a hand's width (100 mm) past the palm.
    away_mm = BOARD_HALF_MM[0] + 100.0
    for step in range(frames):
        covered = min(max((step - first + slide) / slide, 0.0), 1.0,
                      max((end + slide - 1 - step) / slide, 0.0))
        center = palm + (away_mm * (1.0 - covered), 0.0, -BOARD_FRONT_MM)
        board = boxes(center[None], np.diag(BOARD_HALF_MM)[None], TAG_OCCLUDER)
        yield render_pair(left, right, config, f'two/{seed}/hidden/{step}', board)


def render_pair(left: Scene, right: Scene, config: SynthConfig, name: str,
                extra: Primitives = Primitives()) -> TwoHandFrame:
    """Render both hands, the right one's clutter, ``extra`` objects and the sensor, full
    frame."""
    prims = Primitives.concatenate([left.hand.primitives, right.hand.primitives,
                                    right.clutter.primitives(right.hand.elbow_mm), extra])
    rays = sampling_camera(config.intrinsics, config.intrinsics)
    depth, _ = render_depth(prims, rays)
    depth = apply_sensor(depth, rays, config.intrinsics.fx,
                         np.random.default_rng(right.sensor_seed), config.sensor)
    return TwoHandFrame(depth, {'left': left.hand.joints_mm.copy(),
                                'right': right.hand.joints_mm.copy()}, name)
