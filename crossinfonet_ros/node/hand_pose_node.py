"""hand_pose_node: depth images in, HandPose + TF + RViz markers + diagnostics out.

The per-frame work is :mod:`crossinfonet_ros.pipeline`; this module is the ROS edge's heart:
parameters, QoS, message conversion, publishing and statistics.

Newest frames only: the image callback queues the message for a worker thread, keeping at most
``max_pending_frames`` (the oldest waiting one is dropped and counted), so a slow machine never
builds a growing backlog, one slow frame does not cost the next, and the executor stays free for
camera info, parameters and diagnostics.

The weights file is watched (:mod:`crossinfonet_ros.node.weights_watch`): a new version is
loaded in a background thread and the pipeline swapped in one assignment; the worker takes the
pipeline once per frame, so every frame runs on one model. Camera info is matched to images by
stamp (drivers stamp both alike) and falls back to the newest; a frame whose size differs from its
camera info is rejected, never processed with another camera's intrinsics.

With ``target_frame`` set, HandPose and the markers are moved into that frame with the TF at the
image's stamp (:mod:`crossinfonet_ros.node.target_frame`; /tf and /tf_static are listened to only
then); a frame whose transform is not there within ``transform_timeout`` gets no answer and is
counted as ``rejected_no_transform``.

A lifecycle node: configure checks the parameters and creates the topics, activate loads the
model and starts answering, deactivate stops answering and frees the model (frames that arrive
while inactive are counted as ``rejected_inactive`` and never answered), cleanup removes the
topics. With ``autostart`` (the default) the node configures and activates itself at start, so
it runs without a lifecycle manager; a start error then stops it like any other.
"""

from collections import deque
from copy import copy
import functools
import signal
import sys
import threading
import time
from typing import Iterable, List, Optional, Tuple

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException
from rclpy.lifecycle import (LifecycleNode, LifecyclePublisher, LifecycleState,
                             TransitionCallbackReturn)
from rclpy.publisher import Publisher
from rclpy.qos import (DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy)
from rclpy.qos_overriding_options import QoSOverridingOptions
from rclpy.timer import Timer
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

import crossinfonet_ros
from crossinfonet_ros.camera import Intrinsics, IntrinsicsByStamp
from crossinfonet_ros.cpus import usable_cores
from crossinfonet_ros.estimator import HandPoseEstimator
from crossinfonet_ros.frame_buffers import FrameBuffers
from crossinfonet_ros.hand_gate import gate_from_setting
from crossinfonet_ros.hands import HandsPipeline, HandsResult
from crossinfonet_ros.msg import HandPose, HandPoseArray
from crossinfonet_ros.node.input_watch import InputWatch, Silence, silence_message
from crossinfonet_ros.node.params import PARAMETERS, SHIPPED_HAND_CLASSIFIER, NodeParams, \
    find_shipped_weights
from crossinfonet_ros.node.stats import NodeStats, Throttle, health, stamp_age_ms
from crossinfonet_ros.pipeline import HandResult, PipelineConfig
from crossinfonet_ros.node.ros_convert import DepthImageError, image_to_mm
from crossinfonet_ros.segmentation import HandDetectorConfig
from crossinfonet_ros.node.target_frame import TargetFrame, stamp_seconds
from crossinfonet_ros.node.tf_buffer import TransformError
from crossinfonet_ros.node import ros_messages as messages
from crossinfonet_ros.visuals import draw_debug
from crossinfonet_ros.weights import WeightsError
from crossinfonet_ros.node.weights_watch import WeightsWatcher, describe_error

# Sensor-data QoS with a queue of one: only the newest frame matters (anchors B.7).
SENSOR_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                        reliability=ReliabilityPolicy.BEST_EFFORT,
                        durability=DurabilityPolicy.VOLATILE)
# tf2_ros.TransformBroadcaster's QoS (tf2_ros has no PyPI wheel here).
TF_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                    reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)
# tf2_ros.TransformListener's subscription QoS (ros2/geometry2,
# tf2_ros_py/tf2_ros/transform_listener.py): keep last 100, reliable (the QoSProfile default),
# volatile on /tf (the broadcaster's, TF_QOS) and transient local on /tf_static (late joiners
# get the static tree).
TF_LISTENER_QOS = TF_QOS
TF_STATIC_LISTENER_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                                    reliability=ReliabilityPolicy.RELIABLE,
                                    durability=DurabilityPolicy.TRANSIENT_LOCAL)
