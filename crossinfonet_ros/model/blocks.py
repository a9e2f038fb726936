"""Building blocks: conv / FC layers with BatchNorm, and the TF-slim v1 bottleneck.

Every conv and FC layer of the network is ``BN(W x)`` with no bias, optionally followed by
ReLU, the output layers included (spec 1.1). The layers stay plain ``nn.Conv2d`` /
``nn.Linear`` followed by ``nn.BatchNorm`` so an inference path can fold the BN into them.
"""

import torch
from torch import nn
import torch.nn.functional as F

from crossinfonet_ros.model.config import BN_EPS, BN_MOMENTUM


class ConvBN(nn.Module):
    """``Conv2d(bias=False) -> BatchNorm2d -> ReLU (optional)``.

    Padding is ``kernel // 2``: for stride 1 this is TF ``SAME``; for stride 2 and odd kernels it
    equals slim's ``conv2d_same`` (explicit ``(k-1)//2`` leading pad, spec 1.1).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1,
                 relu: bool = True) -> None:
        """:param in_channels: input channels
        :param out_channels: output channels
        :param kernel: square kernel size (odd)
        :param stride: 1 or 2
        :param relu: apply ReLU after the BN
        """
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2,
                              bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = nn.ReLU(inplace=True) if relu else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class LinearBN(nn.Module):
    """``Linear(bias=False) -> BatchNorm1d -> ReLU + dropout (optional)`` (spec 1.1, 1.7)."""

    def __init__(self, in_features: int, out_features: int, relu: bool = True,
                 dropout: float = 0.0) -> None:
        """:param in_features: input width
        :param out_features: output width
        :param relu: apply ReLU after the BN
        :param dropout: drop probability after the activation (0 = none)
        """
        super().__init__()
        self.fc = nn.Linear(in_features, out_features, bias=False)
        self.bn = nn.BatchNorm1d(out_features, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = nn.ReLU(inplace=True) if relu else nn.Identity()
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.act(self.bn(self.fc(x))))


class Bottleneck(nn.Module):
    """TF-slim ``resnet_v1.bottleneck`` (post-activation, stride in the 3x3 conv; spec 1.2).

    ``out = ReLU(shortcut(x) + BN(conv1x1(ReLU(BN(conv3x3(ReLU(BN(conv1x1(x)))))))))``; the
    shortcut is the identity (sub-sampled ``x[:, :, ::2, ::2]`` at stride 2, slim's 1x1 max-pool)
    when the channel count is unchanged, else a 1x1 conv + BN projection.
    """

    def __init__(self, in_channels: int, depth: int, bottleneck: int, stride: int = 1) -> None:
        """:param in_channels: input channels
        :param depth: output channels
        :param bottleneck: channels of the inner 1x1 / 3x3 convs
        :param stride: 1 or 2
        """
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f'bottleneck stride must be 1 or 2, got {stride}')
        self.stride = stride
        self.conv1 = ConvBN(in_channels, bottleneck, 1)
        self.conv2 = ConvBN(bottleneck, bottleneck, 3, stride)
        self.conv3 = ConvBN(bottleneck, depth, 1, relu=False)
        self.projection = (ConvBN(in_channels, depth, 1, stride, relu=False)
                           if in_channels != depth else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.projection is not None:
            shortcut = self.projection(x)
        elif self.stride == 2:
            shortcut = x[:, :, ::2, ::2]
        else:
            shortcut = x
        return F.relu(shortcut + self.conv3(self.conv2(self.conv1(x))))


def _tf_upsample2x_along(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Double axis ``dim``: out[2i] = x[i], out[2i+1] = (x[i] + x[min(i+1, n-1)]) / 2."""
    lead = (slice(None),) * dim
    # Constant slices (no shape reads), so the traced / exported graph has no size arithmetic.
    following = torch.cat([x[lead + (slice(1, None),)], x[lead + (slice(-1, None),)]], dim=dim)
    between = (x + following) * 0.5
    return torch.stack([x, between], dim=dim + 1).flatten(dim, dim + 1)


def tf_upsample2x(x: torch.Tensor) -> torch.Tensor:
    """TF1 ``resize_bilinear(align_corners=False)`` of (B, C, H, W) to (B, C, 2H, 2W).

    TF1 legacy sampling reads the input at ``i * in / out = i / 2`` (no half-pixel offset) and
    clamps at the far edge (spec 1.10), so even outputs copy an input pixel and odd outputs
    average it with its next neighbour (the last one with itself). Written with slices,
    concatenation and a fixed average: no sizes to store, and it exports to ONNX.
    """
    return _tf_upsample2x_along(_tf_upsample2x_along(x, 2), 3)


class Upsample2x(nn.Module):
    """Bilinear x2 up-sampling: TF1 legacy (``tf_legacy=True``, spec 1.10) or PyTorch's
    half-pixel ``F.interpolate`` (``tf_legacy=False``)."""

    def __init__(self, tf_legacy: bool = True) -> None:
        """:param tf_legacy: TF1 legacy sampling (True) or PyTorch's (False)"""
        super().__init__()
        self.tf_legacy = tf_legacy

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.tf_legacy:
            return tf_upsample2x(x)
        return F.interpolate(x, scale_factor=2.0, mode='bilinear', align_corners=False)
