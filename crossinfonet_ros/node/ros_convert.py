"""sensor_msgs/Image fields -> depth in millimetres (numpy), with specific errors.

ROS-free: takes any object with the Image fields (``height``, ``width``, ``encoding``,
``is_bigendian``, ``step``, ``data``), so it is tested without rclpy. Supported encodings (REP 118,
'Depth images'): ``16UC1`` / ``mono16`` in millimetres and ``32FC1`` in metres. Rows may be
padded (``step`` larger than a row), data may be big-endian.

Output: a (height, width) array in mm, uint16 when the input is millimetre integers with the
default scale (no copy of the values needed), float32 otherwise; NaN, inf and negative readings
become 0 (= no reading, the codec's convention).
"""

from dataclasses import dataclass
from typing import Optional

import numpy as np

from crossinfonet_ros.frame_buffers import FrameBuffers, FreshBuffers

# encoding -> (numpy dtype without byte order, metres per raw unit by default)
ENCODINGS = {
    '16UC1': ('u2', 0.001),
    'mono16': ('u2', 0.001),
    '32FC1': ('f4', 1.0),
}
# Larger frames are rejected before any allocation: no depth camera exceeds this, and a corrupt
# header must not make the node allocate gigabytes.
MAX_SIDE_PX = 8192
MAX_PIXELS = 4096 * 4096


