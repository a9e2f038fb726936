"""Synthetic samples: draw a hand and its scene, render full frames or crop-resolution patches.

Each sample ``(seed, index)`` has its own random streams, derived from
``np.random.SeedSequence([seed, index])``: one each for the hand (shape, pose, placement), the
clutter, the centre jitter and the sensor, so samples can be rendered in any order or in
parallel, and switching clutter or noise off leaves the hand unchanged.

Crop centre: ground truth, not a detector: the palm centre (mean of the wrist and the five
finger roots, :func:`~training.synth.placement.palm_center`) plus isotropic Gaussian jitter of
``center_jitter_mm`` per axis. A deployed node computes a centre of mass of the segmented hand
instead; the training augmentation ('com' mode, spec 3.7) covers the difference.

Crop resolution: only the window around the crop cube is rendered, at a reduced resolution
with ``crop_pixels`` pixels across the cube, and returned with intrinsics scaled and shifted to
match (the focal length times the scale, the principal point moved into the window), so
``codec.crop_hand`` cuts it exactly as it would cut the full frame (up to nearest-neighbour
resampling at a few edge pixels; :func:`sampling_camera` explains a sub-pixel detail).
"""

import math
from dataclasses import dataclass, field, replace
from typing import Optional, Tuple

import numpy as np

from crossinfonet_ros.camera import D435_640X480, Intrinsics
from crossinfonet_ros.mirror import REFLECTION, mirror_points
from training.datasets.sample import Sample
from training.synth.clutter import Clutter, ClutterConfig, sample_clutter
from training.synth.grasp import GraspConfig, sample_grasp
from training.synth.kinematics import (hand_joints, to_camera, touch_thumb_to_index,
                                       wrist_rotation)
from training.synth.no_hand import sample_no_hand
from training.synth.occluder import sample_occluder
from training.synth.placement import (Placement, PlacementConfig, hand_rotation, keep_in_front,
                                      palm_center)
from training.synth.poses import PoseConfig, sample_pose
from training.synth.raster import Primitives, render_depth
from training.synth.sensor import SensorConfig, apply_sensor
from training.synth.shape import hand_primitives, webbing
from training.synth.skeleton import HandShape, ShapeConfig, sample_shape
from training.synth.viewpoints import VIEW_CLUTTER, draw_viewpoint, sample_view_placement
from training.synth.wear import WearConfig, sample_wear

LAYOUT = 'hands2017'
# Cube for the HANDS2017 21-joint layout around the (jittered) palm centre. Measured with
# ``python bench/bench_synth.py --cube-stats 5000``: all 21 joints fit for 97.7 % of the hands
# at 250 mm (87 % at the 'bighand' demo's 220 mm, spec 7; 100 % from 280 mm); the rest poke out
# by a fingertip. 250 mm is also CrossInfoNet's ICVL/NYU test cube (spec 3.3, issue #12).
DEFAULT_CUBE_MM = 250.0


