"""An exponential moving average of a network's weights, the model validated and kept as best.

After every optimiser step each floating-point tensor of the copy (parameters and BatchNorm
running statistics) moves a fraction ``1 - decay`` towards the trained network's:
``average = decay * average + (1 - decay) * current``. Integer buffers (BatchNorm's batch
counters) are copied. With ``decay`` 0.998 the average spans about 500 steps; it smooths out the
step-to-step noise of Adam, which at a plateau is most of what separates consecutive epochs.

The average starts as a copy of the network it follows, so switching it on when resuming a
trained run needs no warm-up correction.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage:
    """The moving average of ``model``'s weights, as a network of its own (in eval mode).

    :param model: the network being trained (not DDP-wrapped)
    :param decay: weight of the old average per update, in [0, 1)
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0 <= decay < 1:
            raise ValueError(f'weight-average decay must be in [0, 1), got {decay}')
        self.decay = float(decay)
        self.model = copy.deepcopy(model).eval()
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards ``model``'s current weights (call after each step)."""
        for average, current in zip(_tensors(self.model), _tensors(model), strict=True):
            if average.is_floating_point():
                average.lerp_(current.detach(), 1.0 - self.decay)
            else:
                average.copy_(current)
        self.updates += 1

    def state_dict(self) -> dict:
        """What a checkpoint keeps (the decay is the run's argument, not saved here)."""
        return {'model': self.model.state_dict(), 'updates': self.updates}

    def load_state_dict(self, state: dict) -> None:
        """Restore from :meth:`state_dict`."""
        self.model.load_state_dict(state['model'])
        self.updates = int(state['updates'])


def _tensors(model: nn.Module) -> list:
    return [*model.parameters(), *model.buffers()]
