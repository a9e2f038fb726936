"""Crops in, 3D hand joints out: the run-time face of CrossInfoNet.

:class:`HandPoseEstimator` is rebuilt from a weights file alone (architecture, joint layout,
cube, input size: :mod:`crossinfonet_ros.weights`), runs one of the backends
(:mod:`crossinfonet_ros.backends`) and turns the network outputs into joints in millimetres in
the camera optical frame plus a per-joint confidence, both through the codec
(:func:`~crossinfonet_ros.codec.denormalize_joints`,
:func:`~crossinfonet_ros.heatmaps.decode_heatmap_confidence`).

Fast start: on the CPU, when the model cache already holds what the ONNX Runtime backend needs
for the file's content, the file is verified and the backend built without importing torch
(:mod:`crossinfonet_ros.weights_header`, :func:`~crossinfonet_ros.backends.
create_cached_backend`); torch is imported only when something must be built from the model.
"""

import dataclasses
import os
import sys
import time
from typing import Dict, Optional, Sequence, Union

import numpy as np

from crossinfonet_ros import weights_header
from crossinfonet_ros.backends import ModelSource, create_backend, create_cached_backend
from crossinfonet_ros.backends.base import Backend
from crossinfonet_ros.codec import Crop, denormalize_joints
from crossinfonet_ros.heatmaps import decode_heatmap_confidence
from crossinfonet_ros.layouts import JointLayout, get_layout
from crossinfonet_ros.weights import (PathLike, WeightsMetadata, load_weights,
                                      metadata_fingerprint)

# Crops run through the backend per call at most; bounds memory for large offline batches.
MAX_CHUNK = 64
# Normalised crops hold [-1, 1] (spec 3.5); a little slack for float noise of other codecs.
_RANGE_SLACK = 1e-3
# Any of these present means a GPU torch might use (NVIDIA driver, WSL2's GPU bridge, Jetson,
# AMD ROCm, which torch also reports as CUDA); with none of them 'auto' is the CPU and torch is
# not asked (importing it takes ~1.5 s of a node's start here).
GPU_DEVICE_FILES = ('/proc/driver/nvidia/version', '/dev/nvidia0', '/dev/nvidiactl', '/dev/dxg',
                    '/dev/nvhost-ctrl-gpu', '/dev/kfd')


@dataclasses.dataclass(frozen=True)
class Estimate:
    """Result for N crops (A joints each)."""

    joints_mm: np.ndarray  # (N, A, 3) float64 joints, camera optical frame, mm
    confidence: np.ndarray  # (N, A) float32 in [0, 1], from the full-hand heat-maps
    joints_normalized: np.ndarray  # (N, A, 3) float32 network output, crop units (spec 3.6)
    heatmaps: np.ndarray  # (N, A, S/4, S/4) float32 full-hand heat-maps H_a
    timings: Dict[str, float]  # 'prepare_ms', 'network_ms', 'decode_ms', 'total_ms'

    def __len__(self) -> int:
        return len(self.joints_mm)

    def entry(self, index: int) -> 'Estimate':
        """The one-crop :class:`Estimate` of entry ``index`` (timings: the whole batch's)."""
        index = range(len(self))[index]  # IndexError when out of range; negatives count back
        return self.part(index, index + 1)

    def part(self, start: int, stop: int) -> 'Estimate':
        """Entries ``start`` to ``stop`` (exclusive) as an :class:`Estimate` (timings: the
        whole batch's)."""
        pick = slice(start, stop)
        return Estimate(self.joints_mm[pick], self.confidence[pick],
                        self.joints_normalized[pick], self.heatmaps[pick], self.timings)


