"""Read and verify a weights file without torch: the safetensors header and the tensor digest.

A safetensors file is an 8-byte little-endian header length, a JSON header (per tensor its
``dtype`` tag, ``shape`` and ``data_offsets`` into the data block, plus the ``__metadata__``
string map) and the data block. This module parses that layout itself and recomputes
:func:`crossinfonet_ros.weights.tensors_digest` over the raw bytes (safetensors stores tensors
little-endian and C-contiguous, the byte order torch hashes on a little-endian host), so a
process whose model artefacts are already cached (:mod:`crossinfonet_ros.backends.cache`)
can prove that the file holds exactly the tensors those artefacts were built from, without
importing torch (about 1.5 s of a node's start here).

It checks less than :func:`crossinfonet_ros.weights.load_weights` (not the architecture, not
finiteness): a matching digest is what carries those checks over from the full load that built
the cache entry of the same content.
"""

import dataclasses
import hashlib
import math
from pathlib import Path
import struct
from typing import Dict, Mapping, Tuple

from crossinfonet_ros import weights_json
from crossinfonet_ros.weights import (SAFETENSORS_DTYPES, STORED_DTYPES, PathLike, WeightsError,
                                      WeightsMetadata, check_plain_file, digest_record)

# Larger JSON headers are refused before they are read: a real one is ~55 kB (528 tensors), and
# parsing bounds the memory to a small multiple of this (the safetensors library allows 100 MB).
MAX_HEADER_BYTES = 4_000_000
# Floating dtype tags: a weights file stores all its floating tensors in its stored_dtype.
_FLOATING_TAGS = ('F64', 'F32', 'F16', 'BF16')
# Read size while hashing (bounds the memory the check takes).
_CHUNK_BYTES = 1 << 22


@dataclasses.dataclass(frozen=True)
class TensorEntry:
    """Where one tensor lies in the file."""

    dtype: str  # safetensors dtype tag, e.g. 'F32'
    shape: Tuple[int, ...]  # tensor shape
    start: int  # first byte, absolute file offset
    end: int  # one past the last byte, absolute file offset


@dataclasses.dataclass(frozen=True)
class SafetensorsHeader:
    """The parsed header of a safetensors file."""

    tensors: Dict[str, TensorEntry]  # by tensor name
    metadata: Dict[str, str]  # the ``__metadata__`` string map (empty when absent)


def read_header(path: PathLike) -> SafetensorsHeader:
    """Parse and check the layout of a safetensors file (its tensors are not read).

    :param path: the file
    :raises WeightsError: not a safetensors file, or a truncated or inconsistent one
    """
    path = Path(path)
    try:
        with open(path, 'rb') as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise _unreadable(path, f'{len(prefix)} bytes, shorter than the header length')
            (length,) = struct.unpack('<Q', prefix)
            size = path.stat().st_size
            if length > size - 8:
                raise _unreadable(path, f'header length {length} does not fit a {size}-byte '
                                        f'file')
            if length > MAX_HEADER_BYTES:
                raise _unreadable(path, f'header length {length} is over the limit of '
                                        f'{MAX_HEADER_BYTES} bytes')
            raw = handle.read(length)
    except OSError as error:
        raise WeightsError(path, f'cannot be read ({error})') from None
    try:
        header = weights_json.loads(raw.decode('utf-8'))
    except UnicodeDecodeError as error:
        raise _unreadable(path, f'header is not UTF-8 text: {error}') from None
    except weights_json.JsonLimitError as error:
        raise _unreadable(path, f'header is not JSON: {error}') from None
    if not isinstance(header, dict):
        raise _unreadable(path, 'header is not a JSON object')
    metadata = header.pop('__metadata__', None) or {}
    if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise _unreadable(path, '__metadata__ is not a string-to-string map')
    data_start = 8 + length
    tensors = {name: _entry(path, name, spec, data_start) for name, spec in header.items()}
    _check_data_block(path, tensors, size - data_start)
    return SafetensorsHeader(tensors, metadata)


