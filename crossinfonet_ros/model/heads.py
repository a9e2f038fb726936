"""Heat-map heads: the full-hand head on P2 and the palm / finger branch heads (spec 1.5, 1.6)."""

import torch
from torch import nn

from crossinfonet_ros.model.blocks import Bottleneck, ConvBN, Upsample2x
from crossinfonet_ros.model.pyramid import PYRAMID_CHANNELS

HEAD_BOTTLENECK = 128


class HandHeatmapHead(nn.Module):
    """P2 (B, 256, 24, 24) -> H_a (B, A, 24, 24): bottleneck(256, 128) then 3x3 conv + BN (L_ht).
    """

    def __init__(self, num_joints: int) -> None:
        """:param num_joints: A, one heat-map channel per joint"""
        super().__init__()
        self.block = Bottleneck(PYRAMID_CHANNELS, PYRAMID_CHANNELS, HEAD_BOTTLENECK)
        self.out = ConvBN(PYRAMID_CHANNELS, num_joints, 3, relu=False)

    def forward(self, p2: torch.Tensor) -> torch.Tensor:
        return self.out(self.block(p2))


class BranchHeatmapHead(nn.Module):
    """P0 or F0 (B, 256, 12, 12) -> H_p or H_f (B, J, 24, 24) (L_bp, L_bf).

    1x1 conv 256 + BN + ReLU, 3x3 conv to J channels + BN, bilinear resize x2 (spec 1.6).
    """

    def __init__(self, num_joints: int, tf_bilinear: bool = True) -> None:
        """:param num_joints: J, channels (the branch's joint count)
        :param tf_bilinear: TF1 legacy bilinear resize (spec 1.10)
        """
        super().__init__()
        self.hidden = ConvBN(PYRAMID_CHANNELS, PYRAMID_CHANNELS, 1)
        self.out = ConvBN(PYRAMID_CHANNELS, num_joints, 3, relu=False)
        self.up = Upsample2x(tf_bilinear)

    def forward(self, feature: torch.Tensor) -> torch.Tensor:
        return self.up(self.out(self.hidden(feature)))
