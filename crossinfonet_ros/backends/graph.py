"""The inference graph: CrossInfoNet reduced to ``crops -> (joints, heatmaps)`` and rewritten
for speed without changing its result (beyond float rounding).

Rewrites, each exact in real arithmetic (the tests compare against the unmodified model):

* only the run-time outputs are computed (``forward(x, outputs='inference')``: no J_p / J_f,
  no palm / finger heat-maps);
* every BatchNorm is folded into the conv / FC layer before it (eval statistics; spec 1.1 puts
  a BN after every conv and FC), so the graph holds plain biased Conv / Gemm nodes;
* the pyramid's merge (1x1 conv + BN, no ReLU; spec 1.4) runs *before* the x2 bilinear
  up-sampling instead of after it: both are linear per pixel and the interpolation weights sum
  to 1, so ``merge(up(p)) == up(merge(p))`` and the merge costs a quarter of the FLOPs
  (75 -> 19 MFLOP at the P2 level);
* the stride-2 identity shortcut ``x[:, :, ::2, ::2]`` becomes the 1x1 max-pool with stride 2
  that TF-slim used (spec 1.2, 1.10): the same values, but ONNX Runtime keeps a pooling op in
  its blocked (NCHWc) layout where a strided slice forces two layout conversions;
* for export only (``for_export=True``), the TF1 legacy x2 up-sampling (spec 1.10) becomes one
  custom op that the exporter writes as ONNX ``Resize(mode='linear',
  coordinate_transformation_mode='asymmetric')`` -- the same sampling (``dst / 2``, edge
  clamped) as a single native op instead of slices, concatenations and reshapes.
"""

import copy

import torch
from torch import nn
import torch.nn.functional as F
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

from crossinfonet_ros.model import CrossInfoNet
from crossinfonet_ros.model.blocks import (Bottleneck, ConvBN, LinearBN, Upsample2x,
                                           tf_upsample2x)

# Name of the custom op that stands for the TF1 legacy x2 up-sampling during export.
UPSAMPLE_OP = 'crossinfonet_ros::tf_upsample2x'


@torch.library.custom_op(UPSAMPLE_OP, mutates_args=())
def _tf_upsample2x_op(x: torch.Tensor) -> torch.Tensor:
    return tf_upsample2x(x)


@_tf_upsample2x_op.register_fake
def _tf_upsample2x_shape(x: torch.Tensor) -> torch.Tensor:
    return x.new_empty(x.shape[0], x.shape[1], 2 * x.shape[2], 2 * x.shape[3])


class InferenceGraph(nn.Module):
    """``crops (B, 1, S, S) -> (joints (B, 3A), heatmaps (B, A, S/4, S/4))`` of a model.

    Works on a deep copy: the given model is left untouched. Needs a model with heat-maps
    (``config.heatmaps``), since the estimator's confidence comes from them.
    """

    def __init__(self, model: CrossInfoNet, for_export: bool = False) -> None:
        """:param model: the network (its eval-mode BN statistics are folded in)
        :param for_export: route the TF1 up-sampling through :data:`UPSAMPLE_OP` (exported as
            one ONNX ``Resize``); leave False for running in torch
        """
        super().__init__()
        if model.hand_heatmap is None:
            raise ValueError('the inference graph needs a model with heat-map heads '
                             '(ModelConfig.heatmaps=True): confidence is decoded from them')
        net = copy.deepcopy(model).eval()
        fold_batch_norms(net)
        net.pyramid = MergeFirstPyramid(net.pyramid)
        _replace_children(net, lambda m: isinstance(m, Bottleneck) and m.projection is None
                          and m.stride == 2, PooledShortcutBottleneck)
        if for_export:
            _replace_children(net, lambda m: isinstance(m, Upsample2x) and m.tf_legacy,
                              lambda _: ResizeOpUpsample())
        self.net = net

    def forward(self, x: torch.Tensor):
        out = self.net(x, outputs='inference')
        return out.joints, out.heatmaps


def fold_batch_norms(module: nn.Module) -> nn.Module:
    """Fold each eval-mode BN of the model's ``ConvBN`` / ``LinearBN`` layers into the layer.

    :param module: a module in eval mode, modified in place
    :return: the same module
    """
    for layer in module.modules():
        if isinstance(layer, ConvBN) and isinstance(layer.bn, nn.BatchNorm2d):
            layer.conv = fuse_conv_bn_eval(layer.conv, layer.bn)
            layer.bn = nn.Identity()
        elif isinstance(layer, LinearBN) and isinstance(layer.bn, nn.BatchNorm1d):
            layer.fc = fuse_linear_bn_eval(layer.fc, layer.bn)
            layer.bn = nn.Identity()
    return module


class MergeFirstPyramid(nn.Module):
    """The model's feature pyramid with each merge applied before its up-sampling.

    Holds the pyramid's own layers; only the order of ``merge`` and ``up`` differs from
    ``FeaturePyramid.forward`` (spec 1.4).
    """

    def __init__(self, pyramid: nn.Module) -> None:
        """:param pyramid: the model's ``FeaturePyramid``"""
        super().__init__()
        self.with_p2 = pyramid.with_p2
        self.laterals = pyramid.laterals
        self.merges = pyramid.merges
        self.up = pyramid.up

    def forward(self, features):
        c2, c3, c4, c5 = features
        levels = (c5, c4, c3, c2) if self.with_p2 else (c5, c4, c3)
        p = self.laterals[0](levels[0])  # P5
        outputs = []
        for lateral, merge, c in zip(self.laterals[1:], self.merges, levels[1:]):
            p = lateral(c) + self.up(merge(p))  # P4, P3, P2
            outputs.append(p)
        if self.with_p2:
            return outputs[-1], outputs[-2]  # P2, P3 = T
        return None, outputs[-1]


class PooledShortcutBottleneck(nn.Module):
    """A model bottleneck whose stride-2 identity shortcut is a 1x1 max-pool, stride 2."""

    def __init__(self, block: Bottleneck) -> None:
        """:param block: the model's bottleneck (its layers are reused)"""
        super().__init__()
        self.conv1, self.conv2, self.conv3 = block.conv1, block.conv2, block.conv3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(F.max_pool2d(x, 1, 2) + self.conv3(self.conv2(self.conv1(x))))


class ResizeOpUpsample(nn.Module):
    """TF1 legacy x2 up-sampling through :data:`UPSAMPLE_OP` (same values; one op on export)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _tf_upsample2x_op(x)


def _replace_children(root: nn.Module, match, make) -> None:
    """Replace every sub-module ``m`` of ``root`` with ``match(m)`` true by ``make(m)``."""
    for parent in list(root.modules()):
        for name, child in list(parent.named_children()):
            if match(child):
                setattr(parent, name, make(child))
