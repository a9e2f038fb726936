"""Find the hand in a depth frame: the crop centre for the codec (ROS-free).

DeepPrior++-style detection (spec 3.2 'demo', spec 7 'Realtime demo': nearest object + centre of
mass, then tracking), built as:

1. valid readings inside the depth band ``[min_depth_mm, max_depth_mm]``, on a strided
   (nearest-neighbour) sub-sampling of the frame, ``downsample`` pixels apart, without those on
   the dominant plane (a table the camera looks down at, a wall: :mod:`crossinfonet_ros.planes`);
2. the nearest object: readings within ``band_mm`` behind the ``near_rank_px``-th nearest
   reading (a rank, not the raw minimum, so a few flying pixels at depth edges cannot pull the
   slab in front of the hand; a fixed count rather than a percentage, because a percentage of the
   frame would skip a distant hand that covers only a fraction of a percent of it);
3. its largest 8-connected component (speck rejection: ``min_area_px``);
4. the start: the mean 3D point of the component's front, its readings within ``seed_band_mm``
   of its own ``near_rank_px``-th nearest reading. An arm reaching towards the camera ends in
   the hand, so the front of the nearest object is on the hand; the component's centre of mass
   (DeepPrior++) lies on the forearm or beyond whenever the arm or body joins the component
   (measured on 200 cluttered synthetic frames: median distance to the palm centre 63 mm with
   the centre of mass, 43 mm with the front and the hand-sized cube of step 5);
5. refinement in 3D: keep the band's points inside the cube (side ``refine_cube_mm``, about a
   hand's size) around the current centre, take the mean of x and y and the median of z, until
   the centre moves less than ``refine_tolerance_mm`` or after ``refine_iterations``. The median
   for depth because the depth distribution in the cube is skewed: fingers pointing at the
   camera in front, forearm, sleeve or torso leaking into the back of the cube; x and y are
   roughly symmetric and the mean keeps sub-pixel precision. A hand-sized cube rather than the
   crop cube keeps the forearm's mass from dragging the centre down the arm.

6. (:func:`detect_hand_candidates` only) both ends of the object the nearest object belongs to:
   the surface connected to it across depth steps below ``depth_jump_mm`` (the whole arm, where
   the slab of step 2 holds only its part nearest the camera), cut at ``end_band_mm`` from
   either extreme of its main axis, each end refined as in step 5. When the forearm is nearer
   than the hand (an arm reaching away from the camera, a hand raised above a forearm pointing
   at it) the front of step 4 lies on the forearm and the hand is the arm's far end.

The refined centre is that of the visible surface, some 20-45 mm in front of the palm's joint
centre: ``depth_offset_mm`` moves it back. The pipeline then re-centres on the network's palm
estimate (``PipelineConfig.refine_passes``).

Tracking: with ``seed_mm`` (the previous frame's centre) steps 2-4 are skipped and step 5
starts from the seed; if the seeded cube holds too few points the result says so and the caller
falls back to detection without a seed.

Limits (inherent to nearest-object detection): :func:`detect_hand` takes the nearest object's
front for the hand (an object or a forearm nearer than the hand is taken for it; the candidates
of :func:`detect_hand_candidates` let a caller that can tell a hand choose), and anything
within about ``refine_cube_mm / 2`` of the hand (a table the hand rests on) pulls the refined
centre towards it.
Tracking from the previous centre keeps working while the hand stays the bulk of the cube.

Everything is in millimetres and the camera optical frame, like the codec. What it costs per
frame: ``bench/bench_segmentation.py`` and docs/detection.md.
"""

from dataclasses import dataclass
import functools
from typing import Optional

import cv2
import numpy as np

from crossinfonet_ros.camera import Intrinsics
from crossinfonet_ros.frame_buffers import FrameBuffers, FreshBuffers
from crossinfonet_ros.planes import Plane, PlaneConfig, dominant_plane


