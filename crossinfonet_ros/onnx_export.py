"""Export a CrossInfoNet to ONNX: the inference outputs only, self-describing, checked.

The graph is :class:`crossinfonet_ros.backends.graph.InferenceGraph` (BN folded, merges before
up-sampling, 1x1 max-pool shortcuts, TF1 up-sampling as one ONNX ``Resize``: exact rewrites):
input ``crops`` (B, 1, S, S) with a dynamic batch axis, outputs ``joints`` (B, 3A) and
``heatmaps`` (B, A, S/4, S/4). The model's ONNX ``metadata_props`` carry the same keys as the
weights file (:meth:`WeightsMetadata.to_header`) plus how it was made, so
:func:`read_onnx_metadata` rebuilds the description from the ONNX file alone. Weights are
embedded (one file, about 95 MB).

Every export is run through ONNX Runtime on hand-like probe crops (batch 1 and 5) and compared
with the unmodified torch model; a max abs difference above ``tolerance`` fails the export and
nothing is written. Works offline: torch's exporter and onnxscript need no downloads.

Exporter: ``torch.onnx.export(dynamo=True)`` works with torch 2.13 and onnxscript 0.7.2 here
(5-10 s for this model on 2 shared cores, custom op translated through
``custom_translation_table``); ``dynamo=False`` (TorchScript tracing, about 3 s, deprecated
upstream) is kept as a switch and as the automatic fallback should the dynamo path fail.

CLI: ``python -m crossinfonet_ros.onnx_export WEIGHTS.safetensors OUT.onnx [--torchscript]``.
"""

import argparse
import dataclasses
import io
import logging
from pathlib import Path
import time
from typing import Optional, Union
import warnings

import numpy as np
import torch

from crossinfonet_ros.backends.graph import UPSAMPLE_OP, InferenceGraph
from crossinfonet_ros.backends.probe import probe_crops
from crossinfonet_ros.model import CrossInfoNet
from crossinfonet_ros.weights import (PathLike, WeightsError, WeightsMetadata, load_model,
                                      metadata_fingerprint, write_atomically)

INPUT_NAME = 'crops'
OUTPUT_NAMES = ('joints', 'heatmaps')
# Max |ONNX - torch| allowed on the normalised outputs; 1e-4 normalised is 0.0125 mm with a
# 250 mm cube, far below any accuracy that matters and far above fp32 re-ordering noise (~1e-6).
DEFAULT_TOLERANCE = 1e-4
OPSET = 18


class ExportError(RuntimeError):
    """The export failed or its result differs from the torch model."""


@dataclasses.dataclass(frozen=True)
class ExportReport:
    """What an export produced."""

    path: Path  # the written .onnx file (single file, weights embedded)
    max_abs_diff: float  # max |ONNX Runtime - torch| over joints and heat-maps (normalised)
    exporter: str  # 'dynamo' or 'torchscript'
    seconds: float  # wall time of the export and the check


def export_onnx(source: Union[PathLike, CrossInfoNet], out_path: PathLike,
                metadata: Optional[WeightsMetadata] = None, *, dynamo: bool = True,
                tolerance: float = DEFAULT_TOLERANCE) -> ExportReport:
    """Export the inference graph of a weights file (or a model + metadata) to ONNX.

    :param source: a weights file path, or a :class:`CrossInfoNet` (then ``metadata`` is needed)
    :param out_path: the ``.onnx`` file to write (atomically)
    :param metadata: description of ``source`` when it is a model
    :param dynamo: use the dynamo exporter (falls back to TorchScript if it fails)
    :param tolerance: max abs difference to the torch model allowed on the probe crops
    :return: an :class:`ExportReport`
    :raises ExportError: export failed or the check exceeded ``tolerance``
    :raises WeightsError: ``source`` is a bad weights file
    """
    started = time.perf_counter()
    model, metadata = _resolve_source(source, metadata)
    payload, max_diff, exporter = _export_checked(model, metadata, dynamo, tolerance, out_path)
    write_atomically(Path(out_path), payload)
    return ExportReport(Path(out_path), max_diff, exporter, time.perf_counter() - started)


