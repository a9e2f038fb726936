"""Self-describing CrossInfoNet weights files: safetensors tensors plus JSON metadata.

A weights file holds the model's state dict as safetensors and, in the safetensors header's
string->string metadata map, everything needed to rebuild the estimator from the file alone:
the architecture (``ModelConfig.to_dict``), the joint layout, the crop cube and input size, the
depth normalisation, the stored precision and, optionally, how it was trained. Loading never
unpickles anything: a ``torch.save`` checkpoint or any other foreign file is rejected with one
:class:`WeightsError` naming the file and the problem.

Header keys (all values are strings; JSON where noted):

``format``               :data:`FORMAT_NAME`
``format_version``       integer, :data:`FORMAT_VERSION`
``model_config``         JSON object, ``ModelConfig.to_dict()``
``layout``               joint layout name (``crossinfonet_ros.layouts``)
``joint_names``          JSON list, one name per output joint, in output order
``cube_mm``              side of the cubic crop the network was trained on, mm
``input_size``           crop side in pixels
``depth_normalization``  JSON object describing the crop depth normalisation
``stored_dtype``         ``float32`` or ``float16`` (floating tensors; loaded as float32)
``training``             JSON object (dataset, epochs, metrics, ...), optional
``tensors_sha256``       digest of every tensor's name, dtype, shape and bytes (detects bit rot)
"""

import dataclasses
import hashlib
import json
import math
import os
from pathlib import Path
import tempfile
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Tuple, Union

from crossinfonet_ros import weights_json
from crossinfonet_ros.layouts import LAYOUTS

if TYPE_CHECKING:  # torch is imported only by the functions that need it (fast node start)
    import torch

FORMAT_NAME = 'crossinfonet_ros.weights'
FORMAT_VERSION = 1
# Stored precision name -> safetensors dtype tag of the floating tensors.
STORED_DTYPES = {'float32': 'F32', 'float16': 'F16'}

# What the network's input channel means (spec section 3.5, ``norm_dm``); stored so a consumer
# can check it crops the way the network was trained.
DEFAULT_DEPTH_NORMALIZATION = {
    'formula': '(d - center_z) / (cube_mm / 2), clipped to [-1, 1]',
    'background': 1.0,  # missing and far pixels
    'near_clip': -1.0,  # pixels closer than the cube's front face
    'source': 'crossinfonet_spec.md section 3.5 (DeepPrior++ norm_dm)',
}

PathLike = Union[str, os.PathLike]

# safetensors dtype tag (as the file header names dtypes) -> (torch dtype name, bytes per
# element). The torch name enters tensors_digest; the table lets the digest be computed from the
# raw file without torch (crossinfonet_ros.weights_header) and names dtypes in messages.
SAFETENSORS_DTYPES = {
    'F64': ('torch.float64', 8), 'F32': ('torch.float32', 4), 'F16': ('torch.float16', 2),
    'BF16': ('torch.bfloat16', 2), 'I64': ('torch.int64', 8), 'I32': ('torch.int32', 4),
    'I16': ('torch.int16', 2), 'I8': ('torch.int8', 1), 'U8': ('torch.uint8', 1),
    'BOOL': ('torch.bool', 1),
}
_TAG_BY_TORCH_NAME = {name: tag for tag, (name, _) in SAFETENSORS_DTYPES.items()}
# Read once: os.umask can only be read by setting it.
_UMASK = os.umask(0o022)
os.umask(_UMASK)
# Larger files are refused before anything is read: the shipped model is 48 MB (fp16), a 192-px
# input one about 400 MB (fp32); the tensor digest would read a huge (e.g. sparse) file whole.
MAX_FILE_BYTES = 2 ** 31
# Longer problem texts (e.g. quoting a megabyte-long metadata value) are cut in the middle.
MAX_PROBLEM_CHARS = 1000
_REQUIRED_KEYS = ('format', 'format_version', 'model_config', 'layout', 'joint_names', 'cube_mm',
                  'input_size', 'depth_normalization', 'stored_dtype', 'tensors_sha256')