@dataclass(frozen=True)
class SynthConfig:
    """Everything that defines the synthetic data distribution."""

    intrinsics: Intrinsics = D435_640X480  # full-frame camera (crop renders derive from it)
    cube_mm: float = DEFAULT_CUBE_MM  # crop cube side, mm (Sample.cube_mm)
    crop_pixels: int = 104  # crop-resolution renders: pixels across the cube at the centre
    crop_margin: float = 1.25  # crop-resolution window side / cube side (room for augmentation)
    center_jitter_mm: float = 5.0  # std of the Gaussian jitter of the crop centre, per axis
    shape: ShapeConfig = field(default_factory=ShapeConfig)  # hand size and proportions
    pose: PoseConfig = field(default_factory=PoseConfig)  # articulation
    placement: PlacementConfig = field(default_factory=PlacementConfig)  # position, rotation
    clutter: ClutterConfig = field(default_factory=ClutterConfig)  # body, table, objects
    sensor: SensorConfig = field(default_factory=SensorConfig)  # noise and dropouts
    # Share of left hands (0: right hands only, 1: left only): a left hand is its right hand's
    # scene reflected in the vertical plane through the palm centre (:func:`mirror_scene`).
    left_hand_prob: float = 0.0
    # Things the hand holds or wears and objects in front of it, each from its own random
    # stream; at probability 0 (the defaults) nothing is drawn and renders stay byte-identical.
    grasp_prob: float = 0.0  # share of hands closed around an object (grasp.py)
    grasp: GraspConfig = field(default_factory=GraspConfig)  # object kinds and sizes
    occluder_prob: float = 0.0  # share of samples with an object between camera and hand
    wrist_wear_prob: float = 0.0  # share of hands with a watch or a sleeve (wear.py)
    wear: WearConfig = field(default_factory=WearConfig)  # watch / sleeve kinds and sizes
    # Camera viewpoint (training.synth.viewpoints.VIEWPOINTS), or, when viewpoint_mix holds
    # (name, share) pairs, a per-frame draw with those shares.
    viewpoint: str = 'third_person'
    viewpoint_mix: Tuple[Tuple[str, float], ...] = ()
    # Share of scenes without a hand (no_hand.py: a forearm cut before the wrist, a person,
    # boxes, bottles, a table edge, a mix), from their own stream; the hand-or-not decision.
    no_hand_prob: float = 0.0


@dataclass(frozen=True)
class HandState:
    """A hand and its placement: everything needed to pose and render it."""

    shape: HandShape  # the individual hand
    pose: np.ndarray  # (NUM_DOFS,) articulation, degrees
    placement: Placement  # where it is
    # Held object, watch or sleeve, hand frame: they move with the hand.
    attached: Primitives = field(default_factory=Primitives)


@dataclass(frozen=True)
class PosedHand:
    """A hand state evaluated in the camera frame."""

    joints_mm: np.ndarray  # (21, 3) joints, HANDS2017 order, camera frame
    primitives: Primitives  # hand and forearm volume, camera frame
    elbow_mm: np.ndarray  # (3,) far end of the forearm, camera frame


def pose_hand(state: HandState, local_joints: Optional[np.ndarray] = None) -> PosedHand:
    """Evaluate a hand state: joints and volume in the camera frame.

    :param state: the hand and its placement
    :param local_joints: the state's joints in the hand frame when already known
    """
    local = hand_joints(state.shape, state.pose) if local_joints is None else local_joints
    rotation = hand_rotation(state.placement)
    wrist = state.placement.center_mm - rotation @ palm_center(local)
    wrist_turn = wrist_rotation(state.placement.wrist_flex_deg, state.placement.wrist_dev_deg)
    prims = Primitives.concatenate([hand_primitives(local, state.shape, wrist_turn),
                                    state.attached]).transformed(rotation, wrist)
    elbow = wrist + state.shape.forearm_length * state.placement.elbow_direction
    return PosedHand(to_camera(local, rotation, wrist), prims, elbow)


def draw_event(seed: np.random.SeedSequence, prob: float, name: str
               ) -> Optional[np.random.Generator]:
    """The event's random generator when it happens (probability ``prob``), else None; no
    generator is made at 0.

    :param seed: the event's own stream
    :param prob: its probability, in [0, 1]
    :param name: the config field, for the error message
    """
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f'{name} must be in [0, 1], got {prob}')
    if prob == 0.0:
        return None
    rng = np.random.default_rng(seed)
    return rng if rng.random() < prob else None


def attach(seed: np.random.SeedSequence, shape: HandShape, pose: np.ndarray,
           placement: Placement, config: SynthConfig) -> Tuple[np.ndarray, Primitives]:
    """Maybe close the hand around an object, join its fingers with webbing and put a watch
    or sleeve on it.

    :param seed: the stream of the attachments (spawned into one per kind)
    :param shape: the hand
    :param pose: (NUM_DOFS,) its drawn articulation, degrees (a grasp replaces it)
    :param placement: where it is (the wrist angles place the wear)
    :param config: the data distribution
    :returns: the articulation and the attached primitives, hand frame
    """
    grasp_seed, wear_seed, web_seed = seed.spawn(3)
    parts = []
    rng = draw_event(grasp_seed, config.grasp_prob, 'grasp_prob')
    grasp = None if rng is None else sample_grasp(rng, shape, config.grasp)
    if grasp is not None:
        pose = grasp.pose
        parts.append(grasp.held.primitives())
    if draw_event(web_seed, config.shape.webbing_prob, 'shape.webbing_prob') is not None:
        parts.append(webbing(hand_joints(shape, pose), shape))
    rng = draw_event(wear_seed, config.wrist_wear_prob, 'wrist_wear_prob')
    if rng is not None:
        turn = wrist_rotation(placement.wrist_flex_deg, placement.wrist_dev_deg)
        parts.append(sample_wear(rng, shape, turn, config.wear))
    return pose, Primitives.concatenate(parts) if parts else Primitives()