def export_bytes(model: CrossInfoNet, metadata: WeightsMetadata, *, dynamo: bool = True,
                 tolerance: float = DEFAULT_TOLERANCE) -> bytes:
    """Like :func:`export_onnx` for a model, but return the checked ONNX file's bytes.

    :param model: the network
    :param metadata: its description (stored in the ONNX metadata_props)
    :param dynamo: use the dynamo exporter (falls back to TorchScript if it fails)
    :param tolerance: max abs difference to the torch model allowed on the probe crops
    :raises ExportError: export failed or the check exceeded ``tolerance``
    """
    return _export_checked(model.eval(), metadata, dynamo, tolerance, '<memory>')[0]


def _export_checked(model: CrossInfoNet, metadata: WeightsMetadata, dynamo: bool,
                    tolerance: float, destination) -> tuple:
    """``(payload, max_abs_diff, exporter)`` of a checked export."""
    graph = InferenceGraph(model, for_export=True).eval()
    proto, exporter = _export_proto(graph, model.config.input_size, dynamo)
    header = metadata.to_header()
    header.update({'onnx_exporter': exporter, 'onnx_outputs': ','.join(OUTPUT_NAMES),
                   'onnx_rewrites': 'inference outputs only; BN folded; merge before '
                                    'up-sampling; 1x1 max-pool shortcuts; Resize up-sampling',
                   'weights_fingerprint': metadata_fingerprint(metadata)})
    del proto.metadata_props[:]
    for key, value in sorted(header.items()):
        proto.metadata_props.add(key=key, value=value)
    payload = proto.SerializeToString()
    max_diff = check_against_torch(payload, model)
    if not max_diff <= tolerance:
        raise ExportError(f'ONNX export differs from torch by {max_diff:.3g} (tolerance '
                          f'{tolerance:.3g}); nothing written to {destination}')
    return payload, max_diff, exporter


def check_against_torch(onnx_model: Union[bytes, PathLike], model: CrossInfoNet,
                        batches=(1, 5)) -> float:
    """Max |ONNX Runtime - torch| of joints and heat-maps on probe crops, over batch sizes.

    :param onnx_model: serialised ONNX model or a path to one
    :param model: the torch reference (run unmodified, ``outputs='inference'``)
    :param batches: batch sizes to try (more than one exercises the dynamic batch axis)
    """
    import onnxruntime as ort

    session = ort.InferenceSession(
        onnx_model if isinstance(onnx_model, bytes) else str(onnx_model),
        providers=['CPUExecutionProvider'])
    worst = 0.0
    size = model.config.input_size
    for seed, batch in enumerate(batches):
        crops = probe_crops(batch, size, seed=seed)
        with torch.inference_mode():
            reference = model.eval()(torch.from_numpy(crops), outputs='inference')
        joints, heatmaps = session.run(list(OUTPUT_NAMES), {INPUT_NAME: crops})
        for ours, theirs in ((joints, reference.joints), (heatmaps, reference.heatmaps)):
            if ours.shape != tuple(theirs.shape):
                raise ExportError(f'ONNX output shape {ours.shape} differs from torch '
                                  f'{tuple(theirs.shape)}')
            worst = max(worst, float(np.abs(ours - theirs.numpy()).max()))
    return worst


def read_onnx_metadata(path: PathLike) -> WeightsMetadata:
    """The :class:`WeightsMetadata` stored in an exported ONNX file's ``metadata_props``.

    :param path: an ``.onnx`` file written by :func:`export_onnx`
    :raises WeightsError: the file has no (or unreadable) CrossInfoNet metadata
    """
    import onnx

    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # onnx raises DecodeError and friends, no common base
        raise WeightsError(path, f'not a readable ONNX model ({error})') from None
    header = {prop.key: prop.value for prop in proto.metadata_props}
    return WeightsMetadata.from_header(header, path)


def _resolve_source(source, metadata):
    if isinstance(source, CrossInfoNet):
        if metadata is None:
            raise ValueError('exporting a model object needs its WeightsMetadata')
        return source.eval(), metadata
    return load_model(source)