@dataclass(frozen=True)
class HandDetectorConfig:
    """Parameters of :func:`detect_hand` (and, for the object ends, of
    :func:`detect_hand_candidates`)."""

    # Nearer readings are ignored: below the working range of common depth cameras (an
    # engineering choice, not from the spec), where only noise and dust live.
    min_depth_mm: float = 150.0
    # Farther readings are ignored: teleoperation at arm's length; the reference demo advises the
    # hand at 300-400 mm (spec 7 'Realtime demo'), ICVL pre-cleans beyond 1500 mm (spec 3.4).
    max_depth_mm: float = 1000.0
    # Thickness of the nearest-object slab behind its front, mm: a hand seen from the front is
    # at most ~150 mm deep; keeps a torso or table farther back out of the first guess.
    band_mm: float = 150.0
    # The slab front is the k-th nearest valid reading (working resolution), ignoring k-1 flying
    # pixels.
    near_rank_px: int = 20
    # Minimum hand size in full-resolution pixels; a hand at 1 m with fx ~ 380 covers ~2000.
    min_area_px: int = 300
    # The model's crop cube, mm (spec 3.3: 250 NYU/ICVL test, 220 demo 'bighand', 175 MSRA):
    # the pipeline crops with it; the detector only reports it.
    cube_mm: float = 250.0
    # Side of the refinement cube, mm: about a hand (wrist to middle tip ~190 mm); a larger cube
    # takes in the forearm. 180 gave the smallest distance to the palm centre among 120-250 on
    # 200 cluttered synthetic frames.
    refine_cube_mm: float = 180.0
    # Thickness of the component's front whose mean starts the refinement, mm.
    seed_band_mm: float = 25.0
    # Added to the refined centre's depth, mm: the median depth of the visible surface lies in
    # front of the palm's joints (fingers curled towards the camera, the palm's own thickness);
    # measured on two synthetic streams: 20-43 mm in front, 25 brings the median distance to
    # the palm centre from 48/40 mm to 37/20 mm.
    depth_offset_mm: float = 25.0
    # The dominant plane (table, wall, floor) is ignored before anything else
    # (:mod:`crossinfonet_ros.planes`); ``PlaneConfig(enabled=False)`` keeps it.
    planes: PlaneConfig = PlaneConfig()
    # Maximum number of 3D centre-of-mass refinement steps (0: keep the component's centre).
    refine_iterations: int = 5
    # Refinement stops once the centre moves less than this, mm.
    refine_tolerance_mm: float = 1.0
    # Work on every n-th pixel of every n-th row (1 = full resolution); 2 keeps ~1/4 of a frame.
    downsample: int = 2
    # Also offer both ends of the nearest object as candidates (step 6): an arm whose forearm
    # is nearer than its hand ends in the hand. On 60 cluttered synthetic frames the nearest
    # object's front missed the hand (> 100 mm) in 11; one of the ends was on it in 6 of those.
    object_ends: bool = True
    # Neighbouring readings (working resolution) farther apart in depth than this lie on
    # different surfaces: the object's surface is followed only across smaller steps. A surface
    # at 80 degrees to the view at 1 m changes ~30 mm between readings 2 pixels apart.
    depth_jump_mm: float = 40.0
    # Thickness of an end along the object's main axis, mm: about a hand's half-length.
    end_band_mm: float = 60.0
    # An end nearer than this to a candidate already found adds nothing, mm.
    candidate_separation_mm: float = 60.0

    def __post_init__(self) -> None:
        if not 0 <= self.min_depth_mm < self.max_depth_mm:
            raise ValueError(f'need 0 <= min_depth_mm < max_depth_mm, got '
                             f'{self.min_depth_mm} and {self.max_depth_mm}')
        for name in ('band_mm', 'cube_mm', 'refine_cube_mm', 'seed_band_mm',
                     'refine_tolerance_mm', 'depth_jump_mm', 'end_band_mm',
                     'candidate_separation_mm'):  # depth_offset_mm may be any finite value
            if not getattr(self, name) > 0:
                raise ValueError(f'{name} must be positive, got {getattr(self, name)}')
        for name in ('near_rank_px', 'min_area_px', 'refine_iterations', 'downsample'):
            value = getattr(self, name)
            lowest = 0 if name == 'refine_iterations' else 1
            if int(value) != value or value < lowest:
                raise ValueError(f'{name} must be an integer >= {lowest}, got {value}')


