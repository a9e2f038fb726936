"""Fuzzing (issue 8.3): generated malformed Image / CameraInfo messages against the converter,
the segmentation and the node's callbacks in this process.

Properties: the converter returns the correct array or raises DepthImageError with a kind that
names one of the message's actual problems, nothing else; segmentation never raises on a frame
of the camera's size; no exception escapes the node (no 'internal_error' rejection), every
malformed message is counted under its specific reason with a (throttled) warning keyed by it,
and a good frame afterwards gets the same answer as a fresh pipeline. Hypothesis runs
derandomized (the same examples every run) so CI is reproducible; strategies in fuzz_messages.py.
"""

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from crossinfonet_ros.camera import Intrinsics
from crossinfonet_ros.node.ros_convert import DepthImageError, depth_to_mm, encode_depth
from crossinfonet_ros.segmentation import Detection, detect_hand
from fuzz_messages import (CONVERTER_KINDS, DEPTH_SCALES, camera_info_fields, converter_problems,
                           frame_pair, image_fields, reference_depth_mm, to_camera_info,
                           to_image)

# The generated messages are this distro's sensor_msgs (the converter's input).
pytestmark = pytest.mark.ros

CONVERTER_EXAMPLES = 1500  # Image messages (each with a CameraInfo for the segmentation)
NODE_EXAMPLES = 1000  # (CameraInfo, Image) pairs through the node callbacks
GOOD_FRAME_EVERY = 250  # a good frame after this many malformed pairs (and at the end)


def _settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def _valid_info(info: dict) -> bool:
    """CameraInfo usable as a pinhole camera: finite K, plausible focal lengths, a size."""
    k = np.asarray(info['k'], dtype=np.float64)
    fx, fy, cx, cy = k[0], k[4], k[2], k[5]
    return bool(np.all(np.isfinite([fx, fy, cx, cy])) and 1.0 <= fx <= 1e7
                and 1.0 <= fy <= 1e7 and info['width'] > 0 and info['height'] > 0)


def test_converter_and_segmentation_reject_or_read_every_generated_message():
    seen = {'images': 0, 'infos': 0, 'converted': 0, 'segmented': 0, 'kinds': set()}

    @_settings(CONVERTER_EXAMPLES)
    @given(fields=image_fields(), depth_scale=DEPTH_SCALES, info=camera_info_fields())
    def check(fields, depth_scale, info):
        seen['images'] += 1
        seen['infos'] += 1
        problems = converter_problems(fields, depth_scale)
        try:
            depth = depth_to_mm(fields['height'], fields['width'], fields['encoding'],
                                fields['is_bigendian'], fields['step'], fields['data'],
                                depth_scale)
        except DepthImageError as error:
            assert error.kind in problems, (error.kind, problems, str(error))
            assert error.kind in CONVERTER_KINDS and str(error)
            seen['kinds'].add(error.kind)
            return
        assert not problems, f'accepted a message with problems {problems}'
        seen['converted'] += 1
        expected = reference_depth_mm(fields, depth_scale)
        assert depth.shape == (fields['height'], fields['width'])
        assert depth.dtype == expected.dtype
        np.testing.assert_array_equal(depth, expected)
        # The camera of this frame: the generated K with the image's size.
        camera = dict(info, width=fields['width'], height=fields['height'])
        if not _valid_info(camera):
            with pytest.raises(ValueError):
                Intrinsics.from_k(camera['k'], camera['width'], camera['height'])
            return
        intrinsics = Intrinsics.from_k(camera['k'], camera['width'], camera['height'])
        detection = detect_hand(depth, intrinsics)
        seen['segmented'] += 1
        assert isinstance(detection, Detection)
        if detection:
            assert np.all(np.isfinite(detection.center_mm)), detection
        else:
            assert detection.reason

    with np.errstate(all='ignore'):
        check()
    assert seen['images'] >= 1000 and seen['infos'] >= 1000
    # The battery reaches every rejection and the accepting path.
    assert seen['kinds'] == CONVERTER_KINDS
    assert seen['converted'] >= 100 and seen['segmented'] >= 50
    print(f'converter fuzz: {seen["images"]} Image + {seen["infos"]} CameraInfo generated, '
          f'{seen["converted"]} converted, {seen["segmented"]} segmented')


# --- the node in this process ---------------------------------------------------------------

