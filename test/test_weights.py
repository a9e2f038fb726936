"""Weights files: round trip, fp16 storage, atomic writes, and every kind of bad file rejected
with one clear WeightsError naming the file -- without ever unpickling anything."""

import dataclasses
import json
import os
from pathlib import Path
import pickle

import numpy as np
import pytest
from safetensors.torch import save_file
import torch

from crossinfonet_ros.backends.probe import probe_crops, random_weights
from crossinfonet_ros.model import CrossInfoNet, ModelConfig
from crossinfonet_ros.weights import (FORMAT_VERSION, SAFETENSORS_DTYPES, WeightsError,
                                      WeightsMetadata, load_model, load_weights, save_weights,
                                      tensors_digest)

torch.set_num_threads(2)

# The bad-file matrix runs on a 32x32-input model: same layers, tiny FCs, fast to write.
TINY = {'input_size': 32}


@pytest.fixture(scope='module')
def full_file(tmp_path_factory) -> Path:
    return random_weights(tmp_path_factory.mktemp('full') / 'net.safetensors', seed=3)


@pytest.fixture(scope='module')
def tiny_file(tmp_path_factory) -> Path:
    return random_weights(tmp_path_factory.mktemp('tiny') / 'tiny.safetensors', seed=4, **TINY)


@pytest.fixture(scope='module')
def tiny(tiny_file):
    """(state_dict, metadata) of the tiny file."""
    return load_weights(tiny_file)


def write_raw(path: Path, tensors: dict, metadata: WeightsMetadata, **header_changes) -> Path:
    """A safetensors file written around save_weights' checks (the digest is made to match)."""
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    header = dataclasses.replace(metadata, tensors_sha256=tensors_digest(tensors)).to_header()
    header.update(header_changes)
    save_file(tensors, str(path), metadata={k: v for k, v in header.items() if v is not None})
    return path


def expect_rejected(path: Path, *words: str) -> WeightsError:
    with pytest.raises(WeightsError) as caught:
        load_weights(path)
    message = str(caught.value)
    assert str(path) in message
    for word in words:
        assert word in message, message
    return caught.value


def test_round_trip_gives_identical_tensors_metadata_and_outputs(full_file, tmp_path):
    model, metadata = load_model(full_file)
    again = save_weights(tmp_path / 'copy.safetensors', model.state_dict(), metadata)
    state, meta2 = load_weights(again)
    for name, tensor in model.state_dict().items():
        assert torch.equal(state[name], tensor), name
    assert meta2 == metadata  # same tensors -> same digest, every field kept
    rebuilt = CrossInfoNet(ModelConfig.from_dict(meta2.model_config)).eval()
    rebuilt.load_state_dict(state)
    x = torch.from_numpy(probe_crops(2, seed=1))
    with torch.inference_mode():
        assert torch.equal(rebuilt(x, outputs='inference').joints,
                           model(x, outputs='inference').joints)


def test_metadata_describes_the_model(full_file):
    _, meta = load_weights(full_file)
    assert meta.layout == 'hands2017' and len(meta.joint_names) == 21
    assert meta.joint_names[0] == 'wrist'
    assert meta.cube_mm == 250.0 and meta.input_size == 96
    assert ModelConfig.from_dict(meta.model_config) == ModelConfig.from_layout('hands2017')
    assert meta.stored_dtype == 'float32' and meta.training['seed'] == 3
    assert '[-1, 1]' in meta.depth_normalization['formula']


def test_fp16_storage_halves_the_file_and_loads_as_float32(full_file, tmp_path):
    model, meta = load_model(full_file)
    half = save_weights(tmp_path / 'half.safetensors', model.state_dict(),
                        dataclasses.replace(meta, stored_dtype='float16'))
    assert half.stat().st_size < 0.55 * full_file.stat().st_size
    state, meta16 = load_weights(half)
    assert meta16.stored_dtype == 'float16'
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point():
            assert state[name].dtype == torch.float32
            assert torch.equal(state[name], tensor.half().float()), name
        else:
            assert torch.equal(state[name], tensor)


def test_save_is_atomic_and_leaves_no_temp_files(tiny, tmp_path, monkeypatch):
    state, meta = tiny
    target = save_weights(tmp_path / 'w.safetensors', state, meta)
    before = target.read_bytes()
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)  # not the temp file's mode

    def broken_replace(src, dst):
        raise OSError('disk full')

    monkeypatch.setattr(os, 'replace', broken_replace)
    changed = dict(state)
    changed['joint_head.fc.weight'] = changed['joint_head.fc.weight'] + 1
    with pytest.raises(OSError):
        save_weights(target, changed, meta)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ['w.safetensors']


def test_save_refuses_tensors_that_do_not_fit_the_architecture(tiny, tmp_path):
    state, meta = tiny
    state = {k: v for k, v in state.items() if k != 'joint_head.fc.weight'}
    with pytest.raises(WeightsError, match='missing'):
        save_weights(tmp_path / 'x.safetensors', state, meta)
    assert not (tmp_path / 'x.safetensors').exists()