@dataclass(frozen=True, eq=False)  # eq would compare arrays ambiguously
class Detection:
    """Outcome of :func:`detect_hand`: a centre, or why there is none.

    Truthy exactly when a hand was found, so ``if detection:`` reads naturally.
    """

    center_mm: Optional[np.ndarray]  # (3,) float64 hand centre, camera optical frame, mm; or None
    # Valid pixels in the cube the centre was computed from, full-resolution equivalent (n k^2).
    pixel_count: int
    reason: str = ''  # why no hand was found; '' on success
    seeded: bool = False  # True when refined from a tracking seed instead of detected
    iterations: int = 0  # refinement steps run

    @property
    def found(self) -> bool:
        """True when ``center_mm`` holds a centre."""
        return self.center_mm is not None

    def __bool__(self) -> bool:
        return self.found


def prepare_frame(depth_mm: np.ndarray, intrinsics: Intrinsics,
                  config: HandDetectorConfig = HandDetectorConfig(),
                  buffers: Optional[FrameBuffers] = None,
                  plane: Optional[Plane] = None) -> '_BandFrame':
    """Step 1 for one frame (sub-sampling, band, dominant plane removed), to share between a
    :func:`detect_hand` with a seed and a :func:`detect_hand_candidates` on the same frame (the
    pipeline after a lost track): the plane fit (~1 ms) then runs once.

    :param depth_mm: (H, W) depth in mm (as :func:`detect_hand`)
    :param intrinsics: camera of ``depth_mm``
    :param config: detector parameters (the detection calls given this frame use its config)
    :param buffers: arrays to reuse for the frame's working copies (a stream's frames, one after
        another: the frame is then valid until the next one prepared with them); None: new ones
    :param plane: the dominant plane of this image as another prepared frame found it (e.g.
        before a hand was cut out of it): its readings are removed without a new fit
    :raises ValueError: a depth image that does not match ``intrinsics`` or is not numeric
    """
    depth = np.asarray(depth_mm)
    if depth.shape != (intrinsics.height, intrinsics.width):
        raise ValueError(f'depth image has shape {depth.shape}, the intrinsics describe '
                         f'{intrinsics.height}x{intrinsics.width} (rows x columns)')
    if not (np.issubdtype(depth.dtype, np.integer) or np.issubdtype(depth.dtype, np.floating)):
        raise ValueError(f'depth image must hold integers or floats, got dtype {depth.dtype}')
    frame = _BandFrame(depth, intrinsics, config, buffers, plane)
    frame.source = depth_mm
    return frame


def detect_hand(depth_mm: np.ndarray, intrinsics: Intrinsics,
                config: HandDetectorConfig = HandDetectorConfig(),
                seed_mm=None, frame: Optional['_BandFrame'] = None) -> Detection:
    """Locate the hand centre in a depth frame (see the module docstring for the steps).

    Always returns a :class:`Detection` (falsy with a ``reason`` when nothing was found, so the
    node can log why) and never raises on a 2-D numeric array of the camera's size: empty,
    all-NaN, all-inf or all-zero frames are "not found".

    :param depth_mm: (H, W) depth in mm, uint16 or float; 0 / NaN / inf = no reading
    :param intrinsics: camera of ``depth_mm``
    :param config: detector parameters
    :param seed_mm: (3,) previous centre in mm to track from, or None to detect
    :param frame: this frame from :func:`prepare_frame` with ``config`` (saves preparing it)
    :returns: the :class:`Detection`
    """
    frame = _frame_for(depth_mm, intrinsics, config, frame)
    if not frame.valid.any():
        return _no_valid_depth(config, seeded=seed_mm is not None)
    if seed_mm is not None:
        seed = np.asarray(seed_mm, dtype=np.float64).reshape(-1)
        if seed.shape != (3,) or not np.all(np.isfinite(seed)):
            return Detection(None, 0, f'tracking seed is not 3 finite values: {seed_mm}',
                             seeded=True)
        # The seed is a previous result: back to the surface it was refined on.
        return _refine(frame, seed - [0.0, 0.0, config.depth_offset_mm], seeded=True)
    return detect_hand_candidates(depth_mm, intrinsics, config, 1, frame=frame)[0]


