"""Regression module: per-branch FC stacks and the full-hand output (spec 1.7)."""

from typing import Tuple

import torch
from torch import nn

from crossinfonet_ros.model.blocks import LinearBN

FC_WIDTH = 1024


class BranchRegressor(nn.Module):
    """Branch feature map -> 1024-d feature f and the branch joints J (B, 3J).

    flatten -> FC 1024 + BN + ReLU + dropout -> FC 1024 + BN + ReLU + dropout (= f) ->
    FC 3J + BN (= J_p or J_f). The flatten is NCHW (TF flattens NHWC; this matters only when
    porting TF checkpoints, spec 1.10).
    """

    def __init__(self, in_features: int, num_joints: int, dropout: float) -> None:
        """:param in_features: flattened feature size (256 * 6 * 6 = 9216 for a 96 input)
        :param num_joints: joints of this branch (output 3 * num_joints)
        :param dropout: drop probability of the two hidden layers
        """
        super().__init__()
        self.hidden = nn.Sequential(LinearBN(in_features, FC_WIDTH, dropout=dropout),
                                    LinearBN(FC_WIDTH, FC_WIDTH, dropout=dropout))
        self.out = LinearBN(FC_WIDTH, 3 * num_joints, relu=False)

    def features(self, feature_map: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) -> f (B, 1024)."""
        return self.hidden(torch.flatten(feature_map, 1))

    def forward(self, feature_map: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        feature = self.features(feature_map)
        return feature, self.out(feature)  # f (B, 1024), J (B, 3J)
