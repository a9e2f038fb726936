"""The segmentation's fast paths against plain references, and its reuse of frame buffers.

The plane removal fits on a strided sample and marks the plane over the whole band at once,
from (3, N) coordinate rows and a 3x3 scatter matrix; the references here are the plain
formulation (every in-band reading as an (N, 3) point, np.cross, an SVD of all inliers,
np.percentile). Masks, planes and detections must agree on rendered and real frames."""

from dataclasses import replace
import tracemalloc

import cv2
import numpy as np
import pytest

from crossinfonet_ros.codec import crop_hand
from crossinfonet_ros.frame_buffers import FrameBuffers
from crossinfonet_ros.node.ros_convert import depth_to_mm, encode_depth
from crossinfonet_ros.planes import PlaneConfig
from crossinfonet_ros.segmentation import (HandDetectorConfig, detect_hand,
                                           detect_hand_candidates, prepare_frame)
from segmentation_frames import (D435_848X480, real_frames, rendered_frames,
                                 rendered_stream)
from test_codec import render_scene
from test_segmentation import CAMERA, HAND_PLATE, TABLE_MM, TORSO_PLATE, WALL_MM

CONFIG = HandDetectorConfig()


@pytest.fixture(scope='module')
def frames():
    """Rendered (tables, walls, bodies, boxes) and real frames; at least one of each kind of
    plane outcome (found, rejected)."""
    scene = np.round(render_scene(CAMERA, plates=[HAND_PLATE, TORSO_PLATE], wall_mm=WALL_MM,
                                  floor_mm=TABLE_MM)).astype(np.uint16)
    return ([('table scene', scene, CAMERA)] + list(rendered_stream(0, 3))
            + list(rendered_stream(1, 2, D435_848X480)) + rendered_frames(3, 6)
            + real_frames()[::4])