def sample_hand(rng: np.random.Generator, config: SynthConfig,
                attach_seed: Optional[np.random.SeedSequence] = None,
                viewpoint: str = 'third_person') -> PosedHand:
    """Draw a hand (shape, pose, placement) kept in front of the sensor's near limit, posed.

    :param rng: random generator of the hand
    :param config: the data distribution
    :param attach_seed: stream of what the hand holds and wears (:func:`attach`); None: nothing
    :param viewpoint: where the camera is (:mod:`training.synth.viewpoints`)
    """
    shape = sample_shape(rng, config.shape)
    pose, touch = sample_pose(rng, config.pose)
    if touch:
        pose = touch_thumb_to_index(shape, pose)
    placement = sample_view_placement(rng, viewpoint, config.placement, config.intrinsics)
    attached = Primitives()
    if attach_seed is not None:
        pose, attached = attach(attach_seed, shape, pose, placement, config)
    local = hand_joints(shape, pose)
    hand = pose_hand(HandState(shape, pose, placement, attached), local)
    moved = keep_in_front(placement, hand.joints_mm, config.placement.min_joint_depth_mm)
    if moved is placement:
        return hand
    return pose_hand(HandState(shape, pose, moved, attached), local)


@dataclass(frozen=True)
class Scene:
    """Everything drawn for one sample, before rendering."""

    hand: PosedHand  # the hand in the camera frame
    clutter: Clutter  # clutter in the camera frame
    center_mm: np.ndarray  # (3,) crop centre (jittered palm centre), mm
    sensor_seed: np.random.SeedSequence  # random stream of the sensor effects
    name: str  # 'synth/<seed>/<index>'
    side: str = 'right'  # 'right' or 'left' hand (joint names are the same for both)
    viewpoint: str = 'third_person'  # training.synth.viewpoints.VIEWPOINTS
    has_hand: bool = True  # False: the hand is left out (its joints are not in the image)


def mirror_scene(scene: Scene, plane_x_mm: float) -> Scene:
    """The scene reflected in the plane ``x = plane_x_mm`` of the camera frame (normal along
    the camera's x): a right hand becomes a left hand, exactly, geometry and joints alike (the
    reflection acts on the primitives before ray casting, so perspective and the sensor's
    one-sided shadow stay physical). The joints keep their names: the thumb is still the thumb.

    :param scene: the scene (either side)
    :param plane_x_mm: the plane's x, mm (0: the camera's y-z plane; the image is then the
        original with its columns mirrored about ``u = cx``)
    """
    shift = np.array([2.0 * plane_x_mm, 0.0, 0.0])

    def reflect(points: np.ndarray) -> np.ndarray:
        return mirror_points(points) + shift

    hand = PosedHand(reflect(scene.hand.joints_mm),
                     scene.hand.primitives.transformed(REFLECTION, shift),
                     reflect(scene.hand.elbow_mm))
    clutter = Clutter(scene.clutter.static.transformed(REFLECTION, shift),
                      None if scene.clutter.shoulder_mm is None
                      else reflect(scene.clutter.shoulder_mm), scene.clutter.arm_radii_mm)
    return replace(scene, hand=hand, clutter=clutter, center_mm=reflect(scene.center_mm),
                   side='left' if scene.side == 'right' else 'right')