class DepthImageError(ValueError):
    """An Image message cannot be read as depth; ``kind`` names the problem for statistics."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


@dataclass(frozen=True)
class ImageLayout:
    """The size fields of an Image message, checked."""

    height: int  # rows
    width: int  # columns
    step: int  # bytes per row, padding included
    dtype: np.dtype  # element type with byte order


def check_layout(height: int, width: int, encoding: str, is_bigendian: bool, step: int,
                 data_size: int) -> ImageLayout:
    """Validate the Image size fields against each other and the data length.

    :raises DepthImageError: unknown encoding, zero or huge size, step shorter than a row, data
        length different from ``height * step``
    """
    if encoding not in ENCODINGS:
        raise DepthImageError('encoding', f'unsupported depth encoding {encoding!r} (supported: '
                                          f'{", ".join(ENCODINGS)})')
    height, width, step = int(height), int(width), int(step)
    if height <= 0 or width <= 0:
        raise DepthImageError('size', f'image has zero size: {width}x{height}')
    if height > MAX_SIDE_PX or width > MAX_SIDE_PX or height * width > MAX_PIXELS:
        raise DepthImageError('huge', f'image of {width}x{height} is larger than the '
                                      f'{MAX_SIDE_PX} px side / {MAX_PIXELS} px limit')
    dtype = np.dtype(('>' if is_bigendian else '<') + ENCODINGS[encoding][0])
    row_bytes = width * dtype.itemsize
    if step < row_bytes:
        raise DepthImageError('step', f'step {step} bytes is shorter than one row of {width} '
                                      f'{encoding} pixels ({row_bytes} bytes)')
    if data_size != height * step:
        which = 'shorter' if data_size < height * step else 'longer'
        raise DepthImageError('data_size', f'data holds {data_size} bytes, {which} than height '
                                           f'{height} x step {step} = {height * step}')
    return ImageLayout(height, width, step, dtype)


def depth_to_mm(height: int, width: int, encoding: str, is_bigendian: bool, step: int, data,
                depth_scale: float = 0.0,
                buffers: Optional[FrameBuffers] = None) -> np.ndarray:
    """Convert raw Image fields to depth in millimetres.

    :param height: rows
    :param width: columns
    :param encoding: '16UC1', 'mono16' (mm) or '32FC1' (m)
    :param is_bigendian: byte order of ``data``
    :param step: bytes per row, padding included
    :param data: the pixel bytes (bytes, bytearray, array.array('B'), memoryview)
    :param depth_scale: metres per raw unit; 0 = the encoding's default (0.001 for 16-bit,
        1 for 32FC1)
    :param buffers: where a converted copy is written, reused frame after frame (the result is
        then valid until the next conversion with them); None: a new array
    :returns: (height, width) uint16 or float32 depth in mm, 0 = no reading; a view of
        ``data`` when it already is native, unpadded millimetre integers
    :raises DepthImageError: see :func:`check_layout`; negative or non-finite ``depth_scale``
    """
    if not (np.isfinite(depth_scale) and depth_scale >= 0):
        raise DepthImageError('depth_scale', f'depth_scale must be >= 0 and finite, got '
                                             f'{depth_scale}')
    raw = np.frombuffer(memoryview(data).cast('B'), dtype=np.uint8)
    layout = check_layout(height, width, encoding, is_bigendian, step, raw.size)
    take = (FreshBuffers() if buffers is None else buffers).take
    shape = (layout.height, layout.width)
    rows = raw.reshape(layout.height, layout.step)[:, :layout.width * layout.dtype.itemsize]
    values = rows.view(layout.dtype)  # rows stay contiguous within: a view, padding skipped
    native = layout.dtype.newbyteorder('=')
    default_scale = ENCODINGS[encoding][1]
    scale_mm = (depth_scale or default_scale) * 1000.0
    if native == np.uint16 and scale_mm == 1.0:
        if values.dtype == native and values.flags.c_contiguous:
            return values
        # A padded or byte-swapped image is copied once into a native, contiguous array.
        depth = take('depth_mm', shape, native)
        np.copyto(depth, values)
        return depth
    depth = take('depth_mm', shape, np.float32)
    # Readings beyond float32 after scaling overflow to inf, and inf * 0 is NaN: both become "no
    # reading" below, so numpy's warnings (printed from the node's worker thread) are silenced.
    with np.errstate(over='ignore', invalid='ignore'):
        np.multiply(values, np.float32(scale_mm), out=depth, casting='unsafe')
    # NaN compares False: NaN, inf and negative readings all become "no reading".
    reading = np.greater(depth, 0, out=take('depth_reading', shape, bool))
    reading &= np.less(depth, np.inf, out=take('depth_finite', shape, bool))
    np.copyto(depth, 0.0, where=np.logical_not(reading, out=reading))
    return depth


def image_to_mm(msg, depth_scale: float = 0.0,
                buffers: Optional[FrameBuffers] = None) -> np.ndarray:
    """:func:`depth_to_mm` of a sensor_msgs/Image (or any object with its fields)."""
    return depth_to_mm(msg.height, msg.width, msg.encoding, bool(msg.is_bigendian), msg.step,
                       msg.data, depth_scale, buffers)


def encode_depth(depth_mm: np.ndarray, encoding: str = '16UC1', is_bigendian: bool = False,
                 padding: int = 0) -> dict:
    """The inverse of :func:`depth_to_mm`: Image fields for a depth array (tests, benchmarks).

    :param depth_mm: (H, W) depth in mm, 0 = no reading
    :param encoding: '16UC1', 'mono16' (rounded mm) or '32FC1' (m)
    :param is_bigendian: byte order to write
    :param padding: extra bytes at the end of every row
    :returns: ``{'height', 'width', 'encoding', 'is_bigendian', 'step', 'data'}``
    """
    if encoding not in ENCODINGS:
        raise DepthImageError('encoding', f'unsupported depth encoding {encoding!r}')
    depth = np.asarray(depth_mm, dtype=np.float64)
    dtype = np.dtype(('>' if is_bigendian else '<') + ENCODINGS[encoding][0])
    if dtype.kind == 'u':
        values = np.clip(np.rint(np.nan_to_num(depth)), 0, 65535).astype(dtype)
    else:
        values = (depth / 1000.0).astype(dtype)
    height, width = values.shape
    rows = values.view(np.uint8).reshape(height, width * dtype.itemsize)
    if padding:
        rows = np.concatenate([rows, np.full((height, padding), 0xAB, np.uint8)], axis=1)
    return {'height': height, 'width': width, 'encoding': encoding,
            'is_bigendian': int(is_bigendian), 'step': rows.shape[1],
            'data': np.ascontiguousarray(rows).tobytes()}