class HandPoseEstimator:
    """CrossInfoNet on normalised hand crops, any backend, any device.

    Build it with :meth:`from_weights`; call :meth:`estimate`.
    """

    def __init__(self, backend: Backend, metadata: WeightsMetadata) -> None:
        """:param backend: a built backend
        :param metadata: the weights' description (layout, cube, input size)
        """
        self._backend = backend
        self._metadata = metadata
        self._layout = get_layout(metadata.layout)

    @classmethod
    def from_weights(cls, path: PathLike, device: str = 'auto', backend: str = 'auto',
                     threads: Optional[int] = None) -> 'HandPoseEstimator':
        """Rebuild the estimator from a weights file alone.

        :param path: ``.safetensors`` weights file (:mod:`crossinfonet_ros.weights`)
        :param device: ``'auto'`` (CUDA when available, else CPU), ``'cpu'``, ``'cuda'`` or
            ``'cuda:N'``
        :param backend: ``'auto'`` (on CUDA ONNX Runtime fp16, else torch; on CPU the fastest
            backend that stays within its accuracy bar of the fp32 model), ``'torch'``,
            ``'onnxruntime'``, ``'onnxruntime-int8x2'``, ``'onnxruntime-int8'``,
            ``'onnxruntime-fp16'`` (CUDA; see
            :mod:`crossinfonet_ros.backends`). The ONNX
            backends export and rewrite the model on first use of a weights file (about 10 s
            here) and cache the result (:mod:`crossinfonet_ros.backends.cache`); later starts
            on the CPU check the file (header, tensor digest) and load the cached graph
            without importing torch (~0.4 s here instead of ~2-4 s)
        :param threads: ONNX Runtime intra-op threads (default: physical cores); for the torch
            backend, when given, torch's intra-op threads (``torch.set_num_threads``, process
            wide; default: torch's own)
        :raises WeightsError: the file is missing, foreign, corrupt or inconsistent
        :raises ValueError: unknown device or backend, or one that cannot run here
        """
        resolved = resolve_device(device)
        if resolved == 'cpu' and backend != 'torch':
            # Fast path: the header alone names the cache entry; the tensor digest is checked
            # (verify) only when that entry can serve the request.
            metadata, header = weights_header.header_metadata(path)
            built = create_cached_backend(
                backend, metadata_fingerprint(metadata), resolved, threads,
                verify=lambda: weights_header.check_digest(path, metadata, header))
            if built is not None:
                _check_heatmaps(path, metadata)
                return cls(built, metadata)
        state_dict, metadata = load_weights(path)
        _check_heatmaps(path, metadata)
        source = ModelSource(state_dict, metadata)
        return cls(create_backend(backend, source, resolved, threads), metadata)

    @property
    def layout(self) -> JointLayout:
        """The joint layout of the outputs (names, palm/finger split, skeleton edges)."""
        return self._layout

    @property
    def joint_names(self) -> tuple:
        """Joint names in output order."""
        return tuple(self._metadata.joint_names)

    @property
    def cube_mm(self) -> float:
        """Side of the crop cube the network was trained with, mm (crop with this)."""
        return self._metadata.cube_mm

    @property
    def input_size(self) -> int:
        """Crop side in pixels."""
        return self._metadata.input_size

    @property
    def metadata(self) -> WeightsMetadata:
        """Everything the weights file says about itself."""
        return self._metadata

    @property
    def backend(self) -> str:
        """Name of the backend in use, e.g. ``'onnxruntime-int8x2'``."""
        return self._backend.name

    @property
    def device(self) -> str:
        """Device in use, ``'cpu'`` or ``'cuda:N'``."""
        return self._backend.device

    def estimate(self, crops: Union[Crop, Sequence[Crop], np.ndarray],
                 centers_mm: Optional[np.ndarray] = None,
                 cubes_mm: Optional[Union[float, np.ndarray]] = None) -> Estimate:
        """Joints and confidence for one crop or a batch.

        :param crops: a :class:`~crossinfonet_ros.codec.Crop`, a sequence of them, or
            normalised depth as an array (S, S), (N, S, S) or (N, 1, S, S) in [-1, 1]
        :param centers_mm: with arrays only: (3,) or (N, 3) crop centres, camera frame, mm
        :param cubes_mm: with arrays only: cube side(s) in mm, scalar or (N,); default the
            weights' :attr:`cube_mm`
        :return: an :class:`Estimate` with N entries (N = 1 for a single crop)
        :raises ValueError: wrong shapes, non-finite or un-normalised depth, missing centres
        """
        started = time.perf_counter()
        depth, centers, cubes = self._gather(crops, centers_mm, cubes_mm)
        prepared = time.perf_counter()
        joints, heatmaps = self._run(depth)
        ran = time.perf_counter()
        count = len(depth)
        normalized = joints.reshape(count, len(self.joint_names), 3)
        joints_mm = denormalize_joints(normalized, centers, cubes)
        # (The codec's decode does not take an empty batch.)
        confidence = (decode_heatmap_confidence(heatmaps) if count
                      else np.zeros((0, len(self.joint_names)), np.float32))
        done = time.perf_counter()
        timings = {'prepare_ms': (prepared - started) * 1e3, 'network_ms': (ran - prepared) * 1e3,
                   'decode_ms': (done - ran) * 1e3, 'total_ms': (done - started) * 1e3}
        return Estimate(joints_mm, confidence, normalized, heatmaps, timings)

    def __repr__(self) -> str:
        return (f'HandPoseEstimator(layout={self._layout.name!r}, cube_mm={self.cube_mm}, '
                f'backend={self.backend!r}, device={self.device!r})')

    def _run(self, depth: np.ndarray):
        count = len(depth)
        joints_size = 3 * len(self.joint_names)
        heat = self.input_size // 4
        if count == 0:
            return (np.zeros((0, joints_size), np.float32),
                    np.zeros((0, len(self.joint_names), heat, heat), np.float32))
        parts = [self._backend.run(depth[i:i + MAX_CHUNK]) for i in range(0, count, MAX_CHUNK)]
        if len(parts) == 1:
            return parts[0]
        return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))

    def _gather(self, crops, centers_mm, cubes_mm):
        """``(depth (N, 1, S, S) float32, centres (N, 3), cubes (N,))`` from any accepted input."""
        size = self.input_size
        if isinstance(crops, Crop):
            crops = [crops]
        torch = sys.modules.get('torch')  # (not imported: then crops cannot be a tensor)
        if torch is not None and torch.is_tensor(crops):
            crops = crops.detach().cpu().numpy()
        if isinstance(crops, np.ndarray):
            depth = np.asarray(crops, dtype=np.float32)
            if depth.ndim == 2:
                depth = depth[None]
            if depth.ndim == 4 and depth.shape[1] == 1:
                depth = depth[:, 0]
            if depth.ndim != 3 or depth.shape[1:] != (size, size):
                raise ValueError(f'crop array must be (N, {size}, {size}), (N, 1, {size}, '
                                 f'{size}) or ({size}, {size}), got {np.shape(crops)}')
            if centers_mm is None:
                raise ValueError('normalised crop arrays need centers_mm (the crop centres in '
                                 'mm) to turn joints back into the camera frame')
            count = len(depth)
            centers = np.asarray(centers_mm, dtype=np.float64)
            centers = np.broadcast_to(centers, (count, 3)) if centers.shape == (3,) else centers
            cubes = np.asarray(self.cube_mm if cubes_mm is None else cubes_mm, np.float64)
            cubes = np.broadcast_to(cubes, (count,)) if cubes.ndim == 0 else cubes
        else:
            crops = list(crops)
            if not all(isinstance(crop, Crop) for crop in crops):
                raise ValueError('estimate() takes a Crop, a sequence of Crops or a normalised '
                                 'depth array')
            if centers_mm is not None or cubes_mm is not None:
                raise ValueError('centers_mm / cubes_mm are taken from the Crops; pass them '
                                 'only with raw arrays')
            for crop in crops:
                if crop.depth.shape != (size, size):
                    raise ValueError(f'crop is {crop.depth.shape}, the network takes '
                                     f'({size}, {size})')
            depth = np.stack([crop.depth for crop in crops]).astype(np.float32, copy=False) \
                if crops else np.zeros((0, size, size), np.float32)
            centers = np.array([crop.center_mm for crop in crops], np.float64).reshape(-1, 3)
            cubes = np.array([crop.cube_mm for crop in crops], np.float64)
        count = len(depth)
        if centers.shape != (count, 3) or cubes.shape != (count,):
            raise ValueError(f'{count} crops need centers_mm (3,) or ({count}, 3) and cubes_mm '
                             f'scalar or ({count},); got {centers.shape} and {cubes.shape}')
        if count and not np.all(np.isfinite(depth)):
            raise ValueError('crop depth holds NaN or infinite values')
        if count and np.abs(depth).max() > 1.0 + _RANGE_SLACK:
            raise ValueError(f'crop depth must be normalised to [-1, 1] (codec.crop_hand); got '
                             f'values up to {np.abs(depth).max():.4g}')
        return np.ascontiguousarray(depth[:, None]), centers, cubes


