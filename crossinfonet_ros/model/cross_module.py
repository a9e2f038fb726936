"""Cross-connection feature refinement (paper Alg. 1 / Fig. 6, spec 1.6) and its baseline."""

from typing import Optional, Tuple

import torch
from torch import nn
import torch.nn.functional as F

from crossinfonet_ros.model.blocks import Bottleneck
from crossinfonet_ros.model.heads import HEAD_BOTTLENECK, BranchHeatmapHead
from crossinfonet_ros.model.pyramid import PYRAMID_CHANNELS


class CrossModule(nn.Module):
    """T (B, 256, 12, 12) -> palm / finger features (B, 256, 6, 6) and branch heat-maps.

    ``cross``: P0, F0 = two bottlenecks on T; P1 = [P0, T - F0], F1 = [F0, T - P0] (512 ch);
    P2, F2 = bottleneck(512 -> 256, projection shortcut); 2x2 max-pool stride 2 VALID.
    ``base`` (spec 1.8): no subtraction or concatenation; the second bottlenecks take P0 / F0
    (256 ch, identity shortcut).
    """

    def __init__(self, num_palm: int, num_finger: int, cross: bool = True,
                 heatmaps: bool = True, tf_bilinear: bool = True) -> None:
        """:param num_palm: P, palm heat-map channels
        :param num_finger: F, finger heat-map channels
        :param cross: cross connections (True) or the independent-branch baseline
        :param heatmaps: build the branch heat-map heads (L_bp, L_bf)
        :param tf_bilinear: TF1 legacy bilinear resize in the heads
        """
        super().__init__()
        self.cross = cross
        width = PYRAMID_CHANNELS
        self.palm_block = Bottleneck(width, width, HEAD_BOTTLENECK)  # P0 = T * p0
        self.finger_block = Bottleneck(width, width, HEAD_BOTTLENECK)  # F0 = T * f0
        refined_in = 2 * width if cross else width
        self.palm_refine = Bottleneck(refined_in, width, HEAD_BOTTLENECK)  # P2 = P1 * p1
        self.finger_refine = Bottleneck(refined_in, width, HEAD_BOTTLENECK)  # F2 = F1 * f1
        self.palm_heatmap = (BranchHeatmapHead(num_palm, tf_bilinear)
                             if heatmaps else None)
        self.finger_heatmap = (BranchHeatmapHead(num_finger, tf_bilinear)
                               if heatmaps else None)

    def forward(self, t: torch.Tensor, with_heatmaps: bool = True
                ) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor],
                           Optional[torch.Tensor]]:
        """:param t: T = P3, (B, 256, h, h)
        :param with_heatmaps: compute the branch heat-maps (skipped at inference)
        :return: palm and finger features (B, 256, h/2, h/2), palm (B, P, 2h, 2h) and finger
            (B, F, 2h, 2h) heat-maps or None
        """
        p0 = self.palm_block(t)  # (B, 256, h, h)
        f0 = self.finger_block(t)
        if self.cross:
            # The subtraction removes the other branch's share of T ("attention mask").
            p1 = torch.cat([p0, t - f0], dim=1)  # (B, 512, h, h)
            f1 = torch.cat([f0, t - p0], dim=1)
        else:
            p1, f1 = p0, f0
        palm = F.max_pool2d(self.palm_refine(p1), 2)  # (B, 256, h/2, h/2)
        finger = F.max_pool2d(self.finger_refine(f1), 2)
        palm_hm = finger_hm = None
        if with_heatmaps and self.palm_heatmap is not None:
            palm_hm = self.palm_heatmap(p0)  # (B, P, 2h, 2h)
            finger_hm = self.finger_heatmap(f0)  # (B, F, 2h, 2h)
        return palm, finger, palm_hm, finger_hm
