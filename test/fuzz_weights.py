"""Hypothesis strategies for damaged weights files, and the words their refusal must hold.

Shared by test_fuzz_weights.py (the loaders in this process, the node's start and its hot
reload). Every damage starts from one valid small file (:class:`Base`) and breaks one thing:
the header length, the JSON (bytes, nesting), a metadata field (missing, wrong type, wrong
value, megabytes long), a tensor entry (dtype, offsets, shape, name), the file's size, or the
tensor values (NaN / inf with the checksum recomputed, so the values are the only fault).

The data block of the base is ~29 MB, too much to rewrite for every example: a damage that is
refused before the tensors are read gets a sparse data block (the file's size is right, its
data are holes that read as zeros, so a damage the header checks missed still fails the
checksum). Damages whose refusal depends on the bytes (values, swapped tensors) get the real
data.
"""

import dataclasses
import json
from pathlib import Path
import struct
from typing import Optional, Tuple

from hypothesis import strategies as st

from crossinfonet_ros import weights_header
from crossinfonet_ros.weights import FORMAT_NAME, MAX_FILE_BYTES, SAFETENSORS_DTYPES

NESTING = st.one_of(st.integers(33, 200), st.sampled_from([990, 1000, 5000, 50000]))
# Megabyte-long metadata values: under and over the 4 MB header limit.
HUGE = st.sampled_from([200_000, 1_000_000, 3_900_000, 4_100_000])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                max_size=3), max_leaves=6)


@dataclasses.dataclass(frozen=True, repr=False)
class Base:
    """A valid weights file taken apart."""

    path: Path
    header: dict  # the safetensors JSON header, ``__metadata__`` included
    data_size: int  # bytes of the data block

    @classmethod
    def read(cls, path: Path) -> 'Base':
        raw = path.read_bytes()
        (length,) = struct.unpack('<Q', raw[:8])
        return cls(path, json.loads(raw[8:8 + length]), len(raw) - 8 - length)

    def __repr__(self) -> str:  # (hypothesis shows it with every strategy)
        return f'Base({self.path.name})'

    @property
    def names(self) -> list:
        return sorted(name for name in self.header if name != '__metadata__')

    def copy(self) -> dict:
        return json.loads(json.dumps(self.header))


@dataclasses.dataclass(frozen=True)
class Damage:
    """One damaged file: how to write it and what its refusal must say."""

    kind: str  # what was broken, for reports
    header: bytes  # the JSON header bytes as written
    words: Tuple[str, ...]  # the message holds at least one of these; () = any reason
    length: Optional[int] = None  # header length field (default: len(header))
    real_data: bool = False  # the base's data bytes rather than a sparse block
    size_change: int = 0  # bytes cut from (negative) or added to (positive) the end
    nan_at: Optional[Tuple[str, int, bytes]] = None  # (tensor, element, value bytes)
    raw: Optional[bytes] = None  # the whole file instead (foreign files)

    def __repr__(self) -> str:
        return f'Damage({self.kind!r}, {len(self.header)}-byte header, words={self.words})'

    def write(self, base: Base, path: Path) -> Path:
        """Write the file at ``path`` (checksum recomputed when values are damaged)."""
        with open(path, 'wb') as out:
            if self.raw is not None:
                out.write(self.raw)
                return path
            length = len(self.header) if self.length is None else self.length
            out.write(struct.pack('<Q', length) + self.header)
            if self.real_data:
                out.write(_data_block(base))
            size = 8 + len(self.header) + base.data_size + self.size_change
            out.truncate(max(size, 0))
        if self.nan_at is not None:
            _put_values(path, *self.nan_at)
        return path


_DATA_CACHE = {}


def _data_block(base: Base) -> bytes:
    """The base's data bytes (read once)."""
    if base.path not in _DATA_CACHE:
        _DATA_CACHE[base.path] = base.path.read_bytes()[-base.data_size:]
    return _DATA_CACHE[base.path]


def _bytes_of(base: Base, name: str) -> bytes:
    start, end = base.header[name]['data_offsets']
    return _data_block(base)[start:end]