class WeightsError(ValueError):
    """A weights file is missing, unreadable, foreign, corrupt or does not fit its metadata."""

    def __init__(self, path: PathLike, problem: str) -> None:
        self.path = str(path)
        if len(problem) > MAX_PROBLEM_CHARS:  # one readable line, whatever the file holds
            cut = len(problem) - MAX_PROBLEM_CHARS
            problem = (f'{problem[:MAX_PROBLEM_CHARS * 3 // 4]} [... {cut} characters ...] '
                       f'{problem[len(problem) - MAX_PROBLEM_CHARS // 4:]}')
        self.problem = problem
        super().__init__(f'bad weights file {self.path}: {problem}')


@dataclasses.dataclass(frozen=True)
class WeightsMetadata:
    """Everything a weights file says about itself besides the tensors."""

    model_config: dict  # ModelConfig.to_dict(): rebuilds the architecture
    layout: str  # joint layout name, e.g. 'hands2017'
    joint_names: tuple  # one name per output joint, in output order
    cube_mm: float  # side of the cubic crop volume used in training and at test time, mm
    input_size: int = 96  # crop side in pixels (spec 1.3)
    depth_normalization: dict = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_DEPTH_NORMALIZATION))  # crop depth encoding
    stored_dtype: str = 'float32'  # precision of the floating tensors in the file
    training: Optional[dict] = None  # dataset, epochs, metrics, ... (free-form, optional)
    tensors_sha256: str = ''  # filled in by save_weights / checked by load_weights

    def to_header(self) -> dict:
        """Encode as the safetensors header's string->string metadata map."""
        header = {
            'format': FORMAT_NAME,
            'format_version': str(FORMAT_VERSION),
            'model_config': json.dumps(self.model_config, sort_keys=True),
            'layout': self.layout,
            'joint_names': json.dumps(list(self.joint_names)),
            'cube_mm': repr(float(self.cube_mm)),
            'input_size': str(int(self.input_size)),
            'depth_normalization': json.dumps(self.depth_normalization, sort_keys=True),
            'stored_dtype': self.stored_dtype,
            'tensors_sha256': self.tensors_sha256,
        }
        if self.training is not None:
            header['training'] = json.dumps(self.training, sort_keys=True)
        return header

    @classmethod
    def from_header(cls, header: Optional[Mapping[str, str]], path: PathLike) -> 'WeightsMetadata':
        """Decode and check a safetensors metadata map; raise :class:`WeightsError` if unfit.

        :param header: the map from the file (``None`` when the file has none)
        :param path: the file, for error messages
        """
        header = dict(header or {})
        if header.get('format') != FORMAT_NAME:
            raise WeightsError(path, f'a safetensors file, but not a CrossInfoNet weights file '
                                     f'(metadata "format" is {header.get("format")!r}, expected '
                                     f'{FORMAT_NAME!r}; metadata keys: {sorted(header)})')
        version = header.get('format_version', '')
        # ASCII digits only: str.isdigit() also takes e.g. '²', which int() refuses.
        if not (version.isascii() and version.isdigit() and len(version) <= 18):
            raise WeightsError(path, f'format_version {version!r} is not an integer')
        if int(version) != FORMAT_VERSION:
            newer = 'newer than' if int(version) > FORMAT_VERSION else 'unknown to'
            raise WeightsError(path, f'format version {version} is {newer} this software '
                                     f'(it reads version {FORMAT_VERSION})')
        missing = [key for key in _REQUIRED_KEYS if key not in header]
        if missing:
            raise WeightsError(path, f'metadata is missing {missing}')
        try:
            meta = cls(model_config=_json(header, 'model_config', dict, path),
                       layout=header['layout'],
                       joint_names=tuple(_json(header, 'joint_names', list, path)),
                       cube_mm=_number(header, 'cube_mm', float, path),
                       input_size=_number(header, 'input_size', int, path),
                       depth_normalization=_json(header, 'depth_normalization', dict, path),
                       stored_dtype=header['stored_dtype'],
                       training=(_json(header, 'training', dict, path)
                                 if 'training' in header else None),
                       tensors_sha256=header['tensors_sha256'])
        except ValueError as error:
            if isinstance(error, WeightsError):
                raise
            raise WeightsError(path, f'metadata value is malformed: {error}') from None
        meta.check(path)
        return meta

    def check(self, path: PathLike) -> None:
        """Raise :class:`WeightsError` unless the fields are mutually consistent."""
        if self.stored_dtype not in STORED_DTYPES:
            raise WeightsError(path, f'stored_dtype {self.stored_dtype!r} is not one of '
                                     f'{sorted(STORED_DTYPES)}')
        if not (math.isfinite(self.cube_mm) and self.cube_mm > 0):
            raise WeightsError(path, f'cube_mm must be a positive number, got {self.cube_mm}')
        if self.input_size <= 0:
            raise WeightsError(path, f'input_size must be positive, got {self.input_size}')
        layout = LAYOUTS.get(self.layout)
        if layout is None:
            raise WeightsError(path, f'unknown joint layout {self.layout!r} (known: '
                                     f'{", ".join(sorted(LAYOUTS))})')
        if tuple(self.joint_names) != layout.joint_names:
            ours, theirs = list(self.joint_names), list(layout.joint_names)
            first = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b),
                         min(len(ours), len(theirs)))
            raise WeightsError(path, f'joint_names differ from layout {self.layout!r} '
                                     f'({len(ours)} vs {len(theirs)} names; first difference '
                                     f'at index {first}: {ours[first:first + 1]} vs '
                                     f'{theirs[first:first + 1]})')

    @classmethod
    def for_model(cls, model_config: Any, layout: str, cube_mm: float,
                  stored_dtype: str = 'float32', training: Optional[dict] = None
                  ) -> 'WeightsMetadata':
        """Describe a model built from ``model_config`` for the joint layout ``layout``.

        :param model_config: the ``ModelConfig`` (or its ``to_dict()``)
        :param layout: registered joint layout name, e.g. ``'hands2017'``
        :param cube_mm: crop cube side the model expects, mm (spec 3.3)
        :param stored_dtype: ``'float32'`` or ``'float16'``
        :param training: optional free-form training record (dataset, epochs, metrics)
        """
        config = model_config if isinstance(model_config, dict) else model_config.to_dict()
        return cls(model_config=dict(config), layout=layout,
                   joint_names=LAYOUTS[layout].joint_names if layout in LAYOUTS else (),
                   cube_mm=float(cube_mm), input_size=int(config.get('input_size', 96)),
                   stored_dtype=stored_dtype, training=training)


