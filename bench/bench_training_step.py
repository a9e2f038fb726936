"""Seconds per training step (forward, loss, backward, Adam) in fp32 and under bf16 autocast.

The network is built as ``training.train`` builds it (``training_model``: channels-last).

    python bench/bench_training_step.py [--batch 32] [--threads 1] [--steps 3]

Random crops and targets of the shipped model's shape (hands2017, cross_hm); the two precisions
alternate so a noisy machine loads both alike. bf16 is skipped (and said so) on CPUs without
native bf16 (``training.train_args.cpu_has_bf16``).
"""

import argparse
from pathlib import Path
import sys
import time

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crossinfonet_ros.model import CrossInfoLoss, ModelConfig  # noqa: E402
from training.train import training_model  # noqa: E402
from training.train_args import cpu_has_bf16  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--steps', type=int, default=3, help='timed steps per round')
    parser.add_argument('--rounds', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = ModelConfig()
    criterion = CrossInfoLoss(config)
    nhwc = training_model(config, torch.device('cpu'))
    side = config.input_size
    depth = torch.rand(args.batch, 1, side, side) * 2 - 1
    joints = torch.rand(args.batch, config.num_joints, 3) - 0.5
    heatmaps = torch.rand(args.batch, config.num_joints, side // 4, side // 4)
    optimizer = torch.optim.Adam(nhwc.parameters(), 1e-3)

    def step(dtype, memory_format) -> None:
        model = nhwc.to(memory_format=memory_format)  # in place: the layouts alternate
        with torch.autocast('cpu', dtype=dtype, enabled=dtype is not None):
            output = model(depth, outputs='all')
        output = type(output)(*(None if v is None else v.float() for v in output))
        loss, _ = criterion(output, joints, heatmaps, model.decay_parameters())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    modes = {'fp32': (None, torch.channels_last)}
    if cpu_has_bf16():
        modes['bf16'] = (torch.bfloat16, torch.channels_last)
        modes['bf16 NCHW'] = (torch.bfloat16, torch.contiguous_format)
    else:
        print('bf16: skipped, this CPU has no native bf16')
    times = {name: [] for name in modes}
    for _ in range(args.rounds):
        for name, (dtype, memory_format) in modes.items():
            step(dtype, memory_format)  # warm-up (and the layout change)
            started = time.perf_counter()
            for _ in range(args.steps):
                step(dtype, memory_format)
            times[name].append((time.perf_counter() - started) / args.steps)
    print(f'training step, batch {args.batch}, {args.threads} thread(s), channels-last unless '
          f'NCHW: ' + ', '.join(f'{name} {min(values):.2f} s (best of {args.rounds})'
                                for name, values in times.items()))
    if 'bf16' in times:
        print(f'bf16 speed-up: {min(times["fp32"]) / min(times["bf16"]):.2f}x; channels-last '
              f'speed-up (bf16): {min(times["bf16 NCHW"]) / min(times["bf16"]):.2f}x')
    return 0


if __name__ == '__main__':
    sys.exit(main())