class NodeUnderFuzz:
    """A HandPoseNode fed through its subscription callbacks, with spies on warnings/answers."""

    def __init__(self, weights):
        from rclpy.parameter import Parameter
        from crossinfonet_ros.node import HandPoseNode
        from training.synth.scene import render_frame
        # Tracking off: every frame is answered on its own, so the good frame's answer must
        # equal a fresh pipeline's exactly (with tracking a hand-like fuzz frame would
        # legitimately seed it).
        self.node = HandPoseNode(parameter_overrides=[
            Parameter('weights', value=str(weights)), Parameter('backend', value='torch'),
            Parameter('threads', value=1), Parameter('tracking', value=False)])
        self.warnings = []  # (key, message) of every warning, throttled or not
        self.answers = []  # (Image, HandResult) of every published answer (the primary hand)
        warn, publish = self.node._warn, self.node._publish
        self.node._warn = lambda key, message: (self.warnings.append((key, message)),
                                                warn(key, message))[-1]
        self.node._publish = lambda image, found, *rest: (
            self.answers.append((image, found.primary)), publish(image, found, *rest))[-1]
        sample = render_frame(0, 1)  # a frame whose hand detection is within 30 mm
        self.good_info = {'width': 640, 'height': 480,
                          'k': [float(v) for v in sample.intrinsics.matrix().reshape(-1)]}
        self.good_image = encode_depth(sample.depth_mm)
        self.camera_size = None  # (width, height) of the camera info in use

    def totals(self) -> dict:
        return self.node.stats.totals()

    def send_info(self, info: dict) -> None:
        self.node._on_camera_info(to_camera_info(info))
        if _valid_info(info):
            self.camera_size = (info['width'], info['height'])

    def send_image(self, fields: dict, stamp: int):
        """Hand one image to the node's callback and wait until its worker has dealt with it."""
        msg = to_image(fields, stamp)
        target = self.totals().get('processed', 0) + 1
        self.node._on_image(msg)
        deadline = time.monotonic() + 60.0
        while self.totals().get('processed', 0) < target:
            assert time.monotonic() < deadline, 'the node worker never processed the frame'
            time.sleep(0.0002)
        return msg

    def check_good_frame(self, stamp: int) -> None:
        """A good frame gets the answer a fresh pipeline gives for it."""
        from crossinfonet_ros.pipeline import HandPosePipeline
        from crossinfonet_ros.node.ros_convert import image_to_mm
        self.send_info(self.good_info)
        before = len(self.answers)
        msg = self.send_image(self.good_image, stamp)
        assert len(self.answers) == before + 1, 'the good frame was not answered'
        image, result = self.answers[-1]
        assert image is msg and result.detected
        fresh = HandPosePipeline(self.node.estimator, self.node.pipeline.config)
        intrinsics = Intrinsics.from_k(self.good_info['k'], 640, 480)
        expected = fresh.process(image_to_mm(msg), intrinsics, float(stamp))
        assert expected.detected
        np.testing.assert_allclose(result.positions_m, expected.positions_m, atol=1e-6)
        np.testing.assert_allclose(result.center_m, expected.center_m, atol=1e-9)


@pytest.fixture(scope='module')
def fuzzed_node(weights):
    rclpy = pytest.importorskip('rclpy', reason='rclpy comes with `make test` set-up')
    rclpy.init()
    harness = NodeUnderFuzz(weights)
    harness.send_info(harness.good_info)
    yield harness
    harness.node.destroy_node()
    rclpy.shutdown()


def test_node_callbacks_reject_each_malformed_message_and_keep_answering(fuzzed_node):
    h = fuzzed_node
    seen = {'pairs': 0, 'good': 0, 'answered': 0, 'kinds': set()}

    @_settings(NODE_EXAMPLES)
    @given(pair=frame_pair())
    def check(pair):
        info, fields = pair
        seen['pairs'] += 1
        before, warned = h.totals(), len(h.warnings)
        h.send_info(info)
        if not _valid_info(info):
            assert h.totals().get('rejected_camera_info', 0) == \
                before.get('rejected_camera_info', 0) + 1
            assert [key for key, _ in h.warnings[warned:]] == ['camera_info']
        before, warned, answered = h.totals(), len(h.warnings), len(h.answers)
        msg = h.send_image(fields, 10 + seen['pairs'])
        after = h.totals()
        if after.get('rejected_internal_error', 0):  # reproduce it here for the traceback
            h.node.process(msg, time.monotonic_ns())
        rejected = {k[len('rejected_'):] for k in after
                    if k.startswith('rejected_') and after[k] != before.get(k, 0)}
        problems = converter_problems(fields)
        if not problems and (fields['width'], fields['height']) != h.camera_size:
            problems = {'size_mismatch'}
        if problems:
            assert len(rejected) == 1 and rejected <= problems, (rejected, problems)
            assert after.get('rejected', 0) == before.get('rejected', 0) + 1
            assert len(h.answers) == answered, 'a malformed image was answered'
            kind = rejected.pop()
            # A warning keyed by the reason, naming the problem (the logger throttles it).
            assert [key for key, _ in h.warnings[warned:]] == [kind]
            assert h.warnings[-1][1].startswith('dropping depth image: ')
            seen['kinds'].add(kind)
        else:  # readable and of the camera's size: answered (with a hand or the reason why not)
            assert not rejected, rejected
            assert len(h.answers) == answered + 1
            assert h.answers[-1][0] is msg
            seen['answered'] += 1
        if seen['pairs'] % GOOD_FRAME_EVERY == 0:
            h.check_good_frame(10 ** 6 + seen['pairs'])
            seen['good'] += 1

    started = time.monotonic()
    with np.errstate(all='ignore'):
        check()
    h.check_good_frame(2 * 10 ** 6)
    assert seen['pairs'] >= 1000
    assert h.totals().get('rejected_internal_error', 0) == 0
    assert seen['kinds'] >= {'encoding', 'size', 'huge', 'step', 'data_size', 'size_mismatch'}
    assert seen['answered'] >= 50
    assert h.totals().get('rejected_camera_info', 0) >= 100
    print(f'node fuzz: {seen["pairs"]} CameraInfo + {seen["pairs"]} Image generated, '
          f'{seen["answered"]} answered, {seen["good"] + 1} good-frame checks, '
          f'{time.monotonic() - started:.1f} s; totals {h.totals()}')