WARN_PERIOD_S = 5.0
WEIGHTS_POLL_PERIOD_S = 1.0  # how often the weights file is looked at
INPUT_CHECK_PERIOD_S = 1.0  # how often the inputs are checked for silence
# A lasting silence is said again every this many input_timeouts (10 s by default): visible
# in a console, not a flood.
SILENCE_REPEAT = 2.0
# The inputs watched for silence: key -> (what it carries, the subscription's own topic name).
INPUTS = {'depth_image': ('depth image', 'depth/image'),
          'camera_info': ('camera info', 'depth/camera_info')}


class StartupError(RuntimeError):
    """The node cannot start (weights, parameters); the message says why."""


def _reports_exceptions(transition: str):
    """Make a transition callback that raises say why: rclpy swallows the exception and
    reports only ERROR, which left 'cannot start: ' with no reason."""
    def wrap(callback):
        @functools.wraps(callback)
        def run(self, state):
            try:
                return callback(self, state)
            except Exception as error:
                self._failed(transition, describe_error(error))
                raise  # rclpy then runs the error transition (on_error cleans up)
        return run
    return wrap


class HandPoseNode(LifecycleNode):
    """Estimates the 3D joints of one hand in every depth frame (a lifecycle node).

    :raises StartupError: a parameter cannot be declared, or (with ``autostart``) the
        configure or activate transition fails; the message says why
    """

    def __init__(self, **kwargs) -> None:
        # Before anything can fail: a constructor that raises still gets torn down (main(),
        # and Kilted's rclpy destroys every node of a context when it shuts down).
        self._init_teardown_state()
        super().__init__('hand_pose_node', **kwargs)
        self._values = self._declare_parameters()  # read-only: read once, checked on configure
        self.params: Optional[NodeParams] = None  # set by configure
        self.weights_path: Optional[str] = None  # set by configure
        self._throttle = Throttle(WARN_PERIOD_S)
        self._camera_infos = IntrinsicsByStamp()  # valid camera infos, matched to images
        self._used_intrinsics: Optional[Intrinsics] = None  # last frame's, worker thread only
        self._depth_buffers = FrameBuffers()  # converted depth images, worker thread only
        self._markers_shown = False
        self._autostarting = bool(self._values['autostart'])
        self._transition_error = ''  # why the last configure / activate failed
        self._worker = threading.Thread(target=self._work, name='hand_pose_worker', daemon=True)
        self._worker.start()
        if self._autostarting:
            for step in (self.trigger_configure, self.trigger_activate):
                if step() != TransitionCallbackReturn.SUCCESS:
                    self.destroy_node()
                    raise StartupError(self._transition_error or f'{step.__name__} failed')
            self._autostarting = False

    def _init_teardown_state(self) -> None:
        """What destroy_node and the shutdown / error transitions touch, in its idle state."""
        self.weights_watcher: Optional[WeightsWatcher] = None  # set by activate
        # Read by the worker once per frame; replaced whole by a weights reload; None while
        # not active (the model is freed).
        self.pipeline: Optional[HandsPipeline] = None
        self.stats = NodeStats()
        self._target: Optional[TargetFrame] = None  # with target_frame set, from configure
        self._inputs: Optional[InputWatch] = None  # from configure: silence per input
        self._input_subs = {}  # INPUTS key -> its subscription, from configure
        self._topics = {}  # INPUTS key -> its resolved topic name, from configure
        self._pending = deque()  # (Image, receive time ns, age ms) waiting for the worker
        self._wake = threading.Condition()
        self._stopping = False
        # Guards ``pipeline`` (None exactly while not active): a reload finishing during
        # deactivate must not put a model back.
        self._active_lock = threading.Lock()
        self._entities = []  # subscriptions, publishers and timers made by configure
        self._poll_timer = None  # the weights watcher's timer, while active
        self._worker: Optional[threading.Thread] = None  # started once parameters are declared

    @property
    def estimator(self) -> HandPoseEstimator:
        """The estimator in use (changes when the weights file is reloaded).

        :raises RuntimeError: the node is not active, so no model is loaded
        """
        pipeline = self.pipeline
        if pipeline is None:
            raise RuntimeError('hand_pose_node is not active: no model is loaded')
        return pipeline.estimator

    # --- lifecycle --------------------------------------------------------------------------
    def _failed(self, transition: str, message: str) -> TransitionCallbackReturn:
        """Say once why a transition failed (autostart: main() says it as 'cannot start')."""
        self._transition_error = message
        if not self._autostarting:
            self.get_logger().error(f'cannot {transition}: {message}')
        return TransitionCallbackReturn.FAILURE

    @_reports_exceptions('configure')
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Check the parameters, find the weights file, create the topics."""
        try:
            self.params = NodeParams.from_values(self._values)
            self.weights_path = self._weights_path()
        except (ValueError, StartupError) as error:
            self.params = None
            return self._failed('configure', str(error))
        overrides = QoSOverridingOptions.with_default_policies()
        self.pose_pub = self.create_lifecycle_publisher(HandPose, 'hand_pose', 10)
        self.hands_pub = self.create_lifecycle_publisher(HandPoseArray, 'hands', 10)
        self.marker_pub = self.create_lifecycle_publisher(MarkerArray, 'hand_markers', 10)
        # Reliable matches both reliable and best-effort viewers.
        self.debug_pub = self.create_lifecycle_publisher(Image, '~/debug_image', 1)
        self.tf_pub = self.create_lifecycle_publisher(TFMessage, '/tf', TF_QOS)
        # Diagnostics go on while inactive: they say the node is inactive.
        self.diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        # A copy each: rclpy writes the qos_overrides parameters into the profile it is given,
        # so a shared one would carry the image's overrides to the camera info and beyond.
        self._input_subs = {
            'depth_image': self.create_subscription(
                Image, INPUTS['depth_image'][1], self._on_image, copy(SENSOR_QOS),
                qos_overriding_options=overrides),
            'camera_info': self.create_subscription(
                CameraInfo, INPUTS['camera_info'][1], self._on_camera_info, copy(SENSOR_QOS),
                qos_overriding_options=overrides)}
        # Resolved once: the worker names them too, and must not touch a subscription that
        # cleanup may be destroying.
        self._topics = {key: sub.topic_name for key, sub in self._input_subs.items()}
        self._watch_inputs()
        self._entities = [
            self.pose_pub, self.hands_pub, self.marker_pub, self.debug_pub, self.tf_pub,
            self.diag_pub,
            *self._input_subs.values(),
            self.create_timer(self.params.diagnostics_period, self._publish_diagnostics),
            self.create_timer(INPUT_CHECK_PERIOD_S, self._check_inputs)]
        self._target = None
        if self.params.target_frame:  # listen to TF only when there is something to look up
            self._target = TargetFrame(self.params.target_frame, self.params.transform_timeout,
                                       self.params.frame_prefix)
            self._entities += [
                self.create_subscription(TFMessage, '/tf', lambda m: self._on_tf(m, False),
                                         TF_LISTENER_QOS),
                self.create_subscription(TFMessage, '/tf_static', lambda m: self._on_tf(m, True),
                                         TF_STATIC_LISTENER_QOS)]
        return super().on_configure(state)

    @_reports_exceptions('activate')
    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load the model and start answering frames."""
        # Before loading: a change made while the model loads is then seen as one.
        watcher = WeightsWatcher(
            self.weights_path, self._build_pipeline, self._swap_pipeline,
            lambda message: self.get_logger().error(f'weights not reloaded: {message}'))
        try:
            pipeline = self._build_pipeline(self.weights_path)
        except ValueError as error:  # WeightsError included; its message names the file
            return self._failed('activate', str(error))
        self.weights_watcher = watcher
        with self._active_lock:
            self.pipeline = pipeline
        self._used_intrinsics = None  # a fresh model: no tracking seed carried over
        # Callbacks wait while the model loads (seconds, ~20 s for a first ONNX compile): count
        # silence from now, or frames queued meanwhile would read as a silent camera.
        self._watch_inputs()
        if self.params.reload_weights_on_change:
            self._poll_timer = self.create_timer(WEIGHTS_POLL_PERIOD_S, watcher.poll)
        self.get_logger().info(
            f'ready: {pipeline.estimator!r}, output layout {pipeline.output_layout_name}, '
            f'cube {pipeline.config.detector.cube_mm:g} mm, depth band '
            f'[{self.params.min_depth:g}, {self.params.max_depth:g}] m')
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop answering frames and free the model."""
        self._stop_processing()
        self.get_logger().info('inactive: model freed, frames are not answered')
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Remove the topics and timers made by configure."""
        self._release_entities()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Whatever the state: stop processing, free the model, remove the topics."""
        self._stop_processing()
        self._release_entities()
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """A transition raised: back to unconfigured with nothing held."""
        self._stop_processing()
        self._release_entities()
        return super().on_error(state)

    def _stop_processing(self) -> None:
        if self._poll_timer is not None:
            self.destroy_timer(self._poll_timer)
            self._poll_timer = None
        with self._active_lock:
            self.pipeline = None  # the worker's frame keeps its own reference
        with self._wake:
            dropped = len(self._pending)
            self._pending.clear()
        for _ in range(dropped):
            self.stats.reject('inactive')
            self.stats.count('processed')
        self.weights_watcher = None

    def _release_entities(self) -> None:
        for entity in self._entities:
            if isinstance(entity, LifecyclePublisher):
                self.destroy_lifecycle_publisher(entity)
            elif isinstance(entity, Publisher):
                self.destroy_publisher(entity)
            elif isinstance(entity, Timer):
                self.destroy_timer(entity)
            else:
                self.destroy_subscription(entity)
        self._entities = []
        self._input_subs = {}
        self._topics = {}
        self._inputs = None
        self._target = None  # its TF buffer goes with the /tf subscriptions

    # --- start-up ---------------------------------------------------------------------------
    def _declare_parameters(self) -> dict:
        """Declare every parameter (read-only, described); ``{name: value}``."""
        values = {}
        for name, default, description in PARAMETERS:
            descriptor = ParameterDescriptor(description=description, read_only=True)
            try:
                values[name] = self.declare_parameter(name, default, descriptor).value
            except Exception as error:  # e.g. an int given for a double: name it, no traceback
                raise StartupError(f'parameter {name!r}: {type(error).__name__}: {error}') \
                    from None
        return values

    def _weights_path(self) -> str:
        if self.params.weights:
            return self.params.weights
        shipped = find_shipped_weights(crossinfonet_ros.__path__)
        if shipped is None:
            raise StartupError(
                'no weights: the shipped weights/hands2017_synth.safetensors is in none of '
                f'{list(crossinfonet_ros.__path__)}; pass one with -p weights:=<file>')
        return str(shipped)

    def _build_pipeline(self, path: str) -> HandsPipeline:
        """A pipeline around the weights in ``path`` (start-up and reloads).

        :raises ValueError: bad weights (:class:`WeightsError`), or weights that cannot run here
            or with these parameters; the message names the file
        """
        try:
            estimator = HandPoseEstimator.from_weights(path, self.params.device,
                                                       self.params.backend,
                                                       self.params.threads or usable_cores())
        except WeightsError:
            raise
        except ValueError as error:
            raise ValueError(f'cannot run {path}: {error}') from None
        cube_mm = self.params.cube_size * 1000.0 or estimator.cube_mm
        network_side = str((estimator.metadata.training or {}).get('handedness', 'right'))
        try:
            return HandsPipeline(estimator, PipelineConfig(
                detector=HandDetectorConfig(min_depth_mm=self.params.min_depth * 1000.0,
                                            max_depth_mm=self.params.max_depth * 1000.0,
                                            cube_mm=cube_mm),
                tracking=self.params.tracking, refine_passes=self.params.refine_passes,
                output_layout=self.params.output_layout,
                smoothing=self.params.smoothing,
                one_euro_min_cutoff=self.params.one_euro_min_cutoff,
                one_euro_beta=self.params.one_euro_beta,
                handedness=self.params.handedness,
                side_vote_frames=self.params.side_vote_frames,
                hand_gate=gate_from_setting(
                    self.params.hand_classifier, self.params.hand_threshold,
                    find_shipped_weights(crossinfonet_ros.__path__, SHIPPED_HAND_CLASSIFIER),
                    cube_mm),
                network_side=network_side if network_side in ('right', 'left') else 'right'),
                max_hands=self.params.max_hands,
                second_hand_score=self.params.second_hand_score)
        except ValueError as error:
            raise ValueError(f'{path}: {error}') from None

    def _swap_pipeline(self, pipeline: HandsPipeline) -> None:
        with self._active_lock:
            if self.pipeline is None:  # deactivated while loading: keep the model freed
                return
            self.pipeline = pipeline  # one assignment: the next frame runs on the new model
        self.get_logger().info(f'weights reloaded from {self.weights_path}: '
                               f'{pipeline.estimator!r}')

    # --- input ------------------------------------------------------------------------------
    def _warn(self, key: str, message: str) -> None:
        ready, suppressed = self._throttle.ready(key)
        if ready:
            more = f' ({suppressed} more since the last report)' if suppressed else ''
            self.get_logger().warning(message + more)

    def _arrived(self, key: str) -> None:
        """Note a message on an input; say once that it is back after a reported silence."""
        inputs = self._inputs
        silent_for = inputs.arrived(key, time.monotonic()) if inputs else None
        if silent_for is not None:
            self.get_logger().info(f'{INPUTS[key][0]} arriving on {self._topic(key)} again, '
                                   f'after {silent_for:.1f} s without')

    def _watch_inputs(self) -> None:
        timeout = self.params.input_timeout
        self._inputs = InputWatch(INPUTS, timeout, SILENCE_REPEAT * timeout or 1.0,
                                  time.monotonic())

    def _topic(self, key: str) -> str:
        """An input's resolved topic name (remapped, in the node's namespace)."""
        return self._topics.get(key, INPUTS[key][1])

    def _silences(self, silences: Iterable[Silence]) -> List[str]:
        """One line per silent input, with its topic and how many publish on it now."""
        lines = []
        for silence in silences:
            topic = self._topic(silence.name)
            lines.append(silence_message(silence, INPUTS[silence.name][0], topic,
                                         self.count_publishers(topic)))
        return lines

    def _check_inputs(self) -> None:
        inputs = self._inputs
        if inputs is None:
            return
        lines = self._silences(inputs.due(time.monotonic()))
        if lines:  # InputWatch throttles: new silences, then every SILENCE_REPEAT timeouts
            self.get_logger().warning('; '.join(lines))

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._arrived('camera_info')
        try:
            intrinsics = Intrinsics.from_k(msg.k, msg.width, msg.height)
        except ValueError as error:
            self.stats.reject('camera_info')
            self._warn('camera_info', f'ignoring camera info on {msg.header.frame_id!r}: '
                                      f'{error}')
            return
        self._camera_infos.add((msg.header.stamp.sec, msg.header.stamp.nanosec), intrinsics)

    def _on_tf(self, msg: TFMessage, static: bool) -> None:
        try:
            self._target.add(msg, static)
        except ValueError as error:
            # Counted, not a rejection: another node's bad TF must not mark this node WARN.
            self.stats.count('bad_transform')
            self._warn('bad_transform', str(error))

    def _on_image(self, msg: Image) -> None:
        received = time.monotonic_ns()
        age_ms = stamp_age_ms(msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec,
                              time.time_ns())
        self.stats.count('input')
        self._arrived('depth_image')
        if self.pipeline is None:
            self.stats.reject('inactive')
            self.stats.count('processed')  # dealt with: nothing waits for it
            self._warn('inactive', 'depth frames are not answered while the node is inactive')
            return
        with self._wake:
            if len(self._pending) >= self.params.max_pending_frames:
                self._pending.popleft()
                self.stats.count('dropped')
            self._pending.append((msg, received, age_ms))
            self._wake.notify()

    def _work(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                msg, received, age_ms = self._pending.popleft()
            try:
                self.process(msg, received, age_ms)
            except Exception as error:  # never let one frame stop the node
                self.stats.reject('internal_error')
                self._warn('internal_error', f'frame dropped, internal error: '
                                             f'{type(error).__name__}: {error}')
            finally:
                self.stats.count('processed')

    # --- processing -------------------------------------------------------------------------
    def process(self, msg: Image, received_ns: int,
                input_age_ms: Optional[float] = None) -> Optional[HandsResult]:
        """Run one image through the pipeline and publish; None when the image was rejected.

        :param received_ns: ``time.monotonic_ns()`` when the image arrived
        :param input_age_ms: its age on arrival, ms (:func:`.stats.stamp_age_ms`); None: not
            known
        """
        queue_ms = (time.monotonic_ns() - received_ns) * 1e-6  # waiting for the worker
        pipeline = self.pipeline  # one model for the whole frame, even if a reload lands now
        if pipeline is None:  # deactivated since the frame was queued
            self.stats.reject('inactive')
            return None
        stamp = msg.header.stamp
        intrinsics = self._camera_infos.for_stamp((stamp.sec, stamp.nanosec))
        if intrinsics is None:
            self.stats.reject('no_camera_info')
            self._warn('no_camera_info', 'skipping depth frames until a valid camera info '
                                         f"arrives on {self._topic('camera_info')}")
            return None
        started = time.perf_counter()
        try:
            # The worker's frames are converted into reused arrays; a direct call gets its own.
            buffers = self._depth_buffers if threading.current_thread() is self._worker else None
            depth_mm = image_to_mm(msg, self.params.depth_scale, buffers)
        except DepthImageError as error:
            self.stats.reject(error.kind)
            self._warn(error.kind, f'dropping depth image: {error}')
            return None
        if depth_mm.shape != (intrinsics.height, intrinsics.width):
            self.stats.reject('size_mismatch')
            self._warn('size_mismatch', f'dropping depth image: it is {msg.width}x{msg.height}, '
                                        f'the camera info says {intrinsics.width}x'
                                        f'{intrinsics.height}')
            return None
        convert_ms = (time.perf_counter() - started) * 1e3
        if intrinsics != self._used_intrinsics:  # another camera: the tracking seed is stale
            pipeline.reset()
            self._used_intrinsics = intrinsics
        found = pipeline.process(depth_mm, intrinsics, stamp_seconds(stamp))
        result = found.primary
        output = (msg.header, result, found.hands)  # HandPose(s) and markers
        target = self._target  # one object for the frame, even across a reconfigure
        if target is not None:
            try:
                header, primary = target.express(msg.header, result)
                output = (header, primary,
                          tuple(target.express(msg.header, hand)[1] for hand in found.hands))
            except TransformError as error:
                self.stats.reject('no_transform')
                self._warn('no_transform', f'no HandPose for this frame: {error}')
                return None
        if not result.detected:
            if not np.any(depth_mm):  # only on failure: a full-frame test costs ~0.3 ms
                self.stats.count('empty_depth')
                self._warn('empty_depth', 'depth image holds no valid reading (all zero, NaN '
                                          'or inf): answered with detected=false')
            else:
                self._warn('no_hand', f'no hand: {result.reason}')
        published = time.perf_counter()
        self._publish(msg, found, output, received_ns, intrinsics, pipeline)
        timings = dict(found.timings_ms, queue=queue_ms, convert=convert_ms,
                       publish=(time.perf_counter() - published) * 1e3)
        if input_age_ms is not None:
            timings['input_age'] = input_age_ms
        # The latency first: a report that counts this output then holds its stages too.
        self.stats.latency((time.monotonic_ns() - received_ns) * 1e-6, timings)
        self.stats.count('detected', int(result.detected))
        if pipeline.max_hands > 1:  # per side: /diagnostics reports both
            for side in ('left', 'right'):
                self.stats.count(f'detected_{side}',
                                 sum(hand.handedness == side for hand in found.hands))
        self.stats.count('output')
        return found

    # --- output -----------------------------------------------------------------------------
    def _publish(self, image: Image, found: HandsResult,
                 output: Tuple[Header, HandResult, Tuple[HandResult, ...]], received_ns: int,
                 intrinsics: Intrinsics, pipeline: HandsPipeline) -> None:
        """HandPose, HandPoseArray and markers from ``output`` (in target_frame when set); the
        joint TF frames and the debug image from ``found``, in the image frame."""
        header = image.header
        out_header, out_result, out_hands = output
        layout = pipeline.output_layout_name
        processing_ns = time.monotonic_ns() - received_ns
        self.pose_pub.publish(messages.hand_pose(out_header, out_result, layout, processing_ns))
        self.hands_pub.publish(messages.hand_poses(out_header, out_hands, layout, processing_ns))
        two = pipeline.max_hands > 1
        if found.hands and self.params.publish_tf:
            self.tf_pub.publish(messages.hands_transforms(header, found.hands,
                                                          self.params.frame_prefix, two))
        lifetime = self.params.marker_lifetime
        if two and (out_hands or self._markers_shown):
            self.marker_pub.publish(messages.hands_markers(out_header, out_hands,
                                                           pipeline.layout.edges, lifetime))
        elif out_result.detected:
            self.marker_pub.publish(messages.skeleton_markers(
                out_header, out_result, pipeline.layout.edges, lifetime))
        elif self._markers_shown:
            self.marker_pub.publish(messages.clear_markers(out_header))
        self._markers_shown = bool(out_hands)
        if found.hands and self.debug_pub.get_subscription_count() > 0:
            views = [draw_debug(hand.crop, hand.crop_joints_uv(intrinsics), pipeline.layout.edges)
                     for hand in found.hands]
            self.debug_pub.publish(messages.bgr_image(header, np.hstack(views)))

    def _publish_diagnostics(self) -> None:
        pairs, window = self.stats.report()
        pipeline = self.pipeline
        status = DiagnosticStatus(
            name=f'{self.get_name()}: hand pose pipeline',
            hardware_id=pipeline.estimator.device if pipeline else self.params.device)
        inputs = self._inputs
        silent = self._silences(inputs.silent(time.monotonic())) if inputs else []
        ok, status.message = health(pipeline is not None, self._camera_infos.newest is not None,
                                    window, silent)
        status.level = DiagnosticStatus.OK if ok else DiagnosticStatus.WARN
        for key in INPUTS:  # where the node listens: the first thing to check when nothing comes
            topic = self._topic(key)
            pairs += [(f'{key}_topic', topic),
                      (f'{key}_publishers', str(self.count_publishers(topic)))]
        status.values = [KeyValue(key=k, value=v) for k, v in pairs]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(array)

    def destroy_node(self) -> None:
        """Stop the worker thread, free the model, then destroy the node."""
        with self._active_lock:
            self.pipeline = None
        with self._wake:
            self._stopping = True
            self._wake.notify()
        worker = self._worker
        if worker is not None and worker.is_alive() and worker is not threading.current_thread():
            worker.join(timeout=5.0)
        super().destroy_node()


def main(args=None) -> int:
    """Run the node until SIGINT / SIGTERM; exit code 0 on a clean stop, 1 on a start error."""
    # rclpy's own SIGINT handler (installed by init) shuts the context down, which ends spin,
    # and then calls this one. It interrupts a slow start (an ONNX export) but, once
    # the node spins, raises nothing: a KeyboardInterrupt would land in whatever runs at that
    # moment (in a __del__ it prints a traceback), and a second signal (ros2 launch sends one on
    # top of the terminal's Ctrl-C) must not cut the teardown short.
    interrupt = [True]

    def on_signal(number: int, frame) -> None:
        if interrupt[0]:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    rclpy.init(args=args)
    # SIGTERM (e.g. from a process manager) stops through KeyboardInterrupt, bypassing rclpy's
    # handler: with it, the context shut down under a start still finishing ended in exit 1.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    node = None
    code = 0
    # Made before the node says 'ready': a signal that lands while rclpy.spin would still be
    # building its executor leaves a half-made one whose __del__ prints a traceback.
    rclpy.get_global_executor()
    try:
        node = HandPoseNode()
        interrupt[0] = False
        rclpy.spin(node)
    except StartupError as error:
        if rclpy.ok():  # else a signal stopped the start (rclpy shut the context): a stop
            rclpy.logging.get_logger('hand_pose_node').fatal(f'cannot start: {error}')
            code = 1
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        # The context shut down by a signal while the executor builds its next wait set
        # (RCLError, a race inside rclpy): the same stop as Ctrl-C.
        if rclpy.ok():
            raise
    finally:
        # Ignored, not only quiet: at exit Python resets its own handlers to the default, and a
        # late signal would then kill the process with a non-zero code.
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_IGN)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return code


if __name__ == '__main__':
    sys.exit(main())