def detect_hand_candidates(depth_mm: np.ndarray, intrinsics: Intrinsics,
                           config: HandDetectorConfig = HandDetectorConfig(),
                           count: int = 3, frame: Optional['_BandFrame'] = None) -> list:
    """Up to ``count`` hand candidates, nearest object first: the nearest object as
    :func:`detect_hand` finds it, then both ends of the surface it belongs to (step 6; with
    ``count`` > 1 and ``object_ends``), then the nearest object once that one is set aside,
    and so on; a candidate within ``candidate_separation_mm`` of an earlier one is skipped.

    For a caller that can tell a hand from another object (the pipeline asks the network how
    hand-like each candidate's crop is): an object or a forearm nearer than the hand is then
    skipped instead of taken for it.

    :param depth_mm: (H, W) depth in mm (as :func:`detect_hand`)
    :param intrinsics: camera of ``depth_mm``
    :param config: detector parameters
    :param count: most candidates to return (>= 1)
    :param frame: this frame from :func:`prepare_frame` with ``config`` (left as it was given)
    :returns: the found candidates in order, or a one-element list holding the falsy
        :class:`Detection` that says why none was found
    """
    frame = _frame_for(depth_mm, intrinsics, config, frame)
    if not frame.valid.any():
        return [_no_valid_depth(config, seeded=False)]
    # Objects are set aside in frame.valid while searching; it is restored in place (its array
    # may be a reused buffer).
    kept = frame.buffers.take('band_valid_kept', frame.valid.shape, bool)
    np.copyto(kept, frame.valid)
    try:
        return _candidates(frame, config, max(1, int(count)))
    finally:
        np.copyto(frame.valid, kept)


def _candidates(frame: '_BandFrame', config: HandDetectorConfig, count: int) -> list:
    found, failure = [], None
    for _ in range(2 * count):  # objects too small to be a hand are not candidates
        front, reason, pixels = _nearest_object(frame)
        starts = [] if front is None else [front]
        if front is None:
            failure = failure or Detection(None, 0, reason)
        elif count > 1 and config.object_ends:
            starts += _object_ends(frame, pixels)
        for start in starts:
            detection = _refine(frame, start, seeded=False)
            if not detection:
                failure = failure or detection
            elif len(found) < count and all(
                    np.linalg.norm(detection.center_mm - other.center_mm)
                    >= config.candidate_separation_mm for other in found):
                found.append(detection)
        if front is None and count == 1:
            break
        frame.valid[pixels] = False  # set this object aside for the next candidate
        if len(found) == count or (count == 1 and failure) or not frame.valid.any():
            break
    return found or [failure]


def _frame_for(depth_mm, intrinsics: Intrinsics, config: HandDetectorConfig,
               frame: Optional['_BandFrame']) -> '_BandFrame':
    if frame is None:
        return prepare_frame(depth_mm, intrinsics, config)
    if frame.source is not depth_mm or frame.config != config or frame.intrinsics != intrinsics:
        raise ValueError('the prepared frame was made from another depth image, detector config'
                         ' or camera')
    return frame


def _no_valid_depth(config: HandDetectorConfig, seeded: bool) -> Detection:
    return Detection(None, 0, f'no valid depth in the band [{config.min_depth_mm:g}, '
                              f'{config.max_depth_mm:g}] mm', seeded=seeded)


# Medians (and the main axis of an object) are taken over at most this many evenly strided
# samples: a large slab (a wall, a table in view) would otherwise cost ~1 ms per median; the
# estimate stays within a few mm.
_MAX_SAMPLES = 4096


# Pixels per block of _every_nth_true: its index arrays stay below 64 KB.
_BLOCK_PX = 8192


def _every_nth_true(flat: np.ndarray, step: int) -> np.ndarray:
    """Positions (int32, raster order) of the 0th, step-th, 2 step-th, ... True of ``flat``:
    the strided sample :func:`dominant_plane` keeps of all the valid readings, found block by
    block so that no frame-sized index array is made."""
    if step == 1:  # fewer than 2 fit_points readings: their index array is small anyway
        return np.flatnonzero(flat)
    indices, parts, seen = _raster_indices(flat.size), [], 0
    for start in range(0, flat.size, _BLOCK_PX):
        found = indices[start:start + _BLOCK_PX][flat[start:start + _BLOCK_PX]]
        parts.append(found[-seen % step::step])  # the global count of found[i] is seen + i
        seen += found.size
    return np.concatenate(parts)