def sample_scene(seed: int, index: int, config: SynthConfig) -> Scene:
    """Draw sample ``index`` of the data set ``seed`` (independent of every other sample).

    :param seed: data-set seed (non-negative)
    :param index: sample index (non-negative)
    :param config: the data distribution
    """
    if seed < 0 or index < 0:
        raise ValueError(f'seed and index must be non-negative, got seed={seed} index={index}')
    # Later streams (the side, the attachments and occluder, the viewpoint) leave the earlier
    # ones, and so every hand drawn before they existed, unchanged.
    hand_seed, clutter_seed, jitter_seed, sensor_seed, side_seed, extra_seed, view_seed = (
        np.random.SeedSequence([seed, index]).spawn(7))
    attach_seed, occluder_seed, no_hand_seed = extra_seed.spawn(3)
    viewpoint = draw_viewpoint(view_seed, config.viewpoint, config.viewpoint_mix)
    hand = sample_hand(np.random.default_rng(hand_seed), config, attach_seed, viewpoint)
    clutter = sample_clutter(np.random.default_rng(clutter_seed),
                             replace(config.clutter, **VIEW_CLUTTER[viewpoint]),
                             hand.joints_mm, hand.elbow_mm)
    rng = draw_event(occluder_seed, config.occluder_prob, 'occluder_prob')
    if rng is not None:
        clutter = replace(clutter, static=Primitives.concatenate(
            [clutter.static, sample_occluder(rng, hand.joints_mm)]))
    jitter = np.random.default_rng(jitter_seed).normal(0.0, config.center_jitter_mm, 3)
    palm = palm_center(hand.joints_mm)
    scene = Scene(hand, clutter, palm + jitter, sensor_seed, f'synth/{seed}/{index}',
                  viewpoint=viewpoint)
    rng = draw_event(no_hand_seed, config.no_hand_prob, 'no_hand_prob')
    if rng is not None:
        scene = without_hand(rng, scene)
    if draw_side(np.random.default_rng(side_seed), config.left_hand_prob) == 'left':
        return mirror_scene(scene, palm[0])  # the left hand where its right hand was
    return scene


def without_hand(rng: np.random.Generator, scene: Scene) -> Scene:
    """The scene with its hand replaced by a forearm stump, a person or objects
    (:func:`~training.synth.no_hand.sample_no_hand`); the joints stay for reference."""
    kind, stand_in, objects = sample_no_hand(rng, scene.hand.joints_mm, scene.hand.elbow_mm)
    clutter = replace(scene.clutter, static=Primitives.concatenate([scene.clutter.static,
                                                                    objects]))
    return replace(scene, hand=replace(scene.hand, primitives=stand_in), clutter=clutter,
                   has_hand=False, name=f'{scene.name}/{kind}')


def draw_side(rng: np.random.Generator, left_hand_prob: float) -> str:
    """'left' with probability ``left_hand_prob``, else 'right' (no draw at 0 or 1)."""
    if not 0.0 <= left_hand_prob <= 1.0:
        raise ValueError(f'left_hand_prob must be in [0, 1], got {left_hand_prob}')
    if left_hand_prob in (0.0, 1.0):
        return 'left' if left_hand_prob == 1.0 else 'right'
    return 'left' if rng.random() < left_hand_prob else 'right'


def crop_window(center_mm: np.ndarray, cube_mm: float, intrinsics: Intrinsics,
                crop_pixels: int, margin: float) -> Intrinsics:
    """Intrinsics of a reduced-resolution window around the crop cube.

    The scale puts ``crop_pixels`` pixels across the cube at the centre's depth (never more
    than the full frame has); the window covers ``margin`` cubes, clipped to the frame.

    :param center_mm: (3,) crop centre, camera frame, mm
    :param cube_mm: cube side, mm
    :param intrinsics: full-frame camera
    :param crop_pixels: pixels across the cube
    :param margin: window side / cube side
    """
    u, v, depth = intrinsics.project(np.asarray(center_mm, dtype=np.float64))
    if depth <= 0:
        raise ValueError(f'crop centre must be in front of the camera, got z={depth} mm')
    cube_px = cube_mm * intrinsics.fx / depth
    scale = min(1.0, crop_pixels / cube_px)
    half = 0.5 * margin * cube_px * scale
    su, sv = (u + 0.5) * scale - 0.5, (v + 0.5) * scale - 0.5
    width, height = intrinsics.width * scale, intrinsics.height * scale
    x0 = min(max(0, math.floor(su - half)), max(0, math.ceil(width) - 1))
    y0 = min(max(0, math.floor(sv - half)), max(0, math.ceil(height) - 1))
    x1 = max(x0 + 1, min(math.floor(width), math.ceil(su + half) + 1))
    y1 = max(y0 + 1, min(math.floor(height), math.ceil(sv + half) + 1))
    return Intrinsics(intrinsics.fx * scale, intrinsics.fy * scale,
                      (intrinsics.cx + 0.5) * scale - 0.5 - x0,
                      (intrinsics.cy + 0.5) * scale - 0.5 - y0, x1 - x0, y1 - y0)