def file_tensors_digest(path: PathLike, tensors: Mapping[str, TensorEntry]) -> str:
    """:func:`crossinfonet_ros.weights.tensors_digest` of a file's tensors, from its raw bytes.

    :param path: the file
    :param tensors: its entries (:func:`read_header`)
    :raises WeightsError: the file cannot be read or is shorter than its header says
    """
    digest = hashlib.sha256()
    buffer = bytearray(_CHUNK_BYTES)
    # Plain reads, not a memory map: a file truncated in place while mapped would kill the
    # process with SIGBUS; a short read is just an error.
    try:
        with open(path, 'rb', buffering=0) as handle:
            for name in sorted(tensors):
                entry = tensors[name]
                torch_name = SAFETENSORS_DTYPES[entry.dtype][0]
                digest.update(digest_record(name, torch_name, entry.shape))
                handle.seek(entry.start)
                remaining = entry.end - entry.start
                while remaining:
                    view = memoryview(buffer)[:min(remaining, _CHUNK_BYTES)]
                    got = handle.readinto(view)
                    if not got:
                        raise WeightsError(path, f'not a readable safetensors file (it ends '
                                                 f'inside tensor {name!r}: truncated)')
                    digest.update(view[:got])
                    remaining -= got
    except OSError as error:
        raise WeightsError(path, f'cannot be read ({error})') from None
    return digest.hexdigest()


def header_metadata(path: PathLike) -> Tuple[WeightsMetadata, SafetensorsHeader]:
    """The file's metadata after the torch-free checks short of the tensor digest.

    Same errors as :func:`crossinfonet_ros.weights.load_weights` for a missing, irregular,
    foreign (pickle, zip, ONNX, another model's safetensors), truncated, newer-format or
    inconsistent file; tensors whose dtype contradicts ``stored_dtype`` are refused too.

    :param path: a weights file
    :return: ``(metadata, header)``; call :func:`check_digest` before trusting the tensors
    :raises WeightsError: as above
    """
    path = Path(path)
    check_plain_file(path)
    header = read_header(path)
    metadata = WeightsMetadata.from_header(header.metadata, path)
    wanted = STORED_DTYPES[metadata.stored_dtype]
    for name, entry in sorted(header.tensors.items()):
        if entry.dtype in _FLOATING_TAGS and entry.dtype != wanted:
            raise WeightsError(path, f'tensor {name!r} is {entry.dtype}, expected {wanted} '
                                     f'(stored_dtype is {metadata.stored_dtype})')
    return metadata, header


def check_digest(path: PathLike, metadata: WeightsMetadata, header: SafetensorsHeader) -> None:
    """Raise :class:`WeightsError` unless the tensors hash to the header's ``tensors_sha256``.

    :param path: the file
    :param metadata: its metadata (:func:`header_metadata`)
    :param header: its parsed header
    """
    if file_tensors_digest(path, header.tensors) != metadata.tensors_sha256:
        raise WeightsError(path, 'tensor data do not match the stored checksum (corrupt file)')


def _entry(path: Path, name: str, spec: object, data_start: int) -> TensorEntry:
    if not isinstance(spec, dict):
        raise _unreadable(path, f'tensor {name!r} has no dtype/shape/offsets entry')
    dtype, shape, offsets = spec.get('dtype'), spec.get('shape'), spec.get('data_offsets')
    if not isinstance(dtype, str) or dtype not in SAFETENSORS_DTYPES:  # (a list: unhashable)
        raise _unreadable(path, f'tensor {name!r} has an unsupported dtype {dtype!r}')
    if not (isinstance(shape, list) and all(_count(n) for n in shape)):
        raise _unreadable(path, f'tensor {name!r} has a malformed shape {shape!r}')
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_count(n) for n in offsets)
            and offsets[0] <= offsets[1]):
        raise _unreadable(path, f'tensor {name!r} has malformed data offsets {offsets!r}')
    nbytes = math.prod(shape) * SAFETENSORS_DTYPES[dtype][1]
    if offsets[1] - offsets[0] != nbytes:
        raise _unreadable(path, f'tensor {name!r} of shape {tuple(shape)} and dtype {dtype} '
                                f'needs {nbytes} bytes, its offsets span '
                                f'{offsets[1] - offsets[0]}')
    return TensorEntry(dtype, tuple(shape), data_start + offsets[0], data_start + offsets[1])


def _check_data_block(path: Path, tensors: Mapping[str, TensorEntry], data_size: int) -> None:
    """The tensors must tile the data block exactly (as safetensors requires): a truncated or
    padded file, or overlapping tensors, are refused."""
    position = min((entry.start for entry in tensors.values()), default=0)
    covered = 0
    for entry in sorted(tensors.values(), key=lambda e: (e.start, e.end)):
        if entry.start != position:
            raise _unreadable(path, 'tensor data overlap or leave gaps')
        position = entry.end
        covered += entry.end - entry.start
    if covered != data_size:
        raise _unreadable(path, f'the tensors need {covered} data bytes, the file holds '
                                f'{data_size} (truncated or padded)')


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _unreadable(path: Path, reason: str) -> WeightsError:
    """The full path's wording for files safetensors itself would refuse."""
    return WeightsError(path, f'not a readable safetensors file ({reason})')
