"""Fast start: with the model cache warm, the estimator is rebuilt on the CPU without importing
torch; the file is still fully verified (tensor digest computed from the raw bytes equals
weights.tensors_digest), and bad files get the same WeightsError as on the full path."""

import dataclasses
import json
import os
from pathlib import Path
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from safetensors.torch import load_file, save_file
import torch

from crossinfonet_ros import estimator as estimator_module
from crossinfonet_ros import weights_header
from crossinfonet_ros.backends import (AUTO_RECORD, ModelSource, artifacts, cache,
                                       create_cached_backend)
from crossinfonet_ros.backends.probe import INT8_ACCURACY_BAR_MM, random_weights
from crossinfonet_ros.estimator import HandPoseEstimator, cuda_possible, resolve_device
from crossinfonet_ros.weights import (FORMAT_VERSION, WeightsError, load_model, load_weights,
                                      metadata_fingerprint, save_weights, tensors_digest)

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 240.0  # a cold cache exports and times the ONNX backends first (~10-60 s here)

# Run in a fresh interpreter: prints one JSON line. Full path = load_weights + create_backend
# (torch), fast path = from_weights; 'torch_imported' is read right after the fast path.
SCRIPT = textwrap.dedent('''
    import json, sys
    import numpy as np
    from crossinfonet_ros.backends.probe import probe_crops
    from crossinfonet_ros.estimator import HandPoseEstimator
    from crossinfonet_ros.weights import WeightsError
    mode, path, out, corrupt = sys.argv[1:5]
    crops = probe_crops(4, 96, seed=5)
    centers = np.array([[0.0, 0.0, 400.0], [30.0, -20.0, 500.0], [-50.0, 10.0, 350.0],
                        [5.0, 5.0, 600.0]])
    if mode == 'full':
        from crossinfonet_ros.backends import ModelSource, create_backend
        from crossinfonet_ros.weights import load_weights
        source = ModelSource(*load_weights(path))
        estimator = HandPoseEstimator(create_backend('auto', source, 'cpu', 1), source.metadata)
    else:
        estimator = HandPoseEstimator.from_weights(path, backend='auto', threads=1)
    result = {'backend': estimator.backend, 'device': estimator.device,
              'torch_imported': 'torch' in sys.modules}
    np.save(out, estimator.estimate(crops[:, 0], centers).joints_mm)
    try:
        HandPoseEstimator.from_weights(corrupt, backend='auto', threads=1)
        result['corrupt'] = 'accepted'
    except WeightsError as error:
        result['corrupt'] = str(error)
    result['torch_after_corrupt'] = 'torch' in sys.modules
    print(json.dumps(result))
''')


def run_fresh(mode: str, path: Path, out: Path, corrupt: Path) -> dict:
    """The script in a new interpreter, cache and ROS domain inherited (conftest)."""
    done = subprocess.run([sys.executable, '-c', SCRIPT, mode, str(path), str(out),
                           str(corrupt)], cwd=ROOT, capture_output=True, text=True,
                          timeout=TIMEOUT_S, env={**os.environ, 'PYTHONPATH': os.pathsep.join(
                              filter(None, [str(ROOT), os.environ.get('PYTHONPATH')]))})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def flip_tensor_byte(source: Path, target: Path) -> Path:
    """A copy with one bit flipped inside the tensor data (the header left intact)."""
    data = bytearray(source.read_bytes())
    data[len(data) - 1000] ^= 0x10
    target.write_bytes(bytes(data))
    return target


@pytest.fixture(scope='module')
def tiny_file(tmp_path_factory) -> Path:
    return random_weights(tmp_path_factory.mktemp('tiny') / 'tiny.safetensors', seed=4,
                          input_size=32)


def test_warm_cache_starts_without_torch_and_matches_the_full_path(weights, tmp_path):
    corrupt = flip_tensor_byte(weights, tmp_path / 'corrupt.safetensors')
    full = run_fresh('full', weights, tmp_path / 'full.npy', corrupt)  # fills the cache
    fast = run_fresh('fast', weights, tmp_path / 'fast.npy', corrupt)
    assert full['torch_imported'], 'the full path should have imported torch'
    assert not fast['torch_imported'], 'the warm-cache start imported torch'
    assert fast['backend'] == full['backend'] and fast['device'] == 'cpu'
    full_mm, fast_mm = np.load(tmp_path / 'full.npy'), np.load(tmp_path / 'fast.npy')
    assert full_mm.shape == (4, 21, 3)
    np.testing.assert_allclose(fast_mm, full_mm, rtol=0, atol=1e-4)
    # The corrupt copy has the same header, hence the same (warm) cache entry: the fast path
    # serves it, and its digest check refuses it, still without torch.
    assert 'checksum' in fast['corrupt'] and str(corrupt) in fast['corrupt'], fast['corrupt']
    assert not fast['torch_after_corrupt']
    assert 'checksum' in full['corrupt'], full['corrupt']


