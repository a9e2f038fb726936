"""Inference backends: the same network run by PyTorch or ONNX Runtime, and the CPU fast path.

========================  ===========================================================
``torch``                 eager PyTorch, fp32, CPU or CUDA (the reference)
``onnxruntime``           the exported fp32 inference graph in ONNX Runtime
``onnxruntime-int8x2``    the same with the two 9216x1024 FC layers as split-int8
                          GEMMs (:mod:`.fc_int8`); the fastest accurate CPU backend
                          here, used only while its measured deviation from the fp32
                          torch model stays under the 0.1 mm bar
``onnxruntime-int8``      static int8 convolutions and big FC layers (QDQ, per-channel
                          7-bit weights, calibrated on probe hands; :mod:`.qdq_int8`),
                          used while it stays under its bar
                          (:data:`~.probe.INT8_ACCURACY_BAR_MM`); faster than fp32 with
                          or without VNNI (docs/backends.md)
``onnxruntime-fp16``      the graph in fp16 on a GPU: TensorRT's execution provider
                          (fp16 engines) where installed, else CUDA's; same 0.1 mm bar
========================  ===========================================================

Plain int8 (``quantize_dynamic``) and fp16 FC weights were measured and rejected
(:mod:`.fc_int8`; ``bench/bench_inference.py`` still times them).

``auto`` on CUDA picks ``onnxruntime-fp16`` and falls back to ``torch`` (fp32) with one warning
when this onnxruntime has no GPU provider or the fp16 graph misses the bar. On CPU it builds
the ONNX Runtime candidates that are available and accurate enough, times each at batch 1 once per weights content on this machine, caches the
choice (``auto_cpu.json``) and uses the fastest; ``torch`` is the last resort.

:func:`create_cached_backend` rebuilds an ONNX Runtime backend (or 'auto''s cached choice) from
the cache alone, without torch, when every file and record the choice needs is there.
"""

import importlib.util
import logging
from typing import Callable, Optional

from crossinfonet_ros.backends import cache
from crossinfonet_ros.backends.artifacts import ModelSource
from crossinfonet_ros.backends.base import Backend

BACKENDS = ('torch', 'onnxruntime', 'onnxruntime-int8x2', 'onnxruntime-int8', 'onnxruntime-fp16')
GPU_ONLY = ('onnxruntime-fp16',)
# CPU candidates of 'auto', fastest first (bench/bench_inference.py); the ONNX Runtime ones
# are timed once per weights content and the fastest accurate one is kept.
AUTO_CPU_ORDER = ('onnxruntime-int8', 'onnxruntime-int8x2', 'onnxruntime', 'torch')
AUTO_RECORD = 'auto_cpu.json'  # cache record of that choice
# Backends whose accuracy is checked against the fp32 torch model before use.
GATED = {'onnxruntime-int8x2': 'int8x2', 'onnxruntime-int8': 'int8', 'onnxruntime-fp16': 'fp16'}

__all__ = ['AUTO_CPU_ORDER', 'BACKENDS', 'Backend', 'ModelSource', 'create_backend',
           'create_cached_backend', 'onnxruntime_available']