def test_malicious_pickle_is_never_executed(tmp_path):
    marker = tmp_path / 'pwned'

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    legacy = tmp_path / 'evil_legacy.pt'
    legacy.write_bytes(pickle.dumps({'model': Payload()}, protocol=2))
    zipped = tmp_path / 'evil_zip.pt'
    torch.save({'model': Payload()}, zipped)
    expect_rejected(legacy, 'pickle', 'arbitrary code')
    expect_rejected(zipped, 'torch.save', 'arbitrary code')
    assert not marker.exists()
    # The payload is live: unpickling it would have written the marker.
    pickle.loads(legacy.read_bytes())
    assert marker.exists()


@pytest.mark.parametrize('case, words', [
    ('missing', ('no such file',)),
    ('directory', ('not a regular file',)),
    ('empty', ('safetensors',)),
    ('random', ('safetensors',)),
    ('truncated', ('safetensors',)),
    ('onnx', ('ONNX',)),
    ('foreign_safetensors', ('not a CrossInfoNet weights file',)),
    ('newer_version', ('format version', 'newer')),
    ('bad_json', ('model_config', 'JSON')),
    ('bad_config', ('model_config',)),
    ('unknown_layout', ('unknown joint layout',)),
    ('joint_names', ('joint_names',)),
    ('missing_tensor', ('missing',)),
    ('extra_tensor', ('unexpected',)),
    ('wrong_shape', ('shape',)),
    ('wrong_dtype', ('F64',)),
    ('fp16_claims_fp32', ('F16', 'stored_dtype')),
    ('bit_flip', ('checksum',)),
    ('nan', ('NaN',)),
])
def test_bad_files_are_rejected_with_one_clear_error(case, words, tiny, tiny_file, tmp_path):
    state, meta = tiny
    path = tmp_path / f'{case}.safetensors'
    if case == 'missing':
        pass
    elif case == 'directory':
        path.mkdir()
    elif case == 'empty':
        path.write_bytes(b'')
    elif case == 'random':
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    elif case == 'truncated':
        path.write_bytes(tiny_file.read_bytes()[:-100])
    elif case == 'onnx':
        path = tmp_path / 'model.onnx'
        path.write_bytes(b'\x08\x08\x12\x07pytorch')
    elif case == 'foreign_safetensors':
        save_file({'weight': torch.zeros(3)}, str(path), metadata={'format': 'pt'})
    elif case == 'newer_version':
        write_raw(path, state, meta, format_version=str(FORMAT_VERSION + 1))
    elif case == 'bad_json':
        write_raw(path, state, meta, model_config='{"num_joints": 21,')
    elif case == 'bad_config':
        write_raw(path, state, meta, model_config=json.dumps({'num_joints': 21, 'wings': 2}))
    elif case == 'unknown_layout':
        write_raw(path, state, meta, layout='octopus8')
    elif case == 'joint_names':
        write_raw(path, state, meta, joint_names=json.dumps(['a'] * 21))
    elif case == 'missing_tensor':
        write_raw(path, {k: v for k, v in state.items() if 'joint_head' not in k}, meta)
    elif case == 'extra_tensor':
        write_raw(path, {**state, 'decoder.weight': torch.zeros(2)}, meta)
    elif case == 'wrong_shape':
        write_raw(path, {**state, 'joint_head.fc.weight': torch.zeros(60, 2048)}, meta)
    elif case == 'wrong_dtype':
        write_raw(path, {k: v.double() if v.is_floating_point() else v
                         for k, v in state.items()}, meta)
    elif case == 'fp16_claims_fp32':
        write_raw(path, {k: v.half() if v.is_floating_point() else v
                         for k, v in state.items()}, meta)
    elif case == 'bit_flip':
        data = bytearray(tiny_file.read_bytes())
        data[-1000] ^= 0x40
        path.write_bytes(bytes(data))
    elif case == 'nan':
        broken = dict(state)
        broken['joint_head.fc.weight'] = broken['joint_head.fc.weight'].clone()
        broken['joint_head.fc.weight'][0, 0] = float('nan')
        write_raw(path, broken, meta)
    expect_rejected(path, *words)


def test_weights_error_is_a_value_error_with_the_file_and_problem(tmp_path):
    error = expect_rejected(tmp_path / 'nope.safetensors')
    assert isinstance(error, ValueError)
    assert error.path == str(tmp_path / 'nope.safetensors') and error.problem == 'no such file'


def test_dtype_table_names_torch_dtypes_and_sizes_as_safetensors_stores_them(tmp_path):
    """The torch-free digest (weights_header) relies on this table: torch's dtype name and
    element size for each safetensors tag."""
    for tag, (torch_name, size) in SAFETENSORS_DTYPES.items():
        dtype = getattr(torch, torch_name.split('.', 1)[1])
        assert str(dtype) == torch_name and dtype.itemsize == size, tag
        path = tmp_path / f'{tag}.safetensors'
        save_file({'t': torch.zeros(2, dtype=dtype)}, str(path))
        header = json.loads(path.read_bytes()[8:8 + int.from_bytes(path.read_bytes()[:8],
                                                                    'little')])
        assert header['t']['dtype'] == tag
