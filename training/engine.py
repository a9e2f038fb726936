"""The training and validation loops (one job: run batches through the network).

Error in mm of a normalised prediction: joints are normalised as ``(j - c) / (S / 2)``
(spec 3.6), so a normalised difference times ``S / 2`` is the difference in mm.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import asdict, dataclass
from typing import Callable, Dict, Iterable, Optional

import torch
from torch import nn

from crossinfonet_ros.model import CrossInfoLoss


@dataclass
class RunningStats:
    """Sums over the steps of one epoch so far (saved in mid-epoch checkpoints)."""

    steps: int = 0  # optimiser steps taken this epoch
    samples: int = 0  # training samples seen this epoch
    loss_sum: float = 0.0  # sum of per-step total loss
    error_sum_mm: float = 0.0  # sum over samples of the mean joint error, mm

    @property
    def loss(self) -> float:
        """Mean total loss per step."""
        return self.loss_sum / max(self.steps, 1)

    @property
    def error_mm(self) -> float:
        """Mean joint error over the samples, mm."""
        return self.error_sum_mm / max(self.samples, 1)

    def to_dict(self) -> Dict[str, float]:
        """Plain dict for checkpoints."""
        return asdict(self)


def sample_errors_mm(predicted: torch.Tensor, target: torch.Tensor,
                     cube_mm: torch.Tensor) -> torch.Tensor:
    """Mean 3D joint error of each sample, mm.

    :param predicted: (B, A*3) normalised joints
    :param target: (B, A, 3) normalised joints
    :param cube_mm: (B,) cube side of each sample
    :return: (B,) mean Euclidean joint error in mm
    """
    difference = predicted.detach().float().reshape(target.shape) - target.float()
    scale = (cube_mm.to(difference) / 2).reshape(-1, 1)
    return difference.norm(dim=-1).mul(scale).mean(dim=1)


def _to_device(batch: dict, device: torch.device) -> tuple:
    depth = batch['depth'].to(device, non_blocking=True)
    joints = batch['joints'].to(device, non_blocking=True)
    heatmaps = batch['heatmaps'].to(device, non_blocking=True)
    return depth, joints, heatmaps


def train_steps(model: nn.Module, criterion: CrossInfoLoss, optimizer: torch.optim.Optimizer,
                batches: Iterable[dict], device: torch.device, stats: RunningStats,
                scaler: Optional[torch.amp.GradScaler] = None,
                autocast_dtype: Optional[torch.dtype] = None,
                after_step: Optional[Callable[[RunningStats], bool]] = None) -> bool:
    """Train on ``batches``, accumulating into ``stats``.

    :param model: the network (put into train mode here); may be DDP-wrapped
    :param criterion: the CrossInfoNet loss
    :param optimizer: the optimiser
    :param batches: dicts from :class:`~training.datasets.torch_dataset.AugmentedDataset`
    :param device: where to compute
    :param stats: running sums, updated in place
    :param scaler: AMP gradient scaler (CUDA fp16) or None
    :param autocast_dtype: compute the forward pass under autocast in this dtype (fp16 on CUDA
        with ``scaler``, bf16 on CPUs with native bf16), or None for fp32
    :param after_step: called after every step; returning True stops the loop early
    :return: True when stopped early by ``after_step``
    """
    model.train()
    plain = model.module if hasattr(model, 'module') else model
    amp = autocast_dtype is not None
    for batch in batches:
        depth, joints, heatmaps = _to_device(batch, device)
        context = torch.autocast(device.type, dtype=autocast_dtype) if amp else nullcontext()
        with context:
            output = model(depth)
        if amp:  # the loss is a sum of squares: compute it in fp32 even under AMP
            output = type(output)(*(None if value is None else value.float()
                                    for value in output))
        loss, _ = criterion(output, joints, heatmaps if criterion.model_config.heatmaps else None,
                            plain.decay_parameters())
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        errors = sample_errors_mm(output.joints, joints, batch['cube_mm'])
        stats.steps += 1
        stats.samples += int(errors.numel())
        stats.loss_sum += float(loss.detach())
        stats.error_sum_mm += float(errors.sum())
        if after_step is not None and after_step(stats):
            return True
    return False


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable[dict], device: torch.device) -> Dict[str, float]:
    """Mean joint error (mm) of the network on plain (unaugmented) batches.

    :param model: the network (put into eval mode here)
    :param batches: dicts as for :func:`train_steps`
    :param device: where to compute
    :return: ``{'error_mm': mean over samples, 'samples': count}``
    """
    model.eval()
    plain = model.module if hasattr(model, 'module') else model
    total, count = 0.0, 0
    for batch in batches:
        depth, joints, _ = _to_device(batch, device)
        output = plain(depth, outputs='inference')
        errors = sample_errors_mm(output.joints, joints, batch['cube_mm'])
        total += float(errors.sum())
        count += int(errors.numel())
    return {'error_mm': total / max(count, 1), 'samples': count}