def onnxruntime_available() -> bool:
    """True when the onnxruntime (and onnx) packages can be imported."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def create_backend(name: str, source: ModelSource, device: str = 'cpu',
                   threads: Optional[int] = None) -> Backend:
    """Build a backend for a weights file's content.

    :param name: one of :data:`BACKENDS` or ``'auto'``
    :param source: the loaded weights
    :param device: resolved torch-style device, ``'cpu'`` or ``'cuda:N'``
    :param threads: ONNX Runtime intra-op threads (default: physical cores)
    :raises ValueError: unknown name, or a backend that cannot run here (with the reason)
    """
    if name == 'auto':
        return _auto(source, device, threads)
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose 'auto' or one of {BACKENDS}")
    if name == 'torch':
        from crossinfonet_ros.backends.torch_backend import TorchBackend

        return TorchBackend(source.model(), device, threads)
    if name in GPU_ONLY and device == 'cpu':
        raise ValueError(f"backend {name!r} runs on CUDA only; use 'auto' or 'onnxruntime' on "
                         'the CPU')
    if not onnxruntime_available():
        raise ValueError(f'backend {name!r} needs the onnx and onnxruntime packages')
    import onnxruntime

    from crossinfonet_ros.backends import artifacts
    from crossinfonet_ros.backends.onnx_backend import OnnxRuntimeBackend, execution_providers

    execution_providers(device, onnxruntime.get_available_providers())  # refuse before exporting
    build = {'onnxruntime': artifacts.fp32_onnx, 'onnxruntime-int8x2': artifacts.int8x2_onnx,
             'onnxruntime-int8': artifacts.int8_onnx,
             'onnxruntime-fp16': artifacts.fp16_onnx}[name]
    backend = OnnxRuntimeBackend(build(source), name, device, threads,
                                 fp16=name == 'onnxruntime-fp16',
                                 engine_cache=None if device == 'cpu' else
                                 cache.entry_dir(source.key))
    if name in GATED:
        record = artifacts.accuracy_record(source, GATED[name], backend.run)
        if not record['passed']:
            raise ValueError(_inaccurate(name, record))
    return backend


def create_cached_backend(name: str, key: str, device: str, threads: Optional[int],
                          verify: Callable[[], None]) -> Optional[Backend]:
    """The backend :func:`create_backend` would build, from cached files alone (no torch).

    Served when ``device`` is the CPU and the cache holds everything the choice needs: the
    graph, for the gated backends (:data:`GATED`) their current accuracy record, for ``'auto'``
    the cached choice (and, when that choice is rejected by its record, the next candidate's
    files).
    Anything else (torch chosen or needed, a file or record missing, a cached graph that does
    not load) returns None: the caller then takes the full path, which builds what is missing.

    :param name: ``'auto'`` or one of :data:`BACKENDS`
    :param key: cache key of the weights content (:func:`crossinfonet_ros.weights.
        metadata_fingerprint`)
    :param device: resolved device
    :param threads: ONNX Runtime intra-op threads (default: physical cores)
    :param verify: proves the weights file holds the content ``key`` names (its tensor
        digest); called once, before anything is built or refused, and only when the cache can
        serve the request; its exception propagates
    :raises ValueError: a gated backend asked for by name and its cached record failed its
        accuracy bar (same message as :func:`create_backend`)
    """
    if device != 'cpu' or name in GPU_ONLY or not all(
            importlib.util.find_spec(module) is not None for module in ('onnx', 'onnxruntime')):
        return None  # (as create_backend: the ONNX backends need both packages)
    from crossinfonet_ros.backends import artifacts

    if name == 'auto':
        record = cache.find_record(key, AUTO_RECORD)
        if not record or record.get('choice') not in AUTO_CPU_ORDER:
            return None  # never timed here: the full path times the candidates
        order = (record['choice'],) + tuple(n for n in AUTO_CPU_ORDER if n != record['choice'])
    elif name in artifacts.ONNX_FILES:
        order = (name,)
    else:
        return None
    for candidate in order:
        if candidate not in artifacts.ONNX_FILES:
            return None  # torch: the full path
        graph = cache.find_file(key, artifacts.ONNX_FILES[candidate])
        record = cache.find_record(key, f'{GATED[candidate]}.json') \
            if candidate in GATED else None
        if graph is None or (candidate in GATED
                             and not artifacts.record_is_current(record, GATED[candidate])):
            return None  # artefacts to build or measure: the full path
        if record is None or record.get('passed') or name != 'auto':
            break  # this one (an explicit name's failed record is refused below)
    verify()
    if record is not None and not record.get('passed'):
        raise ValueError(_inaccurate(candidate, record))
    from crossinfonet_ros.backends.onnx_backend import OnnxRuntimeBackend

    try:
        return OnnxRuntimeBackend(graph, candidate, device, threads)
    except Exception as error:  # noqa: BLE001 (e.g. a damaged cached graph; ORT's own types)
        logging.getLogger(__name__).warning('cached %s graph %s does not load (%s); taking '
                                            'the full path', candidate, graph, error)
        return None


def _auto(source: ModelSource, device: str, threads: Optional[int]) -> Backend:
    """On CUDA :func:`_auto_gpu`; on CPU the faster of the accurate ONNX Runtime backends
    (timed once per weights content on this machine, the choice cached), torch as the last
    resort."""
    if device != 'cpu':
        return _auto_gpu(source, device, threads)
    if not onnxruntime_available():
        return create_backend('torch', source, device, threads)
    from crossinfonet_ros.backends import artifacts

    record = cache.read_record(source.key, AUTO_RECORD)
    candidates = AUTO_CPU_ORDER
    if record and record.get('choice') in candidates:
        order = (record['choice'],) + tuple(n for n in candidates if n != record['choice'])
        return _first_that_builds(order, source, device, threads)
    built = {}
    for name in candidates[:-1]:  # the ONNX Runtime candidates; torch is slower here
        try:
            built[name] = create_backend(name, source, device, threads)
        except (ValueError, RuntimeError) as error:
            logging.getLogger(__name__).info('auto: %s not used (%s)', name, error)
    if not built:
        return create_backend('torch', source, device, threads)
    latency = {name: artifacts.batch1_latency_ms(backend.run, source.metadata.input_size)
               for name, backend in built.items()}
    choice = min(latency, key=latency.get)
    cache.write_record(source.key, AUTO_RECORD, {'choice': choice, 'batch1_ms': latency})
    return built[choice]


def _auto_gpu(source: ModelSource, device: str, threads: Optional[int]) -> Backend:
    """onnxruntime-fp16 (TensorRT or CUDA provider); torch fp32, said in one warning, when it
    cannot run here or misses the accuracy bar."""
    try:
        return create_backend('onnxruntime-fp16', source, device, threads)
    except (ValueError, RuntimeError) as error:
        logging.getLogger(__name__).warning('auto on %s: onnxruntime-fp16 not used (%s); '
                                            'running torch fp32', device, error)
        return create_backend('torch', source, device, threads)


def _inaccurate(name: str, record: dict) -> str:
    return (f'backend {name!r} deviates {record["mean_mm"]:.3f} mm from the fp32 torch model '
            f'on probe crops (bar {record["bar_mm"]} mm); use \'onnxruntime\'')


def _first_that_builds(order, source: ModelSource, device: str,
                       threads: Optional[int]) -> Backend:
    reasons = []
    for name in order:
        try:
            return create_backend(name, source, device, threads)
        except ValueError as error:  # not available or not accurate enough: next one
            reasons.append(str(error))
        except RuntimeError as error:  # e.g. an export that failed its check: say so
            logging.getLogger(__name__).warning('backend %r failed (%s); trying the next',
                                                name, error)
            reasons.append(f'{name}: {error}')
    raise ValueError('no CPU backend could be built: ' + '; '.join(reasons))