def test_raw_digest_equals_tensors_digest_for_fp32_and_fp16_files(tiny_file, tmp_path):
    model, metadata = load_model(tiny_file)
    half = save_weights(tmp_path / 'half.safetensors', model.state_dict(),
                        dataclasses.replace(metadata, stored_dtype='float16'))
    for path in (tiny_file, half):
        meta, header = weights_header.header_metadata(path)
        assert meta == load_weights(path)[1]
        raw = weights_header.file_tensors_digest(path, header.tensors)
        assert raw == meta.tensors_sha256 == tensors_digest(load_file(str(path)))
        weights_header.check_digest(path, meta, header)
    assert {e.dtype for e in weights_header.read_header(half).tensors.values()} == {'F16', 'I64'}


def test_raw_digest_covers_every_dtype_scalars_and_empty_tensors(tmp_path):
    generator = torch.Generator().manual_seed(0)
    tensors = {'f64': torch.randn(3, 2, dtype=torch.float64, generator=generator),
               'bf16': torch.randn(5, generator=generator).bfloat16(),
               'i32': torch.arange(-4, 4, dtype=torch.int32).reshape(2, 4),
               'i16': torch.arange(6, dtype=torch.int16),
               'i8': torch.tensor([-3, 7], dtype=torch.int8),
               'u8': torch.arange(250, 256, dtype=torch.uint8),
               'flag': torch.tensor([True, False]),
               'scalar': torch.tensor(7, dtype=torch.int64), 'empty': torch.zeros(0, 3)}
    path = tmp_path / 'mixed.safetensors'
    save_file(tensors, str(path))
    header = weights_header.read_header(path)
    assert header.tensors['scalar'].shape == () and header.tensors['empty'].shape == (0, 3)
    assert weights_header.file_tensors_digest(path, header.tensors) == tensors_digest(tensors)
    tensors['u8'][0] = 1  # and it sees a one-value change
    assert weights_header.file_tensors_digest(path, header.tensors) != tensors_digest(tensors)


def write_case(case: str, tiny_file: Path, tmp_path: Path) -> Path:
    path = tmp_path / f'{case}.safetensors'
    state = load_file(str(tiny_file))
    if case == 'directory':
        path.mkdir()
    elif case == 'empty':
        path.write_bytes(b'')
    elif case == 'random':
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif case == 'huge_header_length':
        path.write_bytes((10 ** 12).to_bytes(8, 'little') + b'{}')
    elif case == 'truncated':
        path.write_bytes(tiny_file.read_bytes()[:-100])
    elif case == 'padded':
        path.write_bytes(tiny_file.read_bytes() + b'\0' * 8)
    elif case == 'pickle':
        path.write_bytes(pickle.dumps({'weight': 1}, protocol=2))
    elif case == 'onnx':
        path = tmp_path / 'model.onnx'
        path.write_bytes(b'\x08\x08\x12\x07pytorch')
    elif case == 'foreign_safetensors':
        save_file({'weight': torch.zeros(3)}, str(path), metadata={'format': 'pt'})
    elif case in ('newer_version', 'fp16_claims_fp32'):
        _, meta = load_weights(tiny_file)
        if case == 'fp16_claims_fp32':
            state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        header = dataclasses.replace(meta, tensors_sha256=tensors_digest(state)).to_header()
        if case == 'newer_version':
            header['format_version'] = str(FORMAT_VERSION + 1)
        save_file(state, str(path), metadata=header)
    elif case == 'bit_flip':
        flip_tensor_byte(tiny_file, path)
    return path