def save_weights(path: PathLike, state_dict: Mapping[str, 'torch.Tensor'],
                 metadata: Union[WeightsMetadata, Mapping[str, Any]]) -> Path:
    """Write a weights file atomically (temp file in the same folder, then ``os.replace``).

    Floating tensors are stored in ``metadata.stored_dtype`` (``float16`` halves the file; they
    are loaded back as float32). The tensors are checked against the architecture in
    ``metadata.model_config`` first, so a file that would not load is never written.

    :param path: destination file (conventionally ``*.safetensors``)
    :param state_dict: the model's ``state_dict()``
    :param metadata: a :class:`WeightsMetadata`, or a mapping of its fields
    :return: the written path
    :raises WeightsError: the tensors or the metadata do not fit together
    """
    import torch

    path = Path(path)
    if not isinstance(metadata, WeightsMetadata):
        metadata = WeightsMetadata(**dict(metadata))
    metadata.check(path)
    stored = getattr(torch, metadata.stored_dtype)
    tensors = {}
    for name, tensor in state_dict.items():
        tensor = tensor.detach().to('cpu')
        if tensor.is_floating_point():
            tensor = tensor.to(stored)
        tensors[name] = tensor.contiguous().clone()  # clone: safetensors refuses shared storage
    _check_tensors(path, _architecture_specs(metadata, path), _tensor_specs(tensors), stored)
    metadata = dataclasses.replace(metadata, tensors_sha256=tensors_digest(tensors))

    from safetensors.torch import save  # imported here: only writers need it
    write_atomically(path, save(tensors, metadata=metadata.to_header()))
    return path