def reference_plane(points: np.ndarray, config: PlaneConfig):
    """The dominant plane as first written: (normal, offset) or None."""
    points = np.asarray(points, np.float64)
    points = points[::max(1, len(points) // config.fit_points)]
    scored = points[::max(1, len(points) // config.score_points)]
    triples = scored[np.random.default_rng(0x91A7E).integers(0, len(scored),
                                                             (config.hypotheses, 3))]
    normals = np.cross(triples[:, 1] - triples[:, 0], triples[:, 2] - triples[:, 0])
    lengths = np.linalg.norm(normals, axis=1)
    if not (lengths > 1e-6).any():
        return None
    normals = normals[lengths > 1e-6] / lengths[lengths > 1e-6, None]
    offsets = np.einsum('ij,ij->i', normals, triples[lengths > 1e-6, 0])
    counts = (np.abs(scored @ normals.T - offsets) <= config.inlier_mm).sum(axis=0)
    best = int(np.argmax(counts))
    if counts[best] < config.min_fraction * len(scored):
        return None
    inliers = points[np.abs(points @ normals[best] - offsets[best]) <= config.inlier_mm]
    if len(inliers) < 3:
        return None
    mean = inliers.mean(axis=0)
    normal = np.linalg.svd(inliers - mean, full_matrices=False)[2][2]
    offset = float(normal @ mean)
    on_plane = points[np.abs(points @ normal - offset) <= config.inlier_mm]
    if len(on_plane) < config.min_fraction * len(points):
        return None
    centred = on_plane - on_plane.mean(axis=0)
    for axis in np.linalg.svd(centred, full_matrices=False)[2][:2]:
        low, high = np.percentile(centred @ axis, [5, 95])
        if high - low < config.min_extent_mm:
            return None
    return normal, offset


def reference_valid(depth: np.ndarray, camera, config: HandDetectorConfig):
    """The in-band, off-plane mask at working resolution, every reading a 3D point."""
    step = config.downsample
    sub = depth[::step, ::step].astype(np.float32)
    valid = (sub >= config.min_depth_mm) & (sub <= config.max_depth_mm)
    rows, cols = np.nonzero(valid)
    z = sub[rows, cols].astype(np.float64)
    points = np.stack([z * (cols * step - camera.cx) / camera.fx,
                       z * (rows * step - camera.cy) / camera.fy, z], axis=1)
    plane = reference_plane(points, config.planes) if len(points) >= 3 else None
    if plane is not None:
        on_plane = np.abs(points @ plane[0] - plane[1]) <= config.planes.inlier_mm
        valid[rows[on_plane], cols[on_plane]] = False
    return valid, plane


def test_band_and_plane_match_the_plain_formulation(frames):
    buffers = FrameBuffers()  # shared by all frames and sizes, as a stream's
    outcomes = set()
    for name, depth, camera in frames:
        frame = prepare_frame(depth, camera, CONFIG, buffers)
        valid, plane = reference_valid(depth, camera, CONFIG)
        outcomes.add(plane is not None)
        assert (frame.plane is None) == (plane is None), name
        if plane is not None:
            sign = np.sign(frame.plane.normal @ plane[0])  # a normal and its opposite agree
            np.testing.assert_allclose(frame.plane.normal * sign, plane[0], atol=1e-9)
            assert abs(frame.plane.offset * sign - plane[1]) < 1e-6, name
        assert np.array_equal(frame.valid, valid), name
    assert outcomes == {True, False}  # both kinds of frame were seen


def test_a_plane_given_marks_the_readings_a_fit_would(frames):
    """A frame with a hand cut out reuses the plane of the frame before the cut (hands.py):
    the band is then that of its own fit wherever the cut leaves the plane as it was."""
    planes = 0
    for name, depth, camera in frames:
        before = prepare_frame(depth, camera, CONFIG)
        if before.plane is None:
            continue
        cut = depth.copy()
        cut[:, :camera.width // 4] = 0  # a strip of the image gone, the plane still in view
        fitted = prepare_frame(cut, camera, CONFIG)
        given = prepare_frame(cut, camera, CONFIG, plane=before.plane)
        assert given.plane is before.plane, name
        if fitted.plane is not None and abs(fitted.plane.normal @ before.plane.normal) > 0.999:
            planes += 1
            disagree = np.count_nonzero(given.valid != fitted.valid)
            assert disagree <= 0.002 * fitted.valid.size, (name, disagree)
        assert not np.any(given.valid[:, :camera.width // 4 // CONFIG.downsample]), name
    assert planes >= 3


def test_surfaces_match_the_plain_formulation(frames):
    buffers = FrameBuffers()
    for name, depth, camera in frames[:6]:
        frame = prepare_frame(depth, camera, CONFIG, buffers)
        sub, limit = frame.depth, CONFIG.depth_jump_mm
        jump = np.zeros(sub.shape, bool)
        across, down = np.abs(np.diff(sub, axis=1)) > limit, np.abs(np.diff(sub, axis=0)) > limit
        jump[:, 1:] |= across
        jump[:, :-1] |= across
        jump[1:] |= down
        jump[:-1] |= down
        expected = cv2.connectedComponents((frame.valid & ~jump).view(np.uint8),
                                           connectivity=8, ltype=cv2.CV_32S)[1]
        assert np.array_equal(frame.surfaces(), expected), name


def test_reused_buffers_give_the_detections_of_fresh_arrays(frames):
    """One set of buffers through frames of two sizes, detection and tracking interleaved:
    nothing of one frame leaks into the next."""
    buffers = FrameBuffers()
    for name, depth, camera in frames:
        fresh = detect_hand_candidates(depth, camera, CONFIG, 5)
        reused = detect_hand_candidates(depth, camera, CONFIG, 5,
                                        frame=prepare_frame(depth, camera, CONFIG, buffers))
        assert [c.found for c in fresh] == [c.found for c in reused], name
        assert [c.pixel_count for c in fresh] == [c.pixel_count for c in reused], name
        for a, b in zip(fresh, reused):
            if a:
                assert np.array_equal(a.center_mm, b.center_mm), name
        if fresh[0]:
            seed = fresh[0].center_mm + [15.0, -10.0, 5.0]
            a = detect_hand(depth, camera, CONFIG, seed)
            b = detect_hand(depth, camera, CONFIG, seed,
                            frame=prepare_frame(depth, camera, CONFIG, buffers))
            assert a.found == b.found and a.pixel_count == b.pixel_count, name
            assert a.center_mm is None or np.array_equal(a.center_mm, b.center_mm), name


def test_a_stream_reuses_the_same_arrays(frames):
    buffers = FrameBuffers()
    _, depth, camera = frames[1]
    first = prepare_frame(depth, camera, CONFIG, buffers)
    depth_array, valid_array = first.depth, first.valid
    second = prepare_frame(frames[2][1], camera, CONFIG, buffers)
    assert second.depth is depth_array and second.valid is valid_array
    fresh = prepare_frame(depth, camera, CONFIG)
    assert fresh.depth is not depth_array  # without buffers: arrays of its own


def _tracked_frame_peak(depth: np.ndarray, camera, encoding: str) -> int:
    """Peak bytes of new memory while one tracked frame is converted from Image fields,
    segmented and cropped, after two warm-up frames through the same buffers."""
    fields = encode_depth(depth, encoding, padding=6)  # padded: the converter must copy
    conversion, segmentation = FrameBuffers(), FrameBuffers()

    def one(seed):
        depth_mm = depth_to_mm(fields['height'], fields['width'], encoding, False,
                               fields['step'], fields['data'], 0.0, conversion)
        frame = prepare_frame(depth_mm, camera, CONFIG, segmentation)
        found = (detect_hand(depth_mm, camera, CONFIG, seed, frame=frame) if seed is not None
                 else detect_hand_candidates(depth_mm, camera, CONFIG, 5, frame=frame)[0])
        crop_hand(depth_mm, found.center_mm, CONFIG.cube_mm, camera)
        return found.center_mm

    seed = one(one(None))
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        one(seed)
        return tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize('encoding', ['16UC1', '32FC1'])
def test_no_frame_sized_allocation_per_tracked_frame(frames, encoding):
    """The same scene on a sensor of four times the pixels (the frame in one corner, the rest
    without readings) needs no more new memory per frame: nothing allocated scales with the
    frame. A working-resolution mask allocated per frame would add 300 KB here."""
    _, depth, camera = frames[1]
    large = np.zeros((2 * camera.height, 2 * camera.width), depth.dtype)
    large[:camera.height, :camera.width] = depth
    large_camera = replace(camera, width=2 * camera.width, height=2 * camera.height)
    small_peak = _tracked_frame_peak(depth, camera, encoding)
    large_peak = _tracked_frame_peak(large, large_camera, encoding)
    frame_bytes = depth.size * (2 if encoding == '16UC1' else 4)
    assert small_peak < frame_bytes  # less than one converted frame, crop included
    assert large_peak - small_peak < 0.1 * 3 * frame_bytes
