"""Hypothesis strategies for malformed sensor_msgs Image / CameraInfo, and their expected fate.

Shared by test_fuzz_inputs.py (converter, segmentation, node callbacks in-process) and
test_fuzz_dds.py (the node process over DDS). Messages are plain field dicts, so the converter
tests need no rclpy; :func:`to_image` / :func:`to_camera_info` build the ROS messages.

Sizes may be huge (100000 x 100000, 2**32 - 1) but the data stay small: data are only as long as
``height * step`` when that is at most ``MAX_DATA_BYTES``, otherwise short.
"""

import struct

import numpy as np
from hypothesis import strategies as st

from crossinfonet_ros.node.ros_convert import ENCODINGS, MAX_PIXELS, MAX_SIDE_PX

UINT32_MAX = 2 ** 32 - 1
# Longest data a generated message carries (a 48 x 48 32FC1 image with padding fits).
MAX_DATA_BYTES = 16384
BOGUS_ENCODINGS = ('rgb8', 'bgr8', 'mono8', '8UC1', '16SC1', '32FC3', '64FC1', '16uc1', '32fc1',
                   '32FC1 ', ' 16UC1', 'MONO16', '', 'bayer_rggb16', 'yuv422')
# Every rejection kind the converter may name (DepthImageError.kind).
CONVERTER_KINDS = frozenset({'encoding', 'size', 'huge', 'step', 'data_size', 'depth_scale'})

_SMALL_SIDES = st.one_of(st.sampled_from([0, 1, 2, 3, 5, 7, 31, 33]), st.integers(0, 48))
_HUGE_SIDES = st.sampled_from([MAX_SIDE_PX + 1, 5000, 100000, 2 ** 31 - 1, UINT32_MAX])
SIDES = st.one_of(_SMALL_SIDES, _SMALL_SIDES, _SMALL_SIDES, _HUGE_SIDES)
# Float32 readings in metres: NaN, +-inf, negative, zero, denormal, in the hand band, huge.
SPECIAL_METRES = st.sampled_from([float('nan'), float('inf'), float('-inf'), -1.0, -0.0, 0.0,
                                  1e-45, 0.1, 0.4, 0.5, 0.9, 3.0, 65.535, 1e30, 3.4e38])
# Uint16 readings in mm: zero, below / in / beyond the default 150-1000 mm band, the maximum.
SPECIAL_MM = st.sampled_from([0, 1, 149, 150, 400, 500, 1000, 1001, 2500, 65535])
# Intrinsics entries: zero, negative, NaN, +-inf, tiny, huge, and plausible values.
WEIRD_FLOATS = st.one_of(
    st.sampled_from([0.0, -0.0, -383.0, float('nan'), float('inf'), float('-inf'), 5e-324,
                     1e-300, 1e300, 1.7e308, 383.0, 320.0, 240.0]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1000.0, 1000.0))


def _pack(values, encoding: str, big: bool) -> bytes:
    """Values as raw pixels of ``encoding`` in the given byte order."""
    order = '>' if big else '<'
    if encoding == '32FC1':
        return struct.pack(f'{order}{len(values)}f', *values)
    return struct.pack(f'{order}{len(values)}H', *values)


@st.composite
def pixel_pattern(draw, encoding: str, big: bool) -> bytes:
    """A short run of pixel bytes that is repeated to fill an image."""
    kind = draw(st.sampled_from(['special', 'special', 'random']))
    if kind == 'random':
        return draw(st.binary(min_size=1, max_size=64))
    if encoding == '32FC1':
        values = draw(st.lists(SPECIAL_METRES, min_size=1, max_size=8))
    else:
        values = draw(st.lists(SPECIAL_MM, min_size=1, max_size=8))
    return _pack(values, encoding if encoding in ENCODINGS else '16UC1', big)