def _export_proto(graph: InferenceGraph, size: int, dynamo: bool):
    """Run torch's exporter in memory: ``(onnx.ModelProto, exporter name)``."""
    import onnx

    example = (torch.from_numpy(probe_crops(2, size)),)
    if dynamo:
        try:
            with _quiet_exporter():
                program = torch.onnx.export(
                    graph, example, dynamo=True, verbose=False, opset_version=OPSET,
                    input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
                    dynamic_shapes={'x': {0: torch.export.Dim('batch')}}, optimize=True,
                    custom_translation_table={_upsample_overload(): _upsample_onnxscript})
            return program.model_proto, 'dynamo'
        except Exception as error:  # any exporter failure: fall back, say so
            logging.getLogger(__name__).warning('dynamo ONNX export failed (%s); falling back '
                                                'to the TorchScript exporter', error)
    buffer = io.BytesIO()
    torch.onnx.register_custom_op_symbolic(UPSAMPLE_OP, _upsample_symbolic, OPSET)
    with _quiet_exporter():
        torch.onnx.export(graph, example, buffer, dynamo=False, opset_version=OPSET,
                          input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
                          dynamic_axes={name: {0: 'batch'}
                                        for name in (INPUT_NAME,) + OUTPUT_NAMES})
    return onnx.load_from_string(buffer.getvalue()), 'torchscript'


def _upsample_overload():
    namespace, name = UPSAMPLE_OP.split('::')
    return getattr(getattr(torch.ops, namespace), name).default


# ONNX Resize with these settings samples the input at dst / 2, clamped at the edge: the TF1
# legacy resize_bilinear (spec 1.10).
_RESIZE_ATTRIBUTES = {'mode': 'linear', 'coordinate_transformation_mode': 'asymmetric'}


def _upsample_onnxscript(x):
    """Dynamo exporter translation of :data:`UPSAMPLE_OP`: one ONNX Resize."""
    from onnxscript import opset18 as op

    scales = op.Constant(value_floats=[1.0, 1.0, 2.0, 2.0])
    return op.Resize(x, None, scales, **_RESIZE_ATTRIBUTES)


def _upsample_symbolic(g, x):
    """TorchScript exporter translation of :data:`UPSAMPLE_OP`: one ONNX Resize."""
    roi = g.op('Constant', value_t=torch.tensor([], dtype=torch.float32))
    scales = g.op('Constant', value_t=torch.tensor([1.0, 1.0, 2.0, 2.0]))
    return g.op('Resize', x, roi, scales,
                **{f'{key}_s': value for key, value in _RESIZE_ATTRIBUTES.items()})


class _quiet_exporter:
    """Silence the exporter's progress lines and known-harmless warnings for one export."""

    _LOGGERS = ('torch.onnx', 'torch.onnx._internal.exporter._registration', 'onnxscript')

    def __enter__(self):
        self._levels = [(logging.getLogger(n), logging.getLogger(n).level)
                        for n in self._LOGGERS]
        for logger, _ in self._levels:
            logger.setLevel(logging.ERROR)
        self._warnings = warnings.catch_warnings()
        self._warnings.__enter__()
        warnings.simplefilter('ignore')
        return self

    def __exit__(self, *exc):
        self._warnings.__exit__(*exc)
        for logger, level in self._levels:
            logger.setLevel(level)
        return False


def main(argv=None) -> None:
    """CLI: ``python -m crossinfonet_ros.onnx_export WEIGHTS OUT.onnx``."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('weights', help='CrossInfoNet .safetensors weights file')
    parser.add_argument('out', help='ONNX file to write')
    parser.add_argument('--torchscript', action='store_true',
                        help='use the TorchScript exporter (dynamo=False)')
    parser.add_argument('--tolerance', type=float, default=DEFAULT_TOLERANCE,
                        help='max abs difference to torch allowed (normalised units)')
    args = parser.parse_args(argv)
    try:
        report = export_onnx(args.weights, args.out, dynamo=not args.torchscript,
                             tolerance=args.tolerance)
    except (WeightsError, ExportError) as error:
        parser.exit(1, f'error: {error}\n')
    print(f'wrote {report.path} ({report.exporter} exporter, max |onnx - torch| '
          f'{report.max_abs_diff:.2g}, {report.seconds:.1f} s)')


if __name__ == '__main__':
    main()
