"""Top-down feature pyramid ("global_net", CPN/FPN style; spec 1.4)."""

from typing import Optional, Sequence, Tuple

import torch
from torch import nn

from crossinfonet_ros.model.blocks import ConvBN, Upsample2x

PYRAMID_CHANNELS = 256


class FeaturePyramid(nn.Module):
    """C2..C5 -> (P2 or None, P3).

    ``P5 = lateral(C5)``; ``Pk = lateral(Ck) + merge(up(P(k+1)))`` with lateral = 1x1 conv + BN +
    ReLU, up = bilinear x2, merge = 1x1 conv + BN without ReLU, and no ReLU after the sum. P3 is
    the feature T of the cross module; P2 feeds only the full-hand heat-map head, so it is built
    only when ``with_p2`` (spec 1.4). P4 and P5 are used only on the way down.
    """

    def __init__(self, in_channels: Sequence[int], with_p2: bool = True,
                 tf_bilinear: bool = True) -> None:
        """:param in_channels: channels of C2, C3, C4, C5
        :param with_p2: build the P2 level (needed by the full-hand heat-map head)
        :param tf_bilinear: TF1 legacy bilinear up-sampling (spec 1.10)
        """
        super().__init__()
        self.with_p2 = with_p2
        used = in_channels if with_p2 else in_channels[1:]
        # Ordered top (C5) to bottom, as the top-down pass runs.
        self.laterals = nn.ModuleList(ConvBN(c, PYRAMID_CHANNELS, 1) for c in reversed(used))
        self.merges = nn.ModuleList(ConvBN(PYRAMID_CHANNELS, PYRAMID_CHANNELS, 1, relu=False)
                                    for _ in range(len(used) - 1))
        # C5..C2 sizes halve level by level (input a multiple of 32), so each up-sample is x2.
        self.up = Upsample2x(tf_bilinear)

    def forward(self, features: Sequence[torch.Tensor]
                ) -> Tuple[Optional[torch.Tensor], torch.Tensor]:
        c2, c3, c4, c5 = features
        levels = (c5, c4, c3, c2) if self.with_p2 else (c5, c4, c3)
        p = self.laterals[0](levels[0])  # P5 (B, 256, S/32, S/32)
        outputs = []
        for lateral, merge, c in zip(self.laterals[1:], self.merges, levels[1:]):
            p = lateral(c) + merge(self.up(p))  # P4, P3, P2: (B, 256, 2h, 2w)
            outputs.append(p)
        if self.with_p2:
            return outputs[-1], outputs[-2]  # P2 (B,256,S/4,S/4), P3 = T (B,256,S/8,S/8)
        return None, outputs[-1]
