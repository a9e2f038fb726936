"""Fuzzing the weights file (issue 21): generated damaged files against both loaders, the
node's start and its hot reload.

Properties: every damaged file is refused by ``load_weights`` and by
``HandPoseEstimator.from_weights`` (CPU, ONNX Runtime, with the model cache warm for the
undamaged file, so the torch-free header path and the cached-digest check run too) with a
``WeightsError`` whose one-line message names the file and holds a word of the damage's reason;
no other exception escapes. Megabyte headers, shape bombs and huge sparse files are refused
without allocating what they claim. The installed node exits non-zero with one clear fatal
line; a running node keeps answering with its model when a damaged file replaces its weights.
Hypothesis runs derandomized (the same files every run); strategies in fuzz_weights.py.
"""

import collections
import datetime
from pathlib import Path
import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossinfonet_ros.backends import cache
from crossinfonet_ros.backends.probe import random_weights
from crossinfonet_ros.estimator import HandPoseEstimator
from crossinfonet_ros.weights import MAX_PROBLEM_CHARS, WeightsError, load_weights
from fuzz_weights import (Base, Damage, damages, dumps, header_length, metadata_field,
                          nesting, tensor_entry, values)
# The in-process node on a copy of the random weights, shared with the reload tests.
from test_weights_reload import node  # noqa: F401 (a pytest fixture)

LOADER_EXAMPLES = 1000  # damaged files, each through both loaders
NODE_EXAMPLES = 8  # damaged files as the node's start-up weights
RELOAD_EXAMPLES = 6  # damaged files written over a running node's weights
# A generous bound per file (measured: well under a second each), not a timing check.
PER_FILE_S = datetime.timedelta(seconds=30)


def _settings(examples: int) -> settings:
    return settings(max_examples=examples, deadline=PER_FILE_S, derandomize=True,
                    database=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope='module')
def base(tmp_path_factory) -> Base:
    """A valid tiny-input (32 px) weights file; its ONNX graph cached (fast path warm)."""
    folder = tmp_path_factory.mktemp('fuzz-weights')
    path = random_weights(folder / 'base.safetensors', seed=21, input_size=32)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(cache.CACHE_ENV, str(folder / 'cache'))
        HandPoseEstimator.from_weights(path, 'cpu', 'onnxruntime', 1)
        yield Base.read(path)


def _check_refusal(error: BaseException, path, damage: Damage) -> str:
    assert type(error) is WeightsError, f'{damage.kind}: {type(error).__name__}: {error}'
    message = str(error)
    assert str(path) in message and error.problem.strip(), (damage.kind, message)
    assert '\n' not in message and len(error.problem) <= MAX_PROBLEM_CHARS + 40, damage.kind
    assert not damage.words or any(word in message for word in damage.words), \
        (damage.kind, damage.words, message)
    return message


def _refusals(base: Base, damage: Damage, path) -> list:
    """The messages of both loaders for the damaged file at ``path``."""
    damage.write(base, path)
    messages = []
    try:
        for load in (load_weights,
                     lambda p: HandPoseEstimator.from_weights(p, 'cpu', 'onnxruntime', 1)):
            try:
                load(path)
            except Exception as error:  # noqa: BLE001 (the property: only WeightsError)
                messages.append(_check_refusal(error, path, damage))
            else:
                pytest.fail(f'accepted a damaged file: {damage.kind}')
    finally:
        path.unlink(missing_ok=True)
    return messages


def test_every_damaged_file_is_refused_by_both_loaders_with_one_clear_error(base, tmp_path):
    seen = collections.Counter()
    slowest = [0.0, '']

    @_settings(LOADER_EXAMPLES)
    @given(damage=damages(base))
    def check(damage):
        started = time.monotonic()
        _refusals(base, damage, tmp_path / 'damaged.safetensors')
        words = damage.kind.split(':')[0].split(' ')
        seen[' '.join(words[:2] if words[0] == 'tensor' else words[:1])] += 1
        seen['megabyte value'] += 'characters' in damage.kind
        took = time.monotonic() - started
        if took > slowest[0]:
            slowest[:] = [took, damage.kind]

    started = time.monotonic()
    check()
    files = sum(seen.values()) - seen['megabyte value']  # (that one counts a subset again)
    print(f'\n{files} damaged files in {time.monotonic() - started:.1f} s, slowest '
          f'{slowest[0]:.2f} s ({slowest[1]}): {dict(seen)}')
    assert files >= LOADER_EXAMPLES
    for family in ('header', 'truncated', 'padded', 'json', 'nesting', 'tensor dtype',
                   'tensor offsets', 'tensor shape', 'tensor name', 'tensor entry', 'format',
                   'format_version', 'model_config', 'layout', 'joint_names', 'cube_mm',
                   'input_size', 'stored_dtype', 'tensors_sha256', 'megabyte value', 'inf',
                   'nan', 'pickle', 'zip', 'random'):
        assert seen[family] > 0, (family, dict(seen))


@pytest.mark.parametrize('damage', [
    'header length 2**63', 'header of 3.9 MB', 'nesting 50000', 'shape bomb',
    'consistent 1 GB tensor', 'sparse 2 GB file'])
