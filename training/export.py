"""Training checkpoint -> the node's weights file: ``python -m training.export``.

``python -m training.export --checkpoint RUN_DIR/best.pt --out W.safetensors [--fp16]
[--onnx W.onnx]`` writes the self-describing safetensors file of
:mod:`crossinfonet_ros.weights` (model config, layout, cube, input size, training record).

With ``--fp16`` the stored tensors are half precision (about 48 MB instead of 96 MB). The
export then runs rendered synthetic crops through the fp32 network and the network loaded back
from the fp16 file and reports the max / mean joint deviation in mm; a mean above
``--max-mean-mm`` (0.5 mm) fails the export and nothing is written.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import sys
import tempfile
from typing import Optional, Sequence

import numpy as np
import torch

from crossinfonet_ros.model import CrossInfoNet, ModelConfig
from crossinfonet_ros.weights import WeightsError, WeightsMetadata, load_model, save_weights
from training.checkpoint import CheckpointError, load_checkpoint
from training.out_path import out_problem

DEFAULT_MAX_MEAN_MM = 0.5  # fp16 check: largest allowed mean joint deviation (task brief)
CHECK_CROPS = 32  # rendered crops in the fp16 check
CHECK_SEED = 4242  # their synthetic data-set seed


class ExportFailed(RuntimeError):
    """The export cannot be done or its fp16 check failed."""


def model_from_checkpoint(path: Path) -> tuple:
    """``(model in eval mode, checkpoint dict)`` of a ``best.pt`` / ``checkpoint.pt``.

    :raises CheckpointError: unreadable or not a training checkpoint
    """
    data = load_checkpoint(path)
    for key in ('model_config', 'layout', 'cube_mm'):
        if key not in data:
            raise CheckpointError(f'{path} lacks {key!r}: not written by training.train')
    model = CrossInfoNet(ModelConfig.from_dict(data['model_config']))
    model.load_state_dict(data['model'])
    return model.eval(), data


def check_crops(layout: str, cube_mm: float, count: int = CHECK_CROPS,
                seed: int = CHECK_SEED) -> tuple:
    """``(depth (N,1,S,S) tensor, cube)`` of plain rendered synthetic crops for comparisons."""
    from training.augment import plain_item
    from training.synth_dataset import SyntheticSamples, synth_config

    samples = SyntheticSamples(seed, count, synth_config(cube_mm), layout)
    depth = np.stack([plain_item(samples[i]).depth for i in range(count)])
    return torch.from_numpy(depth), cube_mm


@torch.no_grad()
def joint_deviation_mm(reference: CrossInfoNet, other: CrossInfoNet, depth: torch.Tensor,
                       cube_mm: float) -> dict:
    """Max and mean Euclidean joint deviation (mm) between two networks on ``depth`` crops."""
    first = reference(depth, outputs='inference').joints.double()
    second = other(depth, outputs='inference').joints.double()
    distance = (first - second).reshape(len(depth), -1, 3).norm(dim=-1) * cube_mm / 2
    return {'max_mm': float(distance.max()), 'mean_mm': float(distance.mean())}


def export(checkpoint: Path, out: Path, fp16: bool = False,
           max_mean_mm: float = DEFAULT_MAX_MEAN_MM, onnx: Optional[Path] = None,
           check_count: int = CHECK_CROPS) -> dict:
    """Export a checkpoint; return a report (path, size, dtype, deviation, onnx).

    :param checkpoint: ``best.pt`` or ``checkpoint.pt`` of ``training.train``
    :param out: the ``.safetensors`` file to write
    :param fp16: store half precision (checked against fp32)
    :param max_mean_mm: fp16 check threshold on the mean joint deviation
    :param onnx: also write this ONNX file (``crossinfonet_ros.onnx_export``)
    :param check_count: crops in the fp16 check
    :raises ExportFailed: the fp16 check failed (nothing written)
    """
    model, data = model_from_checkpoint(checkpoint)
    training = dict(data.get('training') or {})
    training.setdefault('epochs', data.get('epoch'))
    training['checkpoint'] = os.path.basename(str(checkpoint))
    metadata = WeightsMetadata.for_model(model.config, data['layout'], data['cube_mm'],
                                         stored_dtype='float16' if fp16 else 'float32',
                                         training=training)
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f'.{out.name}.', suffix='.tmp', dir=out.parent)
    os.close(handle)
    report = {'path': str(out), 'stored_dtype': metadata.stored_dtype,
              'layout': data['layout'], 'cube_mm': data['cube_mm']}
    try:
        save_weights(temp, model.state_dict(), metadata)
        reloaded, _ = load_model(temp)
        depth, cube = check_crops(data['layout'], data['cube_mm'], check_count)
        deviation = joint_deviation_mm(model, reloaded, depth, cube)
        report['deviation_vs_fp32'] = deviation
        if deviation['mean_mm'] > max_mean_mm:
            raise ExportFailed(f'{metadata.stored_dtype} weights deviate from fp32 by'
                               f' {deviation["mean_mm"]:.3f} mm on average (limit'
                               f' {max_mean_mm} mm); nothing written')
        os.replace(temp, out)
    finally:
        Path(temp).unlink(missing_ok=True)
    report['bytes'] = out.stat().st_size
    if onnx is not None:
        from crossinfonet_ros.onnx_export import export_onnx
        result = export_onnx(out, onnx)
        report['onnx'] = {'path': str(result.path), 'max_abs_diff': result.max_abs_diff,
                          'exporter': result.exporter}
    return report


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog='python -m training.export',
                                     description=__doc__.split('\n')[0])
    parser.add_argument('--checkpoint', required=True, help='RUN_DIR/best.pt')
    parser.add_argument('--out', required=True, help='.safetensors file to write')
    parser.add_argument('--fp16', action='store_true', help='store half precision')
    parser.add_argument('--max-mean-mm', type=float, default=DEFAULT_MAX_MEAN_MM,
                        help='fp16 check: allowed mean joint deviation, mm')
    parser.add_argument('--onnx', help='also export this .onnx file')
    parser.add_argument('--threads', type=int, default=2, help='torch CPU threads')
    args = parser.parse_args(argv)
    for option, path in (('--out', args.out), ('--onnx', args.onnx)):
        problem = path and out_problem(Path(path), directory=False)
        if problem:  # before the export and its checks, not after them
            print(f'training.export: error: {option} {path}: {problem}', file=sys.stderr)
            return 2
    torch.set_num_threads(max(1, args.threads))
    try:
        report = export(Path(args.checkpoint), Path(args.out), args.fp16, args.max_mean_mm,
                        Path(args.onnx) if args.onnx else None)
    except (CheckpointError, WeightsError, ExportFailed) as error:
        print(f'training.export: error: {error}', file=sys.stderr)
        return 2
    deviation = report['deviation_vs_fp32']
    print(f'wrote {report["path"]} ({report["bytes"] / 1e6:.1f} MB, {report["stored_dtype"]});'
          f' joint deviation vs fp32: max {deviation["max_mm"]:.4f} mm, mean'
          f' {deviation["mean_mm"]:.4f} mm')
    if 'onnx' in report:
        print(f'wrote {report["onnx"]["path"]} (max |onnx - torch| '
              f'{report["onnx"]["max_abs_diff"]:.2e}, {report["onnx"]["exporter"]})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