def write_atomically(path: PathLike, payload: bytes) -> None:
    """Write bytes to ``path`` through a temp file in the same folder and ``os.replace``.

    Readers see the old file or the complete new one, never a partial write; the file gets the
    usual permissions (0666 minus the umask), not the temp file's 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(handle, 'wb') as out:
            out.write(payload)
            out.flush()
            os.fchmod(out.fileno(), 0o666 & ~_UMASK)
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def load_weights(path: PathLike) -> Tuple[Dict[str, 'torch.Tensor'], 'WeightsMetadata']:
    """Read and fully check a weights file; never executes pickled code.

    :param path: a file written by :func:`save_weights`
    :return: ``(state_dict, metadata)``: float32 tensors (whatever the stored precision) and the
        :class:`WeightsMetadata`
    :raises WeightsError: missing, unreadable, truncated, corrupt, foreign (pickle, random bytes,
        another model's safetensors), unknown format version, or tensors that do not match the
        architecture (missing, extra, wrong shape or dtype, non-finite)
    """
    from safetensors import SafetensorError, safe_open
    import torch

    from crossinfonet_ros.weights_header import read_header  # (it imports this module)

    path = Path(path)
    check_plain_file(path)
    # The torch-free layout checks first: both load paths then refuse a damaged header alike,
    # within the same size and JSON bounds.
    read_header(path)
    try:
        with safe_open(str(path), framework='pt') as reader:
            metadata = WeightsMetadata.from_header(reader.metadata(), path)
            stored = getattr(torch, metadata.stored_dtype)
            found = {name: (tuple(reader.get_slice(name).get_shape()),
                            reader.get_slice(name).get_dtype()) for name in reader.keys()}
            _check_tensors(path, _architecture_specs(metadata, path), found, stored)
            tensors = {name: reader.get_tensor(name) for name in reader.keys()}
    except SafetensorError as error:
        raise WeightsError(path, f'not a readable safetensors file ({error})') from None
    except (OSError, MemoryError) as error:
        raise WeightsError(path, f'cannot be read ({error})') from None
    if tensors_digest(tensors) != metadata.tensors_sha256:
        raise WeightsError(path, 'tensor data do not match the stored checksum (corrupt file)')
    for name, tensor in tensors.items():
        if tensor.is_floating_point():
            if not torch.isfinite(tensor).all():
                raise WeightsError(path, f'tensor {name!r} holds NaN or infinite values')
            tensors[name] = tensor.float()
    return tensors, metadata


def load_model(path: PathLike, device: Union[str, 'torch.device'] = 'cpu') -> tuple:
    """Rebuild the eval-mode network of a weights file: ``(CrossInfoNet, WeightsMetadata)``.

    :param path: a weights file
    :param device: torch device for the parameters
    :raises WeightsError: as :func:`load_weights`
    """
    from crossinfonet_ros.model import CrossInfoNet, ModelConfig

    state_dict, metadata = load_weights(path)
    model = CrossInfoNet(ModelConfig.from_dict(metadata.model_config))
    model.load_state_dict(state_dict)
    return model.to(device).eval(), metadata


def digest_record(name: str, torch_dtype: str, shape: tuple) -> bytes:
    """What the tensor digest hashes before a tensor's bytes (shared by both digests).

    :param name: tensor name
    :param torch_dtype: its torch dtype name, e.g. ``'torch.float16'``
    :param shape: its shape
    """
    return f'{name}|{torch_dtype}|{tuple(shape)}|'.encode()


def tensors_digest(tensors: Mapping[str, 'torch.Tensor']) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order.

    :func:`crossinfonet_ros.weights_header.file_tensors_digest` computes the same digest from
    a file's raw bytes without torch.
    """
    import torch

    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().to('cpu').contiguous()
        digest.update(digest_record(name, str(tensor.dtype), tensor.shape))
        # A flat byte view hashes without a copy; bool/fp16 included.
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().data
                      if tensor.numel() else b'')
    return digest.hexdigest()


def metadata_fingerprint(metadata: WeightsMetadata) -> str:
    """Short key identifying the file's content (tensors digest + metadata) for caches."""
    header = json.dumps(metadata.to_header(), sort_keys=True).encode()
    return hashlib.sha256(header).hexdigest()[:24]


def _number(header: Mapping[str, str], key: str, kind: type, path: PathLike) -> Any:
    try:
        return kind(header[key])
    except ValueError:  # (also an int of more than 4300 digits) name the key, not just the text
        wanted = 'an integer' if kind is int else 'a number'
        raise WeightsError(path, f'metadata {key!r} is not {wanted}: {header[key]!r}') from None


def _json(header: Mapping[str, str], key: str, kind: type, path: PathLike) -> Any:
    try:
        value = weights_json.loads(header[key])
    except weights_json.JsonLimitError as error:
        raise WeightsError(path, f'metadata {key!r} is not valid JSON ({error})') from None
    if not isinstance(value, kind):
        raise WeightsError(path, f'metadata {key!r} must be a JSON {kind.__name__}, '
                                 f'got {type(value).__name__}')
    return value