def test_bombs_are_refused_without_allocating_what_they_claim(base, tmp_path, damage):
    header = base.copy()
    name = base.names[-1]
    made = {
        'header length 2**63': Damage(damage, dumps(header), ('safetensors',), length=2 ** 63),
        'header of 3.9 MB': Damage(damage, dumps(dict(header, __metadata__=dict(
            header['__metadata__'], layout='x' * 3_900_000))), ('layout',)),
        'nesting 50000': Damage(damage, dumps(dict(header, __metadata__=dict(
            header['__metadata__'], training='[' * 50000 + ']' * 50000))), ('nests deeper',)),
        'sparse 2 GB file': Damage(damage, dumps(header), ('larger than',),
                                   size_change=2 ** 31),
    }.get(damage)
    if damage == 'shape bomb':
        header[name]['shape'] = [2 ** 40, 2 ** 40]
        made = Damage(damage, dumps(header), ('safetensors',))
    elif damage == 'consistent 1 GB tensor':  # the last tensor grows; the file is sparse
        last = max(base.names, key=lambda n: header[n]['data_offsets'][1])
        start = header[last]['data_offsets'][0]
        header[last]['shape'] = [2 ** 28]
        header[last]['dtype'] = 'F32'
        header[last]['data_offsets'] = [start, start + 2 ** 30]
        grown = start + 2 ** 30 - base.data_size
        made = Damage(damage, dumps(header), ('has shape', 'checksum'), size_change=grown)
    path = tmp_path / 'bomb.safetensors'
    tracemalloc.start()
    try:
        _refusals(base, made, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f'\n{damage}: peak {peak / 1e6:.1f} MB traced')
    assert peak < 64e6, (damage, peak)


# --- the node ----------------------------------------------------------------------------------
_NODE_DAMAGES = lambda base: st.one_of(  # noqa: E731
    nesting(base), metadata_field(base), tensor_entry(base), header_length(base), values(base))


@pytest.mark.ros
def test_node_start_on_a_damaged_file_exits_with_one_clear_fatal_line(base, tmp_path):
    from node_process import start_test_node
    seen = []

    def start(damage):
        path = damage.write(base, tmp_path / f'start{len(seen)}.safetensors')
        child = start_test_node(path, backend='onnxruntime')
        output, _ = child.communicate(timeout=120)
        path.unlink()
        fatal = [line for line in output.splitlines() if 'cannot start' in line]
        assert child.returncode != 0, output
        assert len(fatal) == 1 and str(path) in fatal[0], output
        assert not damage.words or any(word in fatal[0] for word in damage.words), \
            (damage.kind, output)
        assert 'Traceback' not in output
        seen.append((damage.kind, fatal[0].split(str(path) + ': ', 1)[-1][:90]))

    # The file: metadata nested 50,000 levels deep ('cannot start: ' and no reason).
    header = base.copy()
    header['__metadata__']['training'] = '[' * 50000 + ']' * 50000
    start(Damage('training nested 50000 levels', dumps(header), ('nests deeper',)))

    @_settings(NODE_EXAMPLES)
    @given(damage=_NODE_DAMAGES(base))
    def check(damage):
        start(damage)

    check()
    print('\n' + '\n'.join(f'{kind}: {line}' for kind, line in seen))
    assert len(seen) >= NODE_EXAMPLES + 1


@pytest.mark.ros
@pytest.mark.parametrize('error', [RecursionError('maximum recursion depth exceeded'),
                                   MemoryError()])
def test_start_failure_of_an_unforeseen_type_still_says_why(base, monkeypatch, error):
    """rclpy swallows an exception raised by a transition callback; the node must still name
    it (this was 'cannot start: ' with nothing after it). The estimator is made to fail."""
    rclpy = pytest.importorskip('rclpy', reason='rclpy comes with `make test` set-up')
    from rclpy.parameter import Parameter
    from crossinfonet_ros.node import HandPoseNode
    from crossinfonet_ros.node.hand_pose_node import StartupError

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(HandPoseEstimator, 'from_weights', fail)
    rclpy.init()
    try:
        with pytest.raises(StartupError) as caught:
            HandPoseNode(parameter_overrides=[Parameter('weights', value=str(base.path))])
    finally:
        rclpy.shutdown()
    assert str(caught.value) == f'{type(error).__name__}: {error}'.rstrip(': ')


@pytest.mark.ros
def test_running_node_keeps_its_model_when_damaged_files_replace_its_weights(
        base, tmp_path, node):
    # `node`: test_weights_reload's in-process node on a copy of the random weights.
    from test_weights_reload import _replace_atomically, frame_answerer
    live, log = Path(node.weights_path), node.log
    answer = frame_answerer(node)

    model, first = node.estimator, answer()
    written = []

    @_settings(RELOAD_EXAMPLES)
    @given(damage=_NODE_DAMAGES(base))
    def check(damage):
        staged = damage.write(base, tmp_path / 'download.safetensors')
        if len(written) % 2:  # in place, as a plain copy would
            live.write_bytes(staged.read_bytes())
            staged.unlink()
        else:  # renamed over it, as a download tool would
            _replace_atomically(live, staged.read_bytes())
        for _ in range(3):
            node.weights_watcher.poll()
        node.weights_watcher.wait(60)
        written.append(damage.kind)
        errors = [m for level, m in log.lines if level == 'error']
        assert len(errors) == len(written), (damage.kind, log.lines)
        assert str(live) in errors[-1] and 'keeping the loaded model' in errors[-1]
        assert node.estimator is model
        np.testing.assert_allclose(answer(), first, atol=1e-6)

    check()
    assert len(written) >= RELOAD_EXAMPLES
    assert not [m for level, m in log.lines if 'weights reloaded' in m]
