"""Inference speed and accuracy of every backend, against this machine's fp32 compute floor.

Run from the checkout::

    .venv/bin/python bench/bench_inference.py [--weights W.safetensors] [--json OUT|-]

For each backend (and, where a GPU and a GPU build of torch or onnxruntime are present, the
CUDA rows) and batch sizes 1, 5 and 16: median ms per crop over timed runs after warm-up
(backends interleaved round by round, so background load hits all of them alike), fps, the
ratio to the floor, and the mean joint deviation from the unmodified fp32 torch model on hand
crops (rendered by training.synth when present, else synthetic probe hands), in mm with a
250 mm cube and relative to the spread of the outputs over the crops. The floor is the model's
FLOPs (counted from its conv / FC layer shapes, inference outputs only) divided by the fp32
GFLOP/s that a 2048x2048 torch.matmul reaches in the same run with the same thread count.

Without --weights it uses random-init weights (untrained: joint outputs barely depend on the
input, so also check the relative deviation, and re-run with trained weights). Shared cores
make single figures noisy: compare ratios, and re-run at quiet moments (load is printed).
"""

import argparse
import json
import os
from pathlib import Path
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crossinfonet_ros.backends import (ModelSource, artifacts, cache,  # noqa: E402
                                       create_backend)
from crossinfonet_ros.backends.fc_int8 import fp16_weight_fc  # noqa: E402
from crossinfonet_ros.backends.graph import InferenceGraph  # noqa: E402
from crossinfonet_ros.backends.onnx_backend import OnnxRuntimeBackend  # noqa: E402
from crossinfonet_ros.backends.probe import (ACCURACY_BAR_MM, DEFAULT_CUBE_MM,  # noqa: E402
                                             INT8_ACCURACY_BAR_MM, joint_deviation,
                                             probe_crops, random_weights)
from crossinfonet_ros.backends.torch_backend import TorchBackend  # noqa: E402
from crossinfonet_ros.cpus import has_int8_dot_product, usable_cores  # noqa: E402
from crossinfonet_ros.weights import load_weights, write_atomically  # noqa: E402

BATCHES = (1, 5, 16)  # 5: the detector's candidates, run as one batch (pipeline.py)
ACCURACY_CROPS = 32


