"""Image fields -> depth mm: every encoding, padding, byte order, and each malformed case."""

import array

import numpy as np
import pytest

from crossinfonet_ros.node.ros_convert import (MAX_SIDE_PX, DepthImageError, depth_to_mm,
                                          encode_depth)


def _depth(height=5, width=7, seed=0):
    rng = np.random.default_rng(seed)
    depth = rng.integers(1, 4000, size=(height, width)).astype(np.float64)
    depth[0, 0] = 0.0
    return depth


def _convert(fields, depth_scale=0.0):
    return depth_to_mm(fields['height'], fields['width'], fields['encoding'],
                       fields['is_bigendian'], fields['step'], fields['data'], depth_scale)


@pytest.mark.parametrize('encoding', ['16UC1', 'mono16', '32FC1'])
@pytest.mark.parametrize('bigendian', [False, True])
@pytest.mark.parametrize('padding', [0, 3, 8])
def test_round_trip_every_encoding_byte_order_and_padding(encoding, bigendian, padding):
    depth = _depth()
    fields = encode_depth(depth, encoding, bigendian, padding)
    assert fields['step'] == depth.shape[1] * (2 if encoding != '32FC1' else 4) + padding
    out = _convert(fields)
    assert out.shape == depth.shape
    np.testing.assert_allclose(out, depth, rtol=1e-6, atol=1e-3)


def test_sixteen_bit_keeps_uint16_and_accepts_array_data():
    depth = _depth()
    fields = encode_depth(depth, '16UC1')
    out = depth_to_mm(5, 7, '16UC1', False, fields['step'], array.array('B', fields['data']))
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, depth)


def test_depth_scale_overrides_the_encoding_unit():
    depth = _depth()
    # Raw units of 0.1 mm: a reading of 1000 is 100 mm.
    fields = encode_depth(depth, '16UC1')
    np.testing.assert_allclose(_convert(fields, depth_scale=0.0001), depth / 10, rtol=1e-6)
    fields = encode_depth(depth, '32FC1')  # stored in m; scale 0.5 m per unit halves it
    np.testing.assert_allclose(_convert(fields, depth_scale=0.5), depth / 2, rtol=1e-5)


def test_float_nan_inf_and_negative_become_no_reading():
    depth = _depth()
    fields = encode_depth(depth, '32FC1')
    values = np.frombuffer(fields['data'], '<f4').copy().reshape(depth.shape)
    values[1, 1], values[1, 2], values[1, 3], values[1, 4] = np.nan, np.inf, -np.inf, -0.5
    out = depth_to_mm(5, 7, '32FC1', False, fields['step'], values.tobytes())
    assert out[1, 1:5].tolist() == [0, 0, 0, 0]
    assert out[2, 2] == pytest.approx(depth[2, 2], rel=1e-6)


@pytest.mark.parametrize('mutate, kind, words', [
    (dict(encoding='rgb8'), 'encoding', 'rgb8'),
    (dict(encoding='16SC1'), 'encoding', 'unsupported'),
    (dict(height=0), 'size', 'zero size'),
    (dict(width=0), 'size', 'zero size'),
    (dict(height=MAX_SIDE_PX + 1), 'huge', 'larger'),
    (dict(width=5000, height=5000), 'huge', 'larger'),
    (dict(step=13), 'step', 'shorter than one row'),
    (dict(data=b'\x00' * (5 * 14 - 1)), 'data_size', 'shorter than height'),
    (dict(data=b'\x00' * (5 * 14 + 2)), 'data_size', 'longer than height'),
    (dict(data=b''), 'data_size', 'holds 0 bytes'),
])
def test_each_malformed_case_raises_a_specific_error(mutate, kind, words):
    fields = dict(encode_depth(_depth(), '16UC1'), **mutate)
    with pytest.raises(DepthImageError, match=words) as caught:
        _convert(fields)
    assert caught.value.kind == kind


def test_odd_row_size_with_padding_is_read_correctly():
    # 3 columns of 16-bit = 6 bytes, padded to an odd step of 7: still a valid image.
    depth = _depth(4, 3)
    fields = encode_depth(depth, 'mono16', padding=1)
    assert fields['step'] == 7
    np.testing.assert_array_equal(_convert(fields), depth)


@pytest.mark.parametrize('scale', [-1.0, float('nan'), float('inf')])
def test_bad_depth_scale_is_rejected(scale):
    with pytest.raises(DepthImageError, match='depth_scale') as caught:
        _convert(encode_depth(_depth(), '16UC1'), depth_scale=scale)
    assert caught.value.kind == 'depth_scale'