def resolve_device(device: str) -> str:
    """``'auto'`` -> ``'cuda:0'`` when CUDA is available else ``'cpu'``; checks the others.

    ``'auto'`` asks torch only when a GPU could exist (:func:`cuda_possible`).

    :param device: ``'auto'``, ``'cpu'``, ``'cuda'`` or ``'cuda:N'``
    :raises ValueError: unknown string, or CUDA asked for but not available
    """
    if device == 'auto':
        if not cuda_possible():
            return 'cpu'
        import torch

        return 'cuda:0' if torch.cuda.is_available() else 'cpu'
    if device == 'cpu':
        return 'cpu'
    if device == 'cuda' or (device.startswith('cuda:') and device[5:].isdigit()):
        import torch

        index = int(device[5:]) if ':' in device else 0
        if not torch.cuda.is_available():
            raise ValueError(f'device {device!r} asked for, but CUDA is not available here '
                             f"(torch {torch.__version__}); use 'cpu' or 'auto'")
        if index >= torch.cuda.device_count():
            raise ValueError(f'device {device!r} asked for, but only '
                             f'{torch.cuda.device_count()} CUDA device(s) exist')
        return f'cuda:{index}'
    raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")


def cuda_possible() -> bool:
    """False when torch certainly finds no CUDA device: ``CUDA_VISIBLE_DEVICES`` hides all
    (empty or ``-1``) or none of :data:`GPU_DEVICE_FILES` exists. Reads no library."""
    visible = os.environ.get('CUDA_VISIBLE_DEVICES')
    if visible is not None and visible.strip() in ('', '-1'):
        return False
    return any(os.path.exists(path) for path in GPU_DEVICE_FILES)


def _check_heatmaps(path: PathLike, metadata: WeightsMetadata) -> None:
    if not metadata.model_config.get('heatmaps', True):
        raise ValueError(f'{path}: the model has no heat-map heads (ModelConfig.heatmaps '
                         f'is False); the estimator decodes its confidence from them')
