"""Width-reduced ResNet-50 backbone (TF-slim v1, units 3-4-6-3, random init; spec 1.3)."""

from typing import Tuple

import torch
from torch import nn

from crossinfonet_ros.model.blocks import Bottleneck, ConvBN

STEM_CHANNELS = 32
# (units, bottleneck width, output depth) of block1..block4; the last unit of each block has
# stride 2 (spec 1.3): outputs C2..C5 at 1/4, 1/8, 1/16, 1/32 of the input.
BLOCKS = ((3, 16, 64), (4, 32, 128), (6, 64, 256), (3, 64, 256))


class Backbone(nn.Module):
    """Depth crop (B, 1, S, S) -> C2, C3, C4, C5.

    For S = 96: 24x24x64, 12x12x128, 6x6x256, 3x3x256.
    """

    def __init__(self) -> None:
        super().__init__()
        # 5x5 stride-2 conv (conv2d_same) then 3x3 stride-1 SAME max-pool: 96 -> 48 (spec 1.3).
        self.stem = ConvBN(1, STEM_CHANNELS, 5, stride=2)
        self.pool = nn.MaxPool2d(3, stride=1, padding=1)
        stages = []
        channels = STEM_CHANNELS
        for units, bottleneck, depth in BLOCKS:
            layers = []
            for unit in range(units):
                stride = 2 if unit == units - 1 else 1
                layers.append(Bottleneck(channels, depth, bottleneck, stride))
                channels = depth
            stages.append(nn.Sequential(*layers))
        self.stages = nn.ModuleList(stages)

    @property
    def channels(self) -> Tuple[int, ...]:
        """Channels of C2..C5."""
        return tuple(depth for _, _, depth in BLOCKS)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        x = self.pool(self.stem(x))  # (B, 32, S/2, S/2)
        features = []
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return tuple(features)  # C2 (B,64,S/4,S/4) ... C5 (B,256,S/32,S/32)