@pytest.mark.parametrize('case, words', [
    ('missing', ('no such file',)),
    ('directory', ('not a regular file',)),
    ('empty', ('safetensors',)),
    ('random', ('safetensors',)),
    ('huge_header_length', ('safetensors', 'header')),
    ('truncated', ('safetensors',)),
    ('padded', ('safetensors',)),
    ('pickle', ('pickle', 'arbitrary code')),
    ('onnx', ('ONNX',)),
    ('foreign_safetensors', ('not a CrossInfoNet weights file',)),
    ('newer_version', ('format version', 'newer')),
    ('fp16_claims_fp32', ('F16', 'stored_dtype')),
    ('bit_flip', ('checksum',)),
])
def test_bad_files_get_the_same_error_on_both_paths(case, words, tiny_file, tmp_path):
    path = write_case(case, tiny_file, tmp_path)
    messages = []
    for check in (load_weights, _fast_check):
        with pytest.raises(WeightsError) as caught:
            check(path)
        messages.append(str(caught.value))
    for message in messages:
        assert str(path) in message
        for word in words:
            assert word in message, messages


def _fast_check(path: Path) -> None:
    weights_header.check_digest(path, *weights_header.header_metadata(path))


def test_cache_miss_takes_the_full_path_without_verifying_twice(weights, tmp_path, monkeypatch):
    key = metadata_fingerprint(load_weights(weights)[1])
    calls = []
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / 'empty-cache'))
    for name in ('auto', 'onnxruntime', 'onnxruntime-int8x2', 'onnxruntime-int8', 'torch'):
        assert create_cached_backend(name, key, 'cpu', 1, lambda: calls.append(1)) is None
    assert calls == [] and not (tmp_path / 'empty-cache').exists()  # nothing created


def test_cached_refusal_comes_after_the_file_check(weights):
    """A failed accuracy record refuses int8x2 by name, but a bad file is reported first; 'auto'
    passes over failed records to the next candidate with its files."""
    key = metadata_fingerprint(load_weights(weights)[1])
    HandPoseEstimator.from_weights(weights, 'cpu', 'onnxruntime-int8x2')  # cache filled
    artifacts.int8_onnx(ModelSource(*load_weights(weights)))  # 'auto''s next candidate's graph
    record = cache.read_record(key, 'int8x2.json')
    int8 = cache.read_record(key, 'int8.json')
    auto = cache.read_record(key, AUTO_RECORD)

    def bad_file():
        raise WeightsError(weights, 'tensor data do not match the stored checksum')

    try:
        cache.write_record(key, 'int8x2.json', {**record, 'mean_mm': 0.5, 'passed': False})
        with pytest.raises(WeightsError, match='checksum'):
            create_cached_backend('onnxruntime-int8x2', key, 'cpu', 1, bad_file)
        with pytest.raises(ValueError, match='deviates 0.500 mm'):
            create_cached_backend('onnxruntime-int8x2', key, 'cpu', 1, lambda: None)
        cache.write_record(key, AUTO_RECORD, {'choice': 'onnxruntime-int8x2'})
        cache.write_record(key, 'int8.json', {**record, 'bar_mm': INT8_ACCURACY_BAR_MM,
                                              'mean_mm': 9.0, 'passed': False})
        chosen = create_cached_backend('auto', key, 'cpu', 1, lambda: None)
        assert chosen is not None and chosen.name == 'onnxruntime'  # past both failed ones
    finally:
        cache.write_record(key, 'int8x2.json', record)
        if int8 is None:
            (cache.entry_dir(key) / 'int8.json').unlink(missing_ok=True)
        else:
            cache.write_record(key, 'int8.json', int8)
        if auto is not None:
            cache.write_record(key, AUTO_RECORD, auto)


def test_auto_device_asks_torch_only_when_a_gpu_could_exist(tmp_path, monkeypatch):
    present = tmp_path / 'nvidia0'
    present.touch()
    monkeypatch.delenv('CUDA_VISIBLE_DEVICES', raising=False)
    monkeypatch.setattr(estimator_module, 'GPU_DEVICE_FILES', (str(tmp_path / 'none'),))
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: pytest.fail('torch was asked'))
    assert not cuda_possible() and resolve_device('auto') == 'cpu'
    monkeypatch.setattr(estimator_module, 'GPU_DEVICE_FILES', (str(present),))
    assert cuda_possible()
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert resolve_device('auto') == 'cuda:0'  # the device file alone is not enough: asked
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert resolve_device('auto') == 'cpu'
    for hidden in ('', '-1'):
        monkeypatch.setenv('CUDA_VISIBLE_DEVICES', hidden)
        assert not cuda_possible()