def matmul_gflops(size: int = 2048, runs: int = 8) -> float:
    """Median fp32 GFLOP/s of a size x size torch.matmul at the current thread count."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(2):
        torch.matmul(a, b)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        torch.matmul(a, b)
        times.append(time.perf_counter() - start)
    return 2 * size ** 3 / float(np.median(times)) / 1e9


def count_flops(module: torch.nn.Module, forward, size: int) -> int:
    """FLOPs (2 per multiply-add) of the conv and FC layers ``forward`` runs on one crop."""
    total = []

    def hook(layer, inputs, output):
        if isinstance(layer, torch.nn.Conv2d):
            per_output = layer.in_channels // layer.groups * int(np.prod(layer.kernel_size))
        else:
            per_output = layer.in_features
        total.append(2 * output.numel() * per_output)

    handles = [m.register_forward_hook(hook) for m in module.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.inference_mode():
        forward(torch.zeros(1, 1, size, size))
    for handle in handles:
        handle.remove()
    return sum(total)


def hand_crops(count: int, size: int) -> tuple:
    """(crops (N, 1, S, S), description): rendered hands if training.synth exists."""
    try:
        from crossinfonet_ros.codec import crop_hand
        from training.synth.scene import render_crop
    except ImportError:
        return probe_crops(count, size, seed=7), 'synthetic probe hands'
    crops = []
    for index in range(count):
        sample = render_crop(2019, index)
        crops.append(crop_hand(sample.depth_mm, sample.center_mm, sample.cube_mm,
                               sample.intrinsics, size=size).depth)
    return np.stack(crops)[:, None].astype(np.float32), 'rendered hands (training.synth)'


def build_backends(source: ModelSource, threads: int) -> dict:
    """name -> (run function, build seconds); ONNX files come from the (fresh) cache."""
    import onnx
    import onnxruntime

    model = source.model()
    built = {}

    def timed(name, make):
        start = time.perf_counter()
        built[name] = (make(), time.perf_counter() - start)

    def eager(crops):
        with torch.inference_mode():
            out = model(torch.from_numpy(crops), outputs='inference')
        return out.joints.numpy(), out.heatmaps.numpy()

    built['torch-eager'] = (eager, 0.0)
    timed('torch', lambda: TorchBackend(model).run)
    timed('onnxruntime', lambda: OnnxRuntimeBackend(
        artifacts.fp32_onnx(source), threads=threads).run)
    timed('onnxruntime-int8x2', lambda: OnnxRuntimeBackend(
        artifacts.int8x2_onnx(source), threads=threads).run)
    timed('onnxruntime-int8', lambda: OnnxRuntimeBackend(
        artifacts.int8_onnx(source), threads=threads).run)
    timed('onnxruntime-int8dyn', lambda: OnnxRuntimeBackend(
        artifacts.int8_dynamic_onnx(source), threads=threads).run)

    def fp16w():
        path = cache.entry_dir(source.key) / 'fp16w.onnx'
        rewritten = fp16_weight_fc(onnx.load(str(artifacts.fp32_onnx(source))))
        write_atomically(path, rewritten.SerializeToString())
        return OnnxRuntimeBackend(path, threads=threads).run

    timed('onnxruntime-fp16w', fp16w)
    if torch.cuda.is_available():
        timed('torch cuda:0', lambda: TorchBackend(model, 'cuda:0').run)
    if {'CUDAExecutionProvider', 'TensorrtExecutionProvider'} & set(
            onnxruntime.get_available_providers()):
        timed('onnxruntime-fp16 cuda:0',
              lambda: create_backend('onnxruntime-fp16', source, 'cuda:0').run)
    else:
        print('no CUDA or TensorRT execution provider: no GPU rows')
    return built


def time_all(backends: dict, crops: np.ndarray, rounds: int, runs: dict) -> dict:
    """Median ms per crop of every backend and batch, interleaved over ``rounds``."""
    samples = {(name, batch): [] for name in backends for batch in BATCHES}
    for name, (run, _) in backends.items():  # warm-up (first calls allocate and JIT)
        for batch in BATCHES:
            for _ in range(2):
                run(crops[:batch])
    for _ in range(rounds):
        for name, (run, _) in backends.items():
            for batch in BATCHES:
                x = np.ascontiguousarray(crops[:batch])
                for _ in range(runs[batch]):
                    start = time.perf_counter()
                    run(x)
                    samples[name, batch].append((time.perf_counter() - start) * 1e3 / batch)
    return {key: float(np.median(values)) for key, values in samples.items()}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--weights', help='weights file (default: random-init weights)')
    parser.add_argument('--threads', type=int, default=usable_cores(),
                        help='torch and ONNX Runtime threads (default: physical cores)')
    parser.add_argument('--runs', type=int, default=5, help='timed batch-1 runs per round')
    parser.add_argument('--rounds', type=int, default=16, help='interleaved timing rounds')
    parser.add_argument('--json', help="write the results as JSON to this file ('-': stdout)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix='bench-inference-') as folder:
        os.environ[cache.CACHE_ENV] = os.path.join(folder, 'cache')  # cold: builds are timed
        weights = args.weights or random_weights(Path(folder) / 'random.safetensors', seed=0)
        source = ModelSource(*load_weights(weights))
        size = source.metadata.input_size
        gflops_before = matmul_gflops()
        backends = build_backends(source, args.threads)
        model = source.model()
        model_flops = count_flops(model, lambda x: model(x, outputs='inference'), size)
        graph = InferenceGraph(model)
        graph_flops = count_flops(graph, graph, size)
        crops, crop_kind = hand_crops(ACCURACY_CROPS, size)
        reference = backends['torch-eager'][0](crops)[0]
        deviation = {name: joint_deviation(reference, run(crops)[0], DEFAULT_CUBE_MM)
                     for name, (run, _) in backends.items()}
        timings = time_all(backends, crops, args.rounds,
                           {1: args.runs, 5: 1, 16: 1})
        gflops = float(np.mean([gflops_before, matmul_gflops()]))
    floor_ms = model_flops / (gflops * 1e9) * 1e3
    results = {
        'threads': args.threads, 'weights': str(args.weights or 'random init'),
        'crops': crop_kind, 'matmul_gflops': gflops, 'model_gflop': model_flops / 1e9,
        'graph_gflop': graph_flops / 1e9, 'floor_ms': floor_ms,
        'load_average': [load_before[0], os.getloadavg()[0]],
        'torch': torch.__version__, 'bar_mm': ACCURACY_BAR_MM,
        'int8_dot_product': has_int8_dot_product(),
        'backends': {name: {
            'build_s': built_s, 'deviation': deviation[name],
            'bar_mm': INT8_ACCURACY_BAR_MM if name == 'onnxruntime-int8' else ACCURACY_BAR_MM,
            'batches': {str(b): {'ms_per_crop': timings[name, b],
                                 'fps': 1e3 / timings[name, b],
                                 'x_floor': timings[name, b] / floor_ms} for b in BATCHES}}
            for name, (_, built_s) in backends.items()},
    }
    print_table(results)
    if args.json:
        text = json.dumps(results, indent=1)
        if args.json == '-':
            print(text)
        else:
            Path(args.json).write_text(text)
    return results


def print_table(results: dict) -> None:
    import onnxruntime

    print(f'torch {results["torch"]}, onnxruntime {onnxruntime.__version__}, '
          f'{results["threads"]} threads, load average {results["load_average"][0]:.2f} -> '
          f'{results["load_average"][1]:.2f} (shared cores: figures are noisy)')
    print(f'fp32 matmul {results["matmul_gflops"]:.0f} GFLOP/s; model '
          f'{results["model_gflop"]:.3f} GFLOP/crop (inference outputs; rewritten graph '
          f'{results["graph_gflop"]:.3f}); floor {results["floor_ms"]:.2f} ms/crop; int8 '
          f'dot-product instructions (VNNI): {"yes" if results["int8_dot_product"] else "no"}')
    print(f'deviation vs torch fp32 on {ACCURACY_CROPS} {results["crops"]}, cube '
          f'{DEFAULT_CUBE_MM:.0f} mm; bar {results["bar_mm"]} mm (onnxruntime-int8: '
          f'{INT8_ACCURACY_BAR_MM} mm); weights {results["weights"]}')
    header = (f'{"backend":<20}{"build s":>8}{"batch":>6}{"ms/crop":>9}{"fps":>7}'
              f'{"x floor":>8}{"dev mm":>10}{"dev rel":>9}  bar')
    print(header)
    print('-' * len(header))
    for name, entry in results['backends'].items():
        dev = entry['deviation']
        for batch, row in entry['batches'].items():
            print(f'{name:<20}{entry["build_s"]:>8.1f}{batch:>6}{row["ms_per_crop"]:>9.2f}'
                  f'{row["fps"]:>7.0f}{row["x_floor"]:>8.2f}{dev["mean_mm"]:>10.4f}'
                  f'{dev["relative"]:>9.1e}  '
                  f'{"ok" if dev["mean_mm"] < entry["bar_mm"] else "FAIL"}')


if __name__ == '__main__':
    main()