def check_plain_file(path: Path) -> None:
    """Raise :class:`WeightsError` unless ``path`` is a regular file of no known foreign
    format (the first checks of every load, with or without torch)."""
    if not path.is_file():
        raise WeightsError(path, 'no such file' if not path.exists() else 'not a regular file')
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise WeightsError(path, f'{size} bytes, larger than any weights file this software '
                                 f'reads (limit {MAX_FILE_BYTES} bytes)')
    _reject_known_foreign_formats(path)


def _reject_known_foreign_formats(path: Path) -> None:
    """Name the common wrong files precisely (safetensors' own message would be obscure)."""
    with open(path, 'rb') as handle:
        head = handle.read(8)
    if head.startswith(b'PK\x03\x04'):
        raise WeightsError(path, 'this is a zip archive, most likely a torch.save() pickle '
                                 'checkpoint; it is not loaded because unpickling can run '
                                 'arbitrary code. Export it as a safetensors weights file '
                                 '(training/export.py) instead')
    if head[:1] == b'\x80' and head[1:2] in (b'\x02', b'\x03', b'\x04', b'\x05'):
        raise WeightsError(path, 'this is a Python pickle (e.g. a legacy torch.save() file); '
                                 'it is not loaded because unpickling can run arbitrary code. '
                                 'Export it as a safetensors weights file instead')
    if path.suffix.lower() == '.onnx':
        raise WeightsError(path, 'this looks like an ONNX model, not a weights file; pass the '
                                 '.safetensors file it was exported from')


def _architecture_specs(metadata: WeightsMetadata, path: PathLike) -> dict:
    """Expected ``{name: (shape, dtype)}`` of the state dict, from the model config alone."""
    import torch

    from crossinfonet_ros.model import CrossInfoNet, ModelConfig

    try:
        config = ModelConfig.from_dict(metadata.model_config)
    except (TypeError, ValueError, KeyError) as error:
        raise WeightsError(path, f'model_config does not describe a CrossInfoNet: {error}') \
            from None
    # Before building: a wrong size must be named as such, not fail inside the layers.
    if len(metadata.joint_names) != config.num_joints:
        raise WeightsError(path, f'{len(metadata.joint_names)} joint_names for a model with '
                                 f'{config.num_joints} joints')
    if metadata.input_size != config.input_size:
        raise WeightsError(path, f'input_size {metadata.input_size} differs from the model '
                                 f'config\'s {config.input_size}')
    try:
        # The meta device allocates no memory and runs no initialiser: only shapes are needed.
        with torch.device('meta'):
            model = CrossInfoNet(config)
    except (TypeError, ValueError, KeyError) as error:
        # e.g. an input_size whose layer sizes overflow torch's 64-bit sizes (a TypeError)
        raise WeightsError(path, f'model_config does not describe a CrossInfoNet that can be '
                                 f'built: {type(error).__name__}: {error}') from None
    return {name: (tuple(t.shape), t.dtype) for name, t in model.state_dict().items()}


def _tensor_specs(tensors: Mapping[str, 'torch.Tensor']) -> dict:
    return {name: (tuple(t.shape), _TAG_BY_TORCH_NAME.get(str(t.dtype), str(t.dtype)))
            for name, t in tensors.items()}


def _check_tensors(path: PathLike, expected: dict, found: dict, stored: 'torch.dtype') -> None:
    """Compare found ``{name: (shape, safetensors dtype tag)}`` with the architecture."""
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f'{len(missing)} missing (e.g. {missing[:3]})')
        if extra:
            parts.append(f'{len(extra)} unexpected (e.g. {extra[:3]})')
        raise WeightsError(path, f'tensors do not match the architecture in its model_config: '
                                 f'{", ".join(parts)}')
    for name, (shape, dtype) in expected.items():
        found_shape, found_dtype = found[name]
        if tuple(found_shape) != shape:
            raise WeightsError(path, f'tensor {name!r} has shape {tuple(found_shape)}, the '
                                     f'architecture needs {shape}')
        wanted = _TAG_BY_TORCH_NAME[str(stored if dtype.is_floating_point else dtype)]
        if found_dtype != wanted:
            raise WeightsError(path, f'tensor {name!r} is {found_dtype}, expected {wanted} '
                                     f'(stored_dtype is {stored})'.replace('torch.', ''))