def sampling_camera(window: Intrinsics, full: Intrinsics) -> Intrinsics:
    """The camera a reduced-resolution window is rendered with (its rays), see below.

    The codec samples nearest-neighbour by flooring source positions, so a crop shows, on
    average, content half a source pixel before the true position: half a full-frame pixel for
    full frames, but half a window pixel (1/scale full pixels) for a window. Rendering the
    window's rays (1 - scale)/2 window pixels towards the origin removes the difference, so the
    window's crops match the full frame's, and its image-to-label alignment the sensor's.

    :param window: the window's intrinsics (:func:`crop_window`, what the sample reports)
    :param full: the full-frame camera
    """
    shift = 0.5 * (1.0 - window.fx / full.fx)
    return replace(window, cx=window.cx - shift, cy=window.cy - shift)


def render_scene(scene: Scene, intrinsics: Intrinsics, config: SynthConfig,
                 far_mm: float = np.inf) -> Sample:
    """Render a drawn scene with a camera (the full frame or a window of it).

    :param scene: the drawn scene
    :param intrinsics: camera and image size of the sample; a reduced-resolution window of
        ``config.intrinsics`` is rendered with :func:`sampling_camera`
    :param config: the data distribution (cube, sensor settings)
    :param far_mm: surfaces beyond this depth are left out (0)
    """
    prims = Primitives.concatenate([scene.hand.primitives,
                                    scene.clutter.primitives(scene.hand.elbow_mm)])
    rays = sampling_camera(intrinsics, config.intrinsics)
    depth, _ = render_depth(prims, rays, far_mm=far_mm)
    depth = apply_sensor(depth, rays, config.intrinsics.fx,
                         np.random.default_rng(scene.sensor_seed), config.sensor)
    return Sample(depth_mm=depth, joints_mm=scene.hand.joints_mm.copy(), intrinsics=intrinsics,
                  center_mm=scene.center_mm.copy(), cube_mm=float(config.cube_mm),
                  layout=LAYOUT, name=scene.name, side=scene.side, has_hand=scene.has_hand)


def render_frame(seed: int, index: int, config: SynthConfig = SynthConfig()) -> Sample:
    """Full frame (``config.intrinsics`` size) of sample ``index`` of data set ``seed``.

    :param seed: data-set seed
    :param index: sample index
    :param config: the data distribution
    """
    return render_scene(sample_scene(seed, index, config), config.intrinsics, config)


def render_crop(seed: int, index: int, config: SynthConfig = SynthConfig()) -> Sample:
    """Crop-resolution patch of sample ``index``: same scene as :func:`render_frame`.

    Surfaces farther than the centre plus ``crop_margin`` half-cubes are left out (every crop
    clips them to background anyway).

    :param seed: data-set seed
    :param index: sample index
    :param config: the data distribution
    """
    scene = sample_scene(seed, index, config)
    window = crop_window(scene.center_mm, config.cube_mm, config.intrinsics,
                         config.crop_pixels, config.crop_margin)
    # Any crop of this sample (augmented ones included) clips depth beyond the centre plus
    # margin half-cubes: leave those surfaces out.
    far = scene.center_mm[2] + 0.5 * config.crop_margin * config.cube_mm
    return render_scene(scene, window, config, far)

