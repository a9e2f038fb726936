"""The node's own TF buffer: chains, inverses, static and dynamic edges, interpolation, errors,
waiting and threads (ROS-free)."""

import math
import threading
import time

import numpy as np
import pytest

from crossinfonet_ros.node import tf_buffer
from crossinfonet_ros.node.tf_buffer import (RigidTransform, TransformBuffer, TransformError,
                                        quaternion_to_matrix)

IDENTITY_Q = (0.0, 0.0, 0.0, 1.0)


def about(axis, degrees):
    """(x, y, z, w) quaternion of a rotation about a unit axis."""
    half = math.radians(degrees) / 2
    return tuple(np.append(np.asarray(axis, float) * math.sin(half), math.cos(half)))


def rot_z(degrees):
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def rot_x(degrees):
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


POINTS = np.array([[0.1, -0.2, 0.5], [0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])


@pytest.fixture
def tree():
    """world -> base (static, 90 deg about z, +1 x), base -> camera (static, -90 deg about x,
    +0.5 z), world -> table (static, +2 y)."""
    buffer = TransformBuffer()
    buffer.add('world', 'base', 0.0, (1.0, 0.0, 0.0), about((0, 0, 1), 90), static=True)
    buffer.add('base', 'camera', 0.0, (0.0, 0.0, 0.5), about((1, 0, 0), -90), static=True)
    buffer.add('world', 'table', 0.0, (0.0, 2.0, 0.0), IDENTITY_Q, static=True)
    return buffer


def test_quaternion_matrix_matches_the_rotation_it_names():
    assert np.allclose(quaternion_to_matrix(about((0, 0, 1), 30)), rot_z(30))
    assert np.allclose(quaternion_to_matrix(about((1, 0, 0), -45)), rot_x(-45))
    with pytest.raises(ValueError, match='not a rotation quaternion'):
        quaternion_to_matrix((0, 0, 0, 0))


def test_chain_up_the_tree_composes_the_edges(tree):
    found = tree.lookup('world', 'camera', 5.0)
    camera_in_base = POINTS @ rot_x(-90).T + [0, 0, 0.5]
    expected = camera_in_base @ rot_z(90).T + [1, 0, 0]
    assert np.allclose(found.apply(POINTS), expected)
    assert np.allclose(found.apply(POINTS[0]), expected[0])  # one point, shape (3,)


def test_reverse_lookup_is_the_inverse(tree):
    forward = tree.lookup('world', 'camera', 0.0)
    backward = tree.lookup('camera', 'world', 0.0)
    assert np.allclose(backward.apply(forward.apply(POINTS)), POINTS)
    assert np.allclose(forward.inverse().rotation, backward.rotation)
    assert np.allclose(forward.inverse().translation, backward.translation)


def test_chain_through_the_common_ancestor(tree):
    # camera -> base -> world -> table: up to world, then down to table.
    found = tree.lookup('table', 'camera', 0.0)
    in_world = tree.lookup('world', 'camera', 0.0).apply(POINTS)
    assert np.allclose(found.apply(POINTS), in_world - [0, 2.0, 0])
    # A common ancestor below the root: the world edge is not needed twice.
    tree.add('base', 'arm', 0.0, (0.0, 0.3, 0.0), IDENTITY_Q, static=True)
    found = tree.lookup('arm', 'camera', 0.0)
    assert np.allclose(found.apply(POINTS), POINTS @ rot_x(-90).T + [0, -0.3, 0.5])


def test_same_frame_is_the_identity_even_when_unknown():
    found = TransformBuffer().lookup('nowhere', 'nowhere', 1.0)
    assert np.allclose(found.apply(POINTS), POINTS)


def test_static_edges_hold_at_any_time(tree):
    early, late = tree.lookup('world', 'camera', 0.0), tree.lookup('world', 'camera', 1e9)
    assert np.allclose(early.apply(POINTS), late.apply(POINTS))


def test_dynamic_edge_is_interpolated_by_hand_computation():
    buffer = TransformBuffer()
    buffer.add('odom', 'base', 10.0, (0.0, 0.0, 0.0), about((0, 0, 1), 0))
    # The same rotation as -q: slerp must still take the short way (90 deg, not 270).
    buffer.add('odom', 'base', 12.0, (2.0, -4.0, 8.0), -np.array(about((0, 0, 1), 90)))
    found = buffer.lookup('odom', 'base', 10.5)  # a quarter of the way
    assert np.allclose(found.translation, [0.5, -1.0, 2.0])
    assert np.allclose(found.rotation, rot_z(22.5))
    # On the samples themselves.
    assert np.allclose(buffer.lookup('odom', 'base', 12.0).rotation, rot_z(90))
    assert np.allclose(buffer.lookup('odom', 'base', 10.0).translation, [0, 0, 0])


def test_dynamic_and_static_edges_chain_at_the_stamp():
    buffer = TransformBuffer()
    buffer.add('map', 'odom', 0.0, (5.0, 0.0, 0.0), IDENTITY_Q, static=True)
    buffer.add('odom', 'base', 1.0, (0.0, 0.0, 0.0), IDENTITY_Q)
    buffer.add('odom', 'base', 2.0, (1.0, 0.0, 0.0), IDENTITY_Q)
    # Out of order is fine: stored sorted.
    buffer.add('odom', 'base', 1.5, (0.0, 1.0, 0.0), IDENTITY_Q)
    assert np.allclose(buffer.lookup('map', 'base', 1.25).translation, [5.0, 0.5, 0.0])
    assert np.allclose(buffer.lookup('map', 'base', 1.75).translation, [5.5, 0.5, 0.0])


def test_unknown_frame_is_named_with_known_ones(tree):
    with pytest.raises(TransformError, match="frame 'gripper' does not exist") as caught:
        tree.lookup('gripper', 'camera', 0.0)
    assert caught.value.kind == 'unknown_frame'
    for known in ('base', 'camera', 'table', 'world'):
        assert known in str(caught.value)
    with pytest.raises(TransformError, match='no transforms received yet'):
        TransformBuffer().lookup('world', 'camera', 0.0)


def test_long_frame_lists_are_shortened(tree):
    for i in range(20):
        tree.add('world', f'f{i:02d}', 0.0, (0, 0, 0), IDENTITY_Q, static=True)
    with pytest.raises(TransformError, match=r'\.\.\. \(24 in all\)'):
        tree.lookup('gripper', 'camera', 0.0)


def test_frames_in_different_trees_are_not_connected(tree):
    tree.add('map', 'robot', 0.0, (0, 0, 0), IDENTITY_Q, static=True)
    with pytest.raises(TransformError, match="'robot' and 'camera' are not connected") as caught:
        tree.lookup('robot', 'camera', 0.0)
    assert caught.value.kind == 'not_connected'
    assert "tree of 'map'" in str(caught.value) and "tree of 'world'" in str(caught.value)


def test_extrapolation_says_how_far_the_samples_are():
    buffer = TransformBuffer()
    buffer.add('world', 'camera', 100.0, (0, 0, 0), IDENTITY_Q)
    buffer.add('world', 'camera', 100.1, (0, 0, 0), IDENTITY_Q)
    with pytest.raises(TransformError, match=r'future.* is 250\.0 ms older') as future:
        buffer.lookup('world', 'camera', 100.35)
    assert future.value.kind == 'future'
    with pytest.raises(TransformError, match=r'past.* is 40\.0 ms newer') as past:
        buffer.lookup('camera', 'world', 99.96)
    assert past.value.kind == 'past'
    assert "'world' -> 'camera'" in str(past.value)


def test_one_dynamic_sample_answers_only_its_stamp():
    buffer = TransformBuffer()
    buffer.add('world', 'camera', 7.0, (1, 2, 3), IDENTITY_Q)
    assert np.allclose(buffer.lookup('world', 'camera', 7.0).translation, [1, 2, 3])
    with pytest.raises(TransformError, match=r'future.* 10\.0 ms older'):
        buffer.lookup('world', 'camera', 7.01)


def test_a_child_with_a_new_parent_keeps_only_the_newest(tree):
    tree.add('table', 'camera', 0.0, (0.0, 0.0, 1.0), IDENTITY_Q, static=True)
    found = tree.lookup('world', 'camera', 0.0)  # now via the table
    assert np.allclose(found.apply(POINTS), POINTS + [0.0, 2.0, 1.0])
    assert np.allclose(tree.lookup('table', 'camera', 0.0).translation, [0, 0, 1])


def test_a_loop_is_reported():
    buffer = TransformBuffer()
    buffer.add('a', 'b', 0.0, (0, 0, 0), IDENTITY_Q, static=True)
    buffer.add('b', 'c', 0.0, (0, 0, 0), IDENTITY_Q, static=True)
    buffer.add('c', 'a', 0.0, (0, 0, 0), IDENTITY_Q, static=True)
    with pytest.raises(TransformError, match='loop') as caught:
        buffer.lookup('a', 'b', 0.0)
    assert caught.value.kind == 'loop'


def test_old_history_is_dropped_and_memory_is_bounded(monkeypatch):
    buffer = TransformBuffer(cache_s=2.0)
    for i in range(50):  # 0.0 .. 4.9 s at 10 Hz
        buffer.add('world', 'camera', i * 0.1, (i, 0, 0), IDENTITY_Q)
    assert np.isclose(buffer.lookup('world', 'camera', 3.0).translation[0], 30.0)
    with pytest.raises(TransformError, match='past'):
        buffer.lookup('world', 'camera', 2.8)  # older than 4.9 - 2.0
    monkeypatch.setattr(tf_buffer, 'MAX_SAMPLES_PER_FRAME', 5)
    buffer.add('world', 'camera', 5.0, (50, 0, 0), IDENTITY_Q)
    assert np.isclose(buffer.lookup('world', 'camera', 4.6).translation[0], 46.0)
    with pytest.raises(TransformError, match='past'):
        buffer.lookup('world', 'camera', 4.55)
    monkeypatch.setattr(tf_buffer, 'MAX_FRAMES', 3)
    buffer.add('world', 'static_one', 0.0, (0, 0, 0), IDENTITY_Q, static=True)
    for name in ('x', 'y', 'z'):
        buffer.add('world', name, 0.0, (0, 0, 0), IDENTITY_Q)
    # The stalest dynamic frames went first; the static one stays.
    assert buffer.frames() == ['static_one', 'world', 'y', 'z']


def test_a_clock_jump_back_restarts_the_history():
    buffer = TransformBuffer(cache_s=1.0)
    buffer.add('world', 'camera', 100.0, (1, 0, 0), IDENTITY_Q)
    buffer.add('world', 'camera', 5.0, (2, 0, 0), IDENTITY_Q)  # a bag started over
    buffer.add('world', 'camera', 5.1, (3, 0, 0), IDENTITY_Q)
    assert np.isclose(buffer.lookup('world', 'camera', 5.05).translation[0], 2.5)


@pytest.mark.parametrize('parent, child, stamp, translation, quaternion, words', [
    ('', 'camera', 0.0, (0, 0, 0), IDENTITY_Q, 'two different, non-empty frames'),
    ('camera', 'camera', 0.0, (0, 0, 0), IDENTITY_Q, 'two different, non-empty frames'),
    ('world', 'camera', 0.0, (0, math.nan, 0), IDENTITY_Q, 'non-finite'),
    ('world', 'camera', math.inf, (0, 0, 0), IDENTITY_Q, 'non-finite'),
    ('world', 'camera', 0.0, (0, 0, 0), (0, 0, 0, 0), 'zero quaternion'),
])
def test_bad_transforms_are_refused(parent, child, stamp, translation, quaternion, words):
    buffer = TransformBuffer()
    with pytest.raises(ValueError, match=words):
        buffer.add(parent, child, stamp, translation, quaternion)
    assert buffer.frames() == []


def test_bad_cache_length_is_refused():
    with pytest.raises(ValueError, match='cache_s must be > 0'):
        TransformBuffer(cache_s=0.0)


def test_wait_for_returns_when_another_thread_adds_the_transform():
    buffer = TransformBuffer()
    buffer.add('world', 'camera', 1.0, (0, 0, 0), IDENTITY_Q)
    adder = threading.Timer(0.1, lambda: buffer.add('world', 'camera', 2.0, (4, 0, 0),
                                                    IDENTITY_Q))
    adder.start()
    started = time.monotonic()
    try:
        found = buffer.wait_for('world', 'camera', 1.5, timeout_s=10.0)
    finally:
        adder.join()
    assert np.allclose(found.translation, [2, 0, 0])
    assert time.monotonic() - started < 10.0  # woken by add, not by the timeout


def test_wait_for_times_out_with_the_lookup_error():
    buffer = TransformBuffer()
    buffer.add('world', 'camera', 1.0, (0, 0, 0), IDENTITY_Q)
    started = time.monotonic()
    with pytest.raises(TransformError, match='future') as caught:
        buffer.wait_for('world', 'camera', 1.5, timeout_s=0.05)
    assert time.monotonic() - started >= 0.05
    assert caught.value.kind == 'future'


def test_wait_for_gives_up_at_once_on_a_stamp_older_than_the_history():
    buffer = TransformBuffer()
    buffer.add('world', 'camera', 1.0, (0, 0, 0), IDENTITY_Q)
    buffer.add('world', 'camera', 2.0, (0, 0, 0), IDENTITY_Q)
    started = time.monotonic()
    with pytest.raises(TransformError, match='past'):
        buffer.wait_for('world', 'camera', 0.5, timeout_s=30.0)
    assert time.monotonic() - started < 30.0


def test_concurrent_adds_and_lookups_stay_consistent():
    """A writer streams a moving frame while readers look up: every answer is the exact
    interpolation of the line the writer follows, and no unexpected error escapes."""
    buffer = TransformBuffer(cache_s=0.5)
    buffer.add('world', 'base', 0.0, (0, 0, 1), IDENTITY_Q, static=True)
    errors, answers = [], []
    newest = [0.0]  # the writer's last stamp; readers look up to 0.5 s behind or 5 ms ahead

    def write():
        for i in range(3000):
            buffer.add('base', 'camera', i * 0.001, (i * 0.001, 0, 0), about((0, 0, 1), 10))
            newest[0] = i * 0.001

    def read():
        rng = np.random.default_rng(threading.get_ident() % 1000)
        for _ in range(1000):  # while the writer runs, and after it is done
            stamp = newest[0] + float(rng.uniform(-0.5, 0.005))
            try:
                found = buffer.wait_for('world', 'camera', stamp, timeout_s=0.01)
            except TransformError as error:
                if error.kind not in ('future', 'past', 'unknown_frame'):
                    errors.append(error)
                continue
            except Exception as error:  # noqa: BLE001 - anything else is the failure here
                errors.append(error)
                continue
            answers.append((stamp, found))

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read)
                                                   for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors[:3]
    assert answers
    for stamp, found in answers:
        assert np.allclose(found.translation, [stamp, 0, 1], atol=1e-9)
        assert np.allclose(found.rotation, rot_z(10))


def test_rigid_transform_composition_and_inverse():
    a = RigidTransform.from_quaternion((1, 2, 3), about((0, 1, 0), 30))
    b = RigidTransform.from_quaternion((-1, 0, 0.5), about((1, 0, 0), 70))
    assert np.allclose((a @ b).apply(POINTS), a.apply(b.apply(POINTS)))
    assert np.allclose((a @ a.inverse()).apply(POINTS), POINTS)