@st.composite
def blob_data(draw, encoding: str, big: bool, width: int, height: int, step: int) -> bytes:
    """Pixel bytes of a hand-sized rectangle in the depth band on an odd background, so frames
    also reach the crop and the network."""
    metres = encoding == '32FC1'
    background = draw(SPECIAL_METRES if metres else SPECIAL_MM)
    blob_mm = draw(st.floats(200.0, 950.0))
    top = draw(st.integers(0, height - 1))
    left = draw(st.integers(0, width - 1))
    bottom = draw(st.integers(top + 1, height))
    right = draw(st.integers(left + 1, width))
    values = np.full((height, width), background, dtype=np.float64)
    values[top:bottom, left:right] = blob_mm / 1000.0 if metres else round(blob_mm)
    flat = values.ravel().tolist() if metres else values.astype(int).ravel().tolist()
    rows = np.frombuffer(_pack(flat, encoding, big), np.uint8)
    rows = rows.reshape(height, -1)
    padding = np.full((height, step - rows.shape[1]), 0xAB, np.uint8)
    return np.concatenate([rows, padding], axis=1).tobytes()


@st.composite
def image_fields(draw, size=None) -> dict:
    """Field dict of a depth Image: a third well-formed (odd values, wrong size for the
    camera), the rest malformed in any combination of fields.

    :param size: (width, height) to use instead of drawing one (e.g. the camera info's)
    """
    well_formed = draw(st.integers(0, 2)) == 0
    valid = st.sampled_from(sorted(ENCODINGS))
    if well_formed:
        encoding = draw(valid)
    else:
        encoding = draw(st.one_of(valid, valid, st.sampled_from(BOGUS_ENCODINGS),
                                  st.text(st.characters(blacklist_categories=('Cs',)),
                                          max_size=12)))
    is_bigendian = draw(st.one_of(st.sampled_from([0, 1]), st.integers(0, 255)))
    if size is not None:
        width, height = size
    elif well_formed:
        width, height = draw(st.integers(1, 48)), draw(st.integers(1, 48))
    else:
        width, height = draw(SIDES), draw(SIDES)
    itemsize = np.dtype(ENCODINGS[encoding][0]).itemsize if encoding in ENCODINGS else 2
    row = width * itemsize
    if well_formed:
        step = draw(st.one_of(st.just(row), st.integers(1, 9).map(lambda pad: row + pad)))
    else:
        step = draw(st.one_of(
            st.just(row), st.just(row),
            st.integers(1, 9).map(lambda pad: row + pad),  # padded, odd or even
            st.integers(1, 3).map(lambda short: max(row - short, 0)),  # shorter than a row
            st.just(0), st.sampled_from([2 ** 31, UINT32_MAX]), st.integers(0, 200)))
    step = min(step, UINT32_MAX)
    exact = height * step
    if exact <= MAX_DATA_BYTES and well_formed:
        length = exact
    elif exact <= MAX_DATA_BYTES:
        length = draw(st.one_of(st.just(exact), st.just(exact),
                                st.integers(-3, 3).map(lambda d: max(exact + d, 0)),
                                st.just(0), st.integers(0, 64)))
    else:  # a size far beyond the data: the header claims more than arrives
        length = draw(st.one_of(st.just(0), st.integers(0, 64), st.just(MAX_DATA_BYTES)))
    if well_formed and 0 < width <= 64 and 0 < height <= 64 and draw(st.booleans()):
        data = draw(blob_data(encoding, bool(is_bigendian), width, height, step))
    else:
        pattern = draw(pixel_pattern(encoding, bool(is_bigendian)))
        data = (pattern * (length // len(pattern) + 1))[:length]
    return {'height': height, 'width': width, 'encoding': encoding,
            'is_bigendian': is_bigendian, 'step': step, 'data': data}


@st.composite
def camera_info_fields(draw) -> dict:
    """Field dict of a (mostly malformed) CameraInfo: size and the 9 values of K."""
    kind = draw(st.sampled_from(['weird', 'plausible', 'plausible', 'random']))
    if kind == 'plausible':
        width, height = draw(st.integers(1, 48)), draw(st.integers(1, 48))
    else:
        width, height = draw(SIDES), draw(SIDES)
    if kind == 'random':
        k = draw(st.lists(WEIRD_FLOATS, min_size=9, max_size=9))
    else:
        fx, fy, cx, cy = (draw(WEIRD_FLOATS) for _ in range(4))
        if kind == 'plausible':
            fx, fy = draw(st.floats(1.0, 2000.0)), draw(st.floats(1.0, 2000.0))
            cx, cy = draw(st.floats(-10.0, 100.0)), draw(st.floats(-10.0, 100.0))
        k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    return {'width': width, 'height': height, 'k': [float(v) for v in k]}


@st.composite
def frame_pair(draw) -> tuple:
    """(camera info fields, image fields): half the images have the camera info's size."""
    info = draw(camera_info_fields())
    same = draw(st.booleans())
    image = draw(image_fields((info['width'], info['height']) if same else None))
    return info, image


DEPTH_SCALES = st.one_of(st.just(0.0), st.just(0.0), st.just(0.0),
                         st.sampled_from([-1.0, float('nan'), float('inf'), 1e-4, 0.5, 1e300]))


def converter_problems(fields: dict, depth_scale: float = 0.0) -> set:
    """Every reason the converter may give for rejecting ``fields`` (empty: must convert).

    An independent statement of REP 118's size rules, not a call into the converter.
    """
    problems = set()
    if not (np.isfinite(depth_scale) and depth_scale >= 0):
        problems.add('depth_scale')
    if fields['encoding'] not in ENCODINGS:
        return problems | {'encoding'}
    height, width, step = fields['height'], fields['width'], fields['step']
    itemsize = np.dtype(ENCODINGS[fields['encoding']][0]).itemsize
    if height == 0 or width == 0:
        problems.add('size')
    if height > MAX_SIDE_PX or width > MAX_SIDE_PX or height * width > MAX_PIXELS:
        problems.add('huge')
    if step < width * itemsize:
        problems.add('step')
    if len(fields['data']) != height * step:
        problems.add('data_size')
    return problems


def reference_depth_mm(fields: dict, depth_scale: float = 0.0) -> np.ndarray:
    """Depth in mm read row by row (slow, obvious): the converter's expected output."""
    encoding = fields['encoding']
    code, default_scale = ENCODINGS[encoding]
    dtype = np.dtype(('>' if fields['is_bigendian'] else '<') + code)
    row_bytes = fields['width'] * dtype.itemsize
    rows = [np.frombuffer(fields['data'][r * fields['step']:r * fields['step'] + row_bytes],
                          dtype=dtype) for r in range(fields['height'])]
    values = np.stack(rows).astype(dtype.newbyteorder('='))
    scale_mm = (depth_scale or default_scale) * 1000.0
    if values.dtype == np.uint16 and scale_mm == 1.0:
        return values
    depth = values.astype(np.float32) * np.float32(scale_mm)
    with np.errstate(invalid='ignore'):
        depth[~(np.isfinite(depth) & (depth > 0))] = 0.0
    return depth


def to_image(fields: dict, stamp_sec: int = 0, frame_id: str = 'camera_depth_optical_frame'):
    """A sensor_msgs/Image from a field dict."""
    from sensor_msgs.msg import Image
    msg = Image(height=fields['height'], width=fields['width'], encoding=fields['encoding'],
                is_bigendian=fields['is_bigendian'], step=fields['step'], data=fields['data'])
    msg.header.frame_id = frame_id
    msg.header.stamp.sec = stamp_sec
    return msg


def to_camera_info(fields: dict, frame_id: str = 'camera_depth_optical_frame'):
    """A sensor_msgs/CameraInfo from a field dict."""
    from sensor_msgs.msg import CameraInfo
    msg = CameraInfo(width=fields['width'], height=fields['height'])
    msg.k = fields['k']
    msg.header.frame_id = frame_id
    return msg
