"""Teardown of hand_pose_node: after its constructor raised, and under repeated signals.

main() destroys what it built, and Kilted's rclpy destroys every node of a context when the
context shuts down, including one whose constructor raised after rclpy's own part was built.
Each path must end quietly: no exception, no worker thread left running. A node process that
gets more signals while it tears down (ros2 launch adds its own SIGINT to the terminal's
Ctrl-C) must still exit 0 without a traceback.
"""

import gc
import signal
import time

import pytest

rclpy = pytest.importorskip('rclpy', reason='rclpy comes with `make test` set-up')
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from crossinfonet_ros.node import HandPoseNode  # noqa: E402
from crossinfonet_ros.node.hand_pose_node import StartupError  # noqa: E402

from node_process import start_test_node  # noqa: E402

pytestmark = pytest.mark.ros


class RecordedNode(HandPoseNode):
    """A HandPoseNode that hands itself out before its own constructor has finished."""

    made: list = []

    def _declare_parameters(self) -> dict:
        RecordedNode.made.append(self)
        return super()._declare_parameters()


@pytest.fixture
def context():
    context = rclpy.Context()
    rclpy.init(context=context)
    yield context
    for node in RecordedNode.made:
        node.destroy_node()
    RecordedNode.made.clear()
    # A lifecycle node's state machine goes only with the node object: free it now, not in
    # some later garbage collection (Fast DDS has deadlocked in such a late teardown here).
    gc.collect()
    context.try_shutdown()


def _failed_node(context, *overrides: Parameter, match: str) -> HandPoseNode:
    with pytest.raises(StartupError, match=match):
        RecordedNode(context=context, parameter_overrides=list(overrides))
    (node,) = RecordedNode.made
    return node


def test_parameter_error_then_destroy_and_shutdown_transitions(context):
    node = _failed_node(context, Parameter('min_depth', value=1), match="parameter 'min_depth'")
    state = LifecycleState('unconfigured', 1)
    assert node.on_error(state) == TransitionCallbackReturn.SUCCESS
    assert node.on_shutdown(state) == TransitionCallbackReturn.SUCCESS
    node.destroy_node()
    node.destroy_node()  # main() and then the context may both do it
    context.shutdown()
    assert node.pipeline is None and node._worker is None


def test_parameter_error_then_context_shutdown(context):
    # Kilted destroys the half-built node here; Jazzy leaves it to the garbage collector.
    node = _failed_node(context, Parameter('threads', value='two'), match="parameter 'threads'")
    context.shutdown()
    assert node.pipeline is None


def test_autostart_failure_stops_the_worker_then_context_shutdown(context, tmp_path):
    bad = tmp_path / 'bad.safetensors'
    bad.write_bytes(b'not a weights file')
    node = _failed_node(context, Parameter('weights', value=str(bad)),
                        Parameter('backend', value='torch'), match=str(bad))
    assert node._worker is not None and not node._worker.is_alive()
    context.shutdown()
    assert node.pipeline is None


def test_signals_during_teardown_do_not_interrupt_it(weights):
    child = start_test_node(weights)
    for line in child.stdout:
        if 'ready:' in line:
            break
    else:
        pytest.fail('hand_pose_node ended before it was ready')
    # SIGINT, then more while it tears down, until it has exited (bounded).
    deadline = time.monotonic() + 30.0
    while child.poll() is None and time.monotonic() < deadline:
        child.send_signal(signal.SIGINT)
        time.sleep(0.005)
    output = child.stdout.read()
    assert child.returncode == 0, output
    assert 'Traceback' not in output, output