@functools.lru_cache(maxsize=8)
def _ray_slopes(intrinsics: Intrinsics, step: int, shape: tuple) -> tuple:
    """x / z per working column and y / z per working row, float64 and float32 (the latter as
    a column), read-only: the same for every frame of a camera."""
    height, width = shape
    x_per_z = (np.arange(width) * step - intrinsics.cx) / intrinsics.fx
    y_per_z = (np.arange(height) * step - intrinsics.cy) / intrinsics.fy
    slopes = (x_per_z, y_per_z, x_per_z.astype(np.float32), y_per_z.astype(np.float32)[:, None])
    for array in slopes:
        array.flags.writeable = False
    return slopes


@functools.lru_cache(maxsize=8)
def _raster_indices(size: int) -> np.ndarray:
    """0 .. size-1 as int32, read-only (shared between frames and threads)."""
    indices = np.arange(size, dtype=np.int32)
    indices.flags.writeable = False
    return indices


def _median(values: np.ndarray) -> float:
    """np.median of the strided sample (its arithmetic: the middle value, or the float mean of
    the middle two), without its generic overhead; the values are finite."""
    values = values[::max(1, values.size // _MAX_SAMPLES)]
    middle = values.size // 2
    if values.size % 2:
        return float(np.partition(values, middle)[middle])
    return float(np.partition(values, [middle - 1, middle])[middle - 1:middle + 1].mean())


class _BandFrame:
    """The strided sub-sampling of a frame, its in-band mask, and 3D points of pixel windows."""

    def __init__(self, depth: np.ndarray, intrinsics: Intrinsics, config: HandDetectorConfig,
                 buffers: Optional[FrameBuffers] = None, plane: Optional[Plane] = None):
        self.source = None  # the image given to prepare_frame (detection checks it gets that)
        self.step = int(config.downsample)
        self.config = config
        self.intrinsics = intrinsics
        self.buffers = buffers = FreshBuffers() if buffers is None else buffers
        strided = depth[::self.step, ::self.step]
        shape = strided.shape
        self.depth = buffers.take('band_depth', shape, np.float32)
        np.copyto(self.depth, strided, casting='unsafe')  # astype(float32) in place
        # NaN compares False, so it is out of band like 0 and inf.
        self.valid = np.greater_equal(self.depth, config.min_depth_mm,
                                      out=buffers.take('band_valid', shape, bool))
        self.valid &= np.less_equal(self.depth, config.max_depth_mm,
                                    out=buffers.take('band_scratch', shape, bool))
        # x / z of each column and y / z of each row (pixel (i, j) of the sub-sampling is pixel
        # (step i, step j) of the frame), and their float32 copies.
        self.x_per_z, self.y_per_z, self._x_per_z32, self._y_per_z32 = _ray_slopes(
            intrinsics, self.step, shape)
        self.plane = plane
        self._surfaces = None  # computed on first use (surfaces())
        self.ends = {}  # surface label -> its two end starts (_object_ends)
        if config.planes.enabled:
            self._remove_plane(config.planes)

    def _remove_plane(self, config: PlaneConfig) -> None:
        """Step 0: mark the readings on the dominant plane invalid (fitted first unless given).

        The plane is fitted on at most ``fit_points`` evenly strided readings (what
        :func:`dominant_plane` keeps of them all), so only those become 3D points; the
        readings on the plane are then found over the whole band at once."""
        count = np.count_nonzero(self.valid)
        if count == 0:
            return
        if self.plane is None:
            positions = _every_nth_true(self.valid.reshape(-1),
                                        max(1, count // config.fit_points))
            rows, cols = np.divmod(positions, self.depth.shape[1])
            z = self.depth[rows, cols].astype(np.float64)
            # Coordinates as rows, handed over as an (N, 3) view: dominant_plane works on rows.
            coords = np.stack([z * self.x_per_z[cols], z * self.y_per_z[rows], z])
            self.plane = dominant_plane(coords.T, config, self.buffers)
        if self.plane is None:
            return
        # |n . (z x/z, z y/z, z) - offset| = |z (n_x x/z + n_y y/z + n_z) - offset|
        normal, shape = self.plane.normal, self.depth.shape
        distance = np.add((normal[1] * self.y_per_z + normal[2])[:, None],
                          normal[0] * self.x_per_z,
                          out=self.buffers.take('plane_distance', shape, np.float64))
        with np.errstate(invalid='ignore', over='ignore'):  # inf x 0 at out-of-band readings
            np.multiply(distance, self.depth, out=distance)
            np.subtract(distance, self.plane.offset, out=distance)
            np.abs(distance, out=distance)
        off_plane = np.greater(distance, config.inlier_mm,
                               out=self.buffers.take('band_scratch', shape, bool))
        self.valid &= off_plane

    def points(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """(N, 3) float64 mm: the 3D points of the readings at working-resolution pixels."""
        z = self.depth[rows, cols].astype(np.float64)
        return np.stack([z * self.x_per_z[cols], z * self.y_per_z[rows], z], axis=1)

    def band_depths(self) -> np.ndarray:
        """The depths of the valid readings (raster order) in a scratch array of the frame's
        buffers: the caller may reorder it."""
        flat = self.valid.reshape(-1)
        scratch = self.buffers.take('band_depths', (flat.size,), np.float32)
        return np.compress(flat, self.depth.reshape(-1),
                           out=scratch[:np.count_nonzero(flat)])

    def surfaces(self) -> np.ndarray:
        """Labels (int32, 0 = none) of the connected surfaces of the readings valid when first
        asked: 8-neighbours joined unless their depths differ by more than ``depth_jump_mm``."""
        if self._surfaces is None:
            depth, limit, take = self.depth, self.config.depth_jump_mm, self.buffers.take
            height, width = depth.shape
            joined = take('surface_joined', depth.shape, bool)  # valid and no jump beside
            np.copyto(joined, self.valid)
            for axis, shape in ((1, (height, width - 1)), (0, (height - 1, width))):
                step = take(f'surface_step{axis}', shape, np.float32)
                jump = take(f'surface_jump{axis}', shape, bool)
                ahead = (slice(None), slice(1, None)) if axis else (slice(1, None), slice(None))
                behind = (slice(None), slice(None, -1)) if axis else (slice(None, -1), slice(None))
                with np.errstate(invalid='ignore'):  # inf - inf at out-of-band readings
                    np.subtract(depth[ahead], depth[behind], out=step)
                np.abs(step, out=step)
                # Not a jump where the step is NaN (a reading missing): as np.diff > limit.
                kept = np.logical_not(np.greater(step, limit, out=jump), out=jump)
                joined[ahead] &= kept
                joined[behind] &= kept
            labels = take('surface_labels', depth.shape, np.int32)
            self._surfaces = cv2.connectedComponents(joined.view(np.uint8), labels,
                                                     connectivity=8, ltype=cv2.CV_32S)[1]
        return self._surfaces

    def cube_points(self, center: np.ndarray, half: float):
        """(x, y, z) float32 mm of the valid readings inside the cube of half-side ``half``."""
        z_near = max(center[2] - half, self.config.min_depth_mm, 1e-3)
        z_far = min(center[2] + half, self.config.max_depth_mm)
        if z_near > z_far:
            return np.empty((3, 0), np.float32)
        # Pixel window that can see the cube: extreme x/z (y/z) over its near and far faces.
        cols = self._window(center[0], half, z_near, z_far, self.x_per_z)
        rows = self._window(center[1], half, z_near, z_far, self.y_per_z)
        z = self.depth[rows, cols]
        x = z * self._x_per_z32[cols]
        y = z * self._y_per_z32[rows]
        inside = (self.valid[rows, cols] & (np.abs(x - center[0]) <= half)
                  & (np.abs(y - center[1]) <= half) & (np.abs(z - center[2]) <= half))
        return np.stack([x[inside], y[inside], z[inside]])

    @staticmethod
    def _window(middle: float, half: float, z_near: float, z_far: float,
                per_z: np.ndarray) -> slice:
        ratios = ((middle - half) / z_near, (middle - half) / z_far,
                  (middle + half) / z_near, (middle + half) / z_far)
        start = int(np.searchsorted(per_z, min(ratios), side='left'))
        stop = int(np.searchsorted(per_z, max(ratios), side='right'))
        return slice(start, stop)


def _nearest_object(frame: _BandFrame):
    """Steps 2-4: ``(start, '', (rows, cols))``: the front of the nearest object's largest
    component and the component's pixels (working resolution), or ``(None, reason, slab)``
    with the nearest object's slab mask when its largest component is too small."""
    config = frame.config
    in_band = frame.band_depths()
    rank = min(int(config.near_rank_px), in_band.size) - 1
    in_band.partition(rank)  # in place: the gathered depths are a scratch copy
    front = float(in_band[rank])
    slab = np.less_equal(frame.depth, front + config.band_mm,
                         out=frame.buffers.take('slab', frame.depth.shape, bool))
    slab &= frame.valid
    # Label only the slab's bounding box: usually a hand-sized patch, ~30x cheaper than the frame.
    rows = np.flatnonzero(slab.any(axis=1))
    cols = np.flatnonzero(slab.any(axis=0))
    top, left = int(rows[0]), int(cols[0])
    patch = np.ascontiguousarray(slab[top:rows[-1] + 1, left:cols[-1] + 1]).view(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(
        patch, connectivity=8, ltype=cv2.CV_32S)
    areas = stats[1:, cv2.CC_STAT_AREA]
    best = int(np.argmax(areas)) + 1
    area_px = int(areas[best - 1]) * frame.step ** 2
    if area_px < config.min_area_px:
        return None, (f'largest component of the nearest object ({front:.0f} mm) is too small: '
                      f'{area_px} px < min_area_px {config.min_area_px}'), slab
    # Start at the component's front (step 4).
    x0, y0, w, h = stats[best, :4]
    rows, cols = np.nonzero(labels[y0:y0 + h, x0:x0 + w] == best)
    rows, cols = rows + top + y0, cols + left + x0
    z = frame.depth[rows, cols]
    rank = min(int(config.near_rank_px), z.size) - 1
    near = z <= float(np.partition(z, rank)[rank]) + config.seed_band_mm
    z_near = z[near].astype(np.float64)
    start = np.array([(z_near * frame.x_per_z[cols[near]]).mean(),
                      (z_near * frame.y_per_z[rows[near]]).mean(), z_near.mean()])
    return start, '', (rows, cols)


def _object_ends(frame: _BandFrame, pixels) -> list:
    """Step 6: refinement starts at both ends of the object the nearest object belongs to.

    The object is the surface connected to the nearest object's pixels across depth steps
    smaller than ``depth_jump_mm`` (the whole arm, not only its slab nearest the camera); its
    ends are its readings within ``end_band_mm`` of either extreme along its main axis (the
    first principal direction of its 3D readings). Returns up to two starts (mm).

    The surfaces are labelled once per frame, before any object is set aside, so a surface
    whose slabs come up in several rounds offers the same two starts each time; they are then
    refined against what is left of the frame, which finds the hand more often (31 vs 28 of 40
    rendered frames within 40 mm) than offering each surface once.
    """
    config = frame.config
    labels = frame.surfaces()
    touched = labels[pixels]
    touched = touched[touched > 0]
    if touched.size == 0:
        return []
    label = int(np.bincount(touched).argmax())
    if label not in frame.ends:
        points = frame.points(*np.nonzero(labels == label))
        centred = points - points.mean(axis=0)
        axis = np.linalg.svd(centred[::max(1, len(centred) // _MAX_SAMPLES)],
                             full_matrices=False)[2][0]
        along = centred @ axis
        frame.ends[label] = [points[along >= along.max() - config.end_band_mm].mean(axis=0),
                             points[along <= along.min() + config.end_band_mm].mean(axis=0)]
    return frame.ends[label]


def _refine(frame: _BandFrame, center: np.ndarray, seeded: bool) -> Detection:
    """Step 5: 3D centre-of-mass refinement inside the cube around the current centre."""
    config = frame.config
    half = config.refine_cube_mm / 2.0
    center = center.astype(np.float64)
    iterations = 0
    while True:
        x, y, z = frame.cube_points(center, half)
        count = z.size * frame.step ** 2
        if count < config.min_area_px:
            where = 'seeded' if seeded and iterations == 0 else 'refined'
            return Detection(None, count, f'{where} cube at {np.round(center).tolist()} mm holds '
                                          f'{count} px < min_area_px {config.min_area_px}',
                             seeded=seeded, iterations=iterations)
        if iterations == config.refine_iterations:
            break
        moved_to = np.array([x.mean(dtype=np.float64), y.mean(dtype=np.float64),
                             _median(z)], dtype=np.float64)
        iterations += 1
        moved = float(np.linalg.norm(moved_to - center))
        center = moved_to
        if moved < config.refine_tolerance_mm:
            break
    center = center + np.array([0.0, 0.0, config.depth_offset_mm])
    return Detection(center, count, '', seeded=seeded, iterations=iterations)