def _put_values(path: Path, name: str, element: int, value: bytes) -> None:
    """Overwrite one element of a tensor, then make ``tensors_sha256`` match the new bytes."""
    header = weights_header.read_header(path)
    entry = header.tensors[name]
    old_digest = header.metadata['tensors_sha256'].encode()
    with open(path, 'r+b') as out:
        out.seek(entry.start + element * len(value))
        out.write(value)
    new_digest = weights_header.file_tensors_digest(path, header.tensors).encode()
    raw = bytearray(path.read_bytes()[:entry.start])
    at = raw.index(old_digest)  # same length: the header length stays
    with open(path, 'r+b') as out:
        out.seek(at)
        out.write(new_digest)


def dumps(header) -> bytes:
    """A header as compact JSON bytes."""
    return json.dumps(header, separators=(',', ':')).encode()


_DELETE = object()  # (None is a JSON value: null)


def _with_metadata(base: Base, key: str, value) -> bytes:
    header = base.copy()
    if value is _DELETE:
        del header['__metadata__'][key]
    else:
        header['__metadata__'][key] = value
    return dumps(header)


# --- the damages, one strategy each -----------------------------------------------------------
@st.composite
def header_length(draw, base: Base) -> Damage:
    good = len(dumps(base.header))
    length = draw(st.one_of(
        st.sampled_from([0, 1, 2, 7, good - 1, good - 2, good + 1, good + 8, 2 ** 63,
                         2 ** 64 - 1, good + base.data_size, good + base.data_size + 1]),
        st.integers(0, 2 ** 64 - 1), st.integers(max(good - 100, 0), good + 100)))
    if length == good:
        length += 1
    return Damage('header length', dumps(base.header), ('safetensors',), length=length)


@st.composite
def file_size(draw, base: Base) -> Damage:
    total = 8 + len(dumps(base.header)) + base.data_size
    change = draw(st.one_of(st.integers(-total, -1), st.integers(1, 4096),
                            st.sampled_from([-total, -total + 7, -total + 8, -1, 1, 8])))
    return Damage('truncated' if change < 0 else 'padded', dumps(base.header), ('safetensors',),
                  size_change=change)


@st.composite
def json_bytes(draw, base: Base) -> Damage:
    """Bytes of the header deleted, inserted or overwritten (any reason will do: the result
    may still parse, with another meaning; the sparse data then fail the checksum)."""
    text = bytearray(dumps(base.header))
    at = draw(st.integers(0, len(text) - 1))
    how = draw(st.sampled_from(['delete', 'insert', 'overwrite']))
    junk = draw(st.one_of(st.binary(min_size=1, max_size=8),
                          st.sampled_from([b'\xff', b'\xc3', b'\xed\xa0\x80', b'\x00', b'"',
                                           b'{', b']', b',', b'\\', b'\\u'])))
    if how == 'delete':
        del text[at:at + draw(st.integers(1, 64))]
    elif how == 'insert':
        text[at:at] = junk
    else:
        text[at:at + len(junk)] = junk
    return Damage('json bytes', bytes(text), ())


def _nested(depth: int, objects: bool) -> str:
    return ('{"a":' * depth + '0' + '}' * depth) if objects else ('[' * depth + ']' * depth)


@st.composite
def nesting(draw, base: Base) -> Damage:
    depth, objects = draw(NESTING), draw(st.booleans())
    deep = _nested(depth, objects)
    where = draw(st.sampled_from(['header', 'shape', 'model_config', 'joint_names',
                                  'depth_normalization', 'training']))
    if where in ('header', 'shape'):
        header = base.copy()
        header['zz'] = 'DEEP'
        if where == 'shape':
            header['zz'] = {'dtype': 'F32', 'shape': 'DEEP', 'data_offsets': [0, 0]}
        text = dumps(header).replace(b'"DEEP"', deep.encode())
    else:
        text = _with_metadata(base, where, deep)
    return Damage(f'nesting {depth} in {where}', text, ('nests deeper',))


def _not_int(text: str, good: int) -> bool:
    try:
        return int(text) != good
    except ValueError:
        return True


def _not_positive_number(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return True
    return not (0 < value < float('inf'))


# Wrong string values per metadata key, and the words of their refusal.
@st.composite
def metadata_field(draw, base: Base) -> Damage:
    meta = base.header['__metadata__']
    key = draw(st.sampled_from(sorted(meta)))
    config = json.loads(meta['model_config'])
    names = json.loads(meta['joint_names'])
    how = draw(st.sampled_from(['missing', 'not a string', 'wrong', 'wrong', 'huge']))
    if how == 'missing' and key != 'training':
        words = {'format': ('not a CrossInfoNet',),
                 'format_version': ('format_version',)}.get(key, ('missing',))
        return Damage(f'{key} missing', _with_metadata(base, key, _DELETE), words)
    if how == 'not a string':
        value = draw(JSON_VALUES.filter(lambda v: not isinstance(v, str)))
        return Damage(f'{key} not a string', _with_metadata(base, key, value),
                      ('string-to-string',))
    if how == 'huge':
        size = draw(HUGE)
        value = {'format_version': '1' * size, 'cube_mm': '9' * size,
                 'input_size': '3' * size, 'tensors_sha256': 'f' * size}.get(key, 'x' * size)
        text = _with_metadata(base, key, value)
        words = ('over the limit',) if len(text) > weights_header.MAX_HEADER_BYTES else \
            _WORDS[key]
        return Damage(f'{key} of {size} characters', text, words)
    text = st.text(max_size=12)
    value = draw({
        'format': text.filter(lambda t: t != FORMAT_NAME),
        'format_version': st.one_of(st.sampled_from(['0', '2', '10', '-1', '1.0', ' 1', '01x',
                                                     '\u00b2', '\u0661', '9' * 30, '']),
                                    text.filter(lambda t: t != '1')),
        'model_config': st.one_of(
            st.sampled_from(['', '{', '[]', '"x"', 'null', '{"num_joints": 21,']),
            _bad_config(config)),
        'layout': st.one_of(st.sampled_from(['msra21', 'nyu14', 'icvl16', 'HANDS2017', '']),
                            text.filter(lambda t: t != meta['layout'])),
        'joint_names': st.one_of(
            st.sampled_from(['', '{}', '"wrist"', json.dumps(names[:-1]),
                             json.dumps(names[::-1]), json.dumps(names + ['extra'])]),
            st.integers(0, len(names) - 1).map(
                lambda i: json.dumps(names[:i] + ['renamed'] + names[i + 1:]))),
        'cube_mm': st.one_of(st.sampled_from(['0', '-250', 'nan', 'inf', '1e999', '', 'x']),
                             text.filter(_not_positive_number)),
        'input_size': st.one_of(st.sampled_from(['0', '-32', '33', '64', '32.0', '', '9' * 5000]),
                                text.filter(lambda t: _not_int(t, 32))),
        'depth_normalization': st.sampled_from(['', '[]', '1', '"x"', '{"a":']),
        'stored_dtype': st.one_of(st.sampled_from(['float16', 'bfloat16', 'float64', 'int8',
                                                   'FLOAT32', '']),
                                  text.filter(lambda t: t != meta['stored_dtype'])),
        'training': st.sampled_from(['', '[]', '1', '"x"', '{"a":', 'null']),
        'tensors_sha256': st.one_of(st.sampled_from(['', '0' * 64, 'f' * 63, meta['tensors_sha256']
                                                     .upper()]),
                                    text.filter(lambda t: t != meta['tensors_sha256'])),
    }[key])
    return Damage(f'{key} = {value[:40]!r}', _with_metadata(base, key, value), _WORDS[key])


_WORDS = {
    'format': ('not a CrossInfoNet',),
    'format_version': ('format_version', 'format version'),
    'model_config': ('model_config', "model config's"),
    'layout': ('layout',),
    'joint_names': ('joint_names',),
    'cube_mm': ('cube_mm',),
    'input_size': ('input_size',),
    'depth_normalization': ('depth_normalization',),
    'stored_dtype': ('stored_dtype',),
    'training': ('training',),
    'tensors_sha256': ('checksum',),
}


@st.composite
def _bad_config(draw, config: dict) -> str:
    """A model config that is valid JSON but no CrossInfoNet of these tensors."""
    field = draw(st.sampled_from(['num_joints', 'palm', 'finger', 'variant', 'final_joints',
                                  'init', 'dropout', 'input_size', 'unknown']))
    bad = {
        'num_joints': st.one_of(st.integers(-5, 1), st.integers(22, 2 ** 70), st.floats(),
                                st.text(max_size=3), st.none()),
        'palm': st.one_of(st.lists(st.integers(-3, 30), max_size=8), st.just([]),
                          st.just([0, 0, 1, 2, 3, 4])),
        'finger': st.one_of(st.lists(st.integers(-3, 30), max_size=8), st.just([])),
        'variant': st.text(max_size=6).filter(lambda t: t not in ('cross', 'base')),
        'final_joints': st.text(max_size=6).filter(lambda t: t not in ('ja', 'concat')),
        'init': st.text(max_size=6).filter(lambda t: t not in ('xavier', 'normal')),
        'dropout': st.one_of(st.floats(1.0, 1e300), st.floats(-1e300, -1e-9),
                             st.text(max_size=3), st.none()),
        'input_size': st.one_of(st.integers(-64, 31), st.integers(33, 63),
                                st.integers(2, 2 ** 40).map(lambda n: 32 * n),
                                st.just(32 * 2 ** 62)),
        'unknown': st.just(1),
    }[field]
    changed = dict(config)
    changed['wings' if field == 'unknown' else field] = draw(bad)
    return json.dumps(changed)


@st.composite
def tensor_entry(draw, base: Base) -> Damage:
    header = base.copy()
    names = base.names
    name = draw(st.sampled_from(names))
    entry = header[name]
    part = draw(st.sampled_from(['dtype', 'offsets', 'shape', 'name', 'entry']))
    words: Tuple[str, ...] = ('safetensors',)
    real = False
    if part == 'dtype':
        old = entry['dtype']
        value = draw(st.one_of(st.sampled_from(['F8_E4M3', 'Q4', '', 'f32', 'F32 ', 'U64']),
                               JSON_VALUES, st.sampled_from(sorted(SAFETENSORS_DTYPES)))
                     .filter(lambda v: v != old))
        entry['dtype'] = value
        if isinstance(value, str) and value in SAFETENSORS_DTYPES and \
                SAFETENSORS_DTYPES[value][1] == SAFETENSORS_DTYPES[old][1]:
            words = ('expected', 'checksum')  # same size: the type, or the digest, refuses it
    elif part == 'offsets':
        start, end = entry['data_offsets']
        how = draw(st.sampled_from(['shift', 'reverse', 'beyond', 'type', 'swap']))
        if how == 'shift':
            delta = draw(st.integers(-64, 64).filter(bool))
            entry['data_offsets'] = [start + delta, end + delta]
        elif how == 'reverse':
            entry['data_offsets'] = [end + 1, start]
        elif how == 'beyond':
            extra = draw(st.sampled_from([1, 4, 2 ** 40, 2 ** 64, 2 ** 70]))
            entry['data_offsets'] = [start, end + extra]
        elif how == 'type':
            entry['data_offsets'] = draw(st.one_of(
                st.sampled_from([[start], [start, end, end], [str(start), end], None, 0,
                                 [start + 0.5, end], [True, end], [-1, end - 1]]),
                JSON_VALUES))
        else:  # two tensors of one size trade places: a valid layout, the wrong data
            size = end - start
            others = [n for n in names if n != name and n != '__metadata__'
                      and header[n]['data_offsets'][1] - header[n]['data_offsets'][0] == size
                      and header[n]['shape'] == entry['shape']
                      and _bytes_of(base, n) != _bytes_of(base, name)]  # else no damage
            if not others:
                entry['data_offsets'] = [end + 1, start]
            else:
                other = draw(st.sampled_from(others))
                entry['data_offsets'], header[other]['data_offsets'] = \
                    header[other]['data_offsets'], entry['data_offsets']
                words, real = ('checksum',), True
    elif part == 'shape':
        shape = entry['shape']
        how = draw(st.sampled_from(['same bytes', 'bomb', 'type']))
        if how == 'same bytes':
            count = 1
            for n in shape:
                count *= n
            options = [[count], shape + [1], [1] + shape]
            if len(shape) >= 2 and shape != shape[::-1]:
                options.append(shape[::-1])
            options = [o for o in options if o != shape]
            entry['shape'] = draw(st.sampled_from(options))
            words = ('has shape', 'checksum')  # the architecture, or the digest, refuses it
        elif how == 'bomb':
            entry['shape'] = draw(st.sampled_from([[2 ** 40, 2 ** 40], [2 ** 63], [2 ** 64],
                                                   [10 ** 30, 10 ** 30, 10 ** 30],
                                                   [2 ** 31] * 8, [0] + shape]))
        else:
            entry['shape'] = draw(st.one_of(
                st.sampled_from([[-1], [1.5], ['3'], [None], [True, 2], [[3]], 3, None]),
                JSON_VALUES.filter(lambda v: not isinstance(v, list))))
    elif part == 'name':
        how = draw(st.sampled_from(['suffix', 'empty', 'long', 'surrogate', 'bad utf-8']))
        new = {'suffix': name + draw(st.text(min_size=1, max_size=4)), 'empty': '',
               'long': name * 5000, 'surrogate': name + '\ud800',
               'bad utf-8': name + 'BADBYTE'}[how]
        if new in header:
            new += '_'
        header[new] = header.pop(name)
        words = {'surrogate': ('surrogate',), 'bad utf-8': ('UTF-8',)}.get(
            how, ('unexpected', 'missing', 'checksum'))
        # (json.dumps escapes the surrogate: the file holds "\ud800", valid JSON text)
        text = dumps(header).replace(b'BADBYTE', b'\xff\xfe')
        return Damage(f'tensor name: {how}', text, words)
    else:
        header[name] = draw(st.one_of(st.sampled_from([None, [], 'x', 1, {}]), JSON_VALUES)
                            .filter(lambda v: not isinstance(v, dict) or v == {}))
    return Damage(f'tensor {part}', dumps(header), words, real_data=real)


@st.composite
def values(draw, base: Base) -> Damage:
    """A NaN or infinity in a floating tensor, with a matching checksum."""
    floating = [n for n in base.names if base.header[n]['dtype'] in ('F32', 'F16')
                and base.header[n]['data_offsets'][1] > base.header[n]['data_offsets'][0]]
    name = draw(st.sampled_from(floating))
    entry = base.header[name]
    size = SAFETENSORS_DTYPES[entry['dtype']][1]
    count = (entry['data_offsets'][1] - entry['data_offsets'][0]) // size
    element = draw(st.integers(0, count - 1))
    special = draw(st.sampled_from(['nan', 'inf', '-inf']))
    value = struct.pack('<f' if size == 4 else '<e', float(special))
    return Damage(f'{special} in {name}', dumps(base.header), ('NaN or infinite',),
                  real_data=True, nan_at=(name, element, value))


@st.composite
def foreign(draw, base: Base) -> Damage:
    what = draw(st.sampled_from(['array', 'string', 'number', 'metadata list', 'pickle', 'zip',
                                 'random', 'no metadata', 'huge file']))
    if what in ('pickle', 'zip', 'random'):
        raw = {'pickle': b'\x80\x04\x95' + draw(st.binary(max_size=64)),
               'zip': b'PK\x03\x04' + draw(st.binary(max_size=64)),
               'random': draw(st.binary(max_size=256))}[what]
        return Damage(what, b'', ('pickle', 'zip', 'safetensors', 'no such'), raw=raw)
    if what == 'huge file':  # a sparse file beyond any weights file
        return Damage(what, dumps(base.header), ('larger than',),
                      size_change=MAX_FILE_BYTES + 1)
    header = base.copy()
    text = {'array': b'[1,2]', 'string': b'"x"', 'number': b'12'}.get(what)
    if what == 'metadata list':
        header['__metadata__'] = [1]
    elif what == 'no metadata':
        del header['__metadata__']
    words = ('CrossInfoNet',) if what == 'no metadata' else ('safetensors',)
    return Damage(what, text if text is not None else dumps(header), words)


def damages(base: Base) -> st.SearchStrategy:
    """Any damaged file (values and swaps, which rewrite the whole data block, are rarer)."""
    return st.one_of(header_length(base), file_size(base), json_bytes(base), json_bytes(base),
                     nesting(base), metadata_field(base), metadata_field(base),
                     metadata_field(base), tensor_entry(base), tensor_entry(base),
                     tensor_entry(base), foreign(base), values(base))
