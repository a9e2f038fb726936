"""CrossInfoNet (Du et al., CVPR 2019): backbone, pyramid, heat-map heads, cross module, FCs."""

from typing import List, NamedTuple, Optional, Tuple, Union

import torch
from torch import nn

from crossinfonet_ros.model.backbone import Backbone
from crossinfonet_ros.model.blocks import LinearBN
from crossinfonet_ros.model.config import ModelConfig
from crossinfonet_ros.model.cross_module import CrossModule
from crossinfonet_ros.model.heads import HandHeatmapHead
from crossinfonet_ros.model.pyramid import PYRAMID_CHANNELS, FeaturePyramid
from crossinfonet_ros.model.regression import FC_WIDTH, BranchRegressor

# forward(outputs=...): 'all' for training; 'inference' computes only the joints and the
# full-hand heat-maps (plus J_p / J_f when the joints are their concatenation).
OUTPUT_MODES = ('all', 'inference')


class ModelOutput(NamedTuple):
    """Network outputs; joint vectors are ``[x0, y0, z0, x1, ...]`` in normalised crop units.

    Fields not computed (``heatmaps=False`` configs, or ``outputs='inference'``) are None.
    """

    joints: torch.Tensor  # (B, 3A) J_a (final_joints='ja') or J_p / J_f in layout order
    palm_joints: Optional[torch.Tensor]  # (B, 3P) J_p, config.palm order
    finger_joints: Optional[torch.Tensor]  # (B, 3F) J_f, config.finger order
    heatmaps: Optional[torch.Tensor]  # (B, A, S/4, S/4) full-hand heat-maps H_a
    palm_heatmaps: Optional[torch.Tensor]  # (B, P, S/4, S/4) H_p
    finger_heatmaps: Optional[torch.Tensor]  # (B, F, S/4, S/4) H_f


class CrossInfoNet(nn.Module):
    """CrossInfoNet on a normalised depth crop (B, 1, S, S), S = ``config.input_size`` (96).

    Layers only exist where some output uses them: no heat-map heads / P2 level when
    ``config.heatmaps`` is False, no J_a layer when ``config.final_joints == 'concat'``.
    """

    def __init__(self, config: Optional[ModelConfig] = None) -> None:
        """:param config: architecture; default :class:`ModelConfig` (HANDS2017, code variant)"""
        super().__init__()
        self.config = config = config or ModelConfig()
        size = config.input_size
        self.backbone = Backbone()
        self.pyramid = FeaturePyramid(self.backbone.channels, with_p2=config.heatmaps,
                                      tf_bilinear=config.tf_bilinear)
        self.hand_heatmap = HandHeatmapHead(config.num_joints) if config.heatmaps else None
        self.cross = CrossModule(config.num_palm, config.num_finger,
                                 cross=config.variant == 'cross', heatmaps=config.heatmaps,
                                 tf_bilinear=config.tf_bilinear)
        flat = PYRAMID_CHANNELS * (size // 16) ** 2  # 9216 for 96
        self.palm_regressor = BranchRegressor(flat, config.num_palm, config.dropout)
        self.finger_regressor = BranchRegressor(flat, config.num_finger, config.dropout)
        if config.final_joints == 'ja':
            # J_a = BN(W [f_p, f_f]) from the 2048-d concatenation (spec 1.7).
            self.joint_head = LinearBN(2 * FC_WIDTH, 3 * config.num_joints, relu=False)
        else:
            self.joint_head = None
        # Position of each layout joint in [palm..., finger...] (for 'concat'). A plain list,
        # not a buffer: modules built on the meta device and materialised with to_empty() keep
        # no derived state that load_state_dict would fail to restore.
        stacked = config.palm + config.finger
        self._concat_order = [stacked.index(joint) for joint in range(config.num_joints)]
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialise conv / FC weights per ``config.init``; BN starts at gamma 1, beta 0."""
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                if self.config.init == 'xavier':
                    nn.init.xavier_uniform_(module.weight)  # slim default (spec 1.1)
                else:
                    nn.init.normal_(module.weight, 0.0, 0.01)  # paper, issue #7
            elif isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.reset_parameters()

    def decay_parameters(self) -> List[nn.Parameter]:
        """Conv and FC weights: the tensors the L2 regulariser covers (not BN; spec 1.1)."""
        return [m.weight for m in self.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]

    def forward(self, x: torch.Tensor, outputs: str = 'all') -> ModelOutput:
        """:param x: normalised depth crops (B, 1, S, S) in [-1, 1]
        :param outputs: 'all' (training) or 'inference' (skip the branch heat-maps and, when
            ``final_joints == 'ja'``, J_p / J_f)
        """
        if outputs not in OUTPUT_MODES:
            raise ValueError(f'outputs must be one of {OUTPUT_MODES}, got {outputs!r}')
        size = self.config.input_size
        # Shapes are traced values under torch.jit.trace (legacy ONNX export): check eagerly only.
        wrong_shape = x.dim() != 4 or tuple(x.shape[1:]) != (1, size, size)
        if not torch.jit.is_tracing() and wrong_shape:
            raise ValueError(f'CrossInfoNet expects input (B, 1, {size}, {size}), got'
                             f' {tuple(x.shape)}')
        everything = outputs == 'all'
        p2, t = self.pyramid(self.backbone(x))  # P2 (B,256,S/4,S/4) or None, T (B,256,S/8,S/8)
        heatmaps = self.hand_heatmap(p2) if self.hand_heatmap is not None else None
        palm_map, finger_map, palm_hm, finger_hm = self.cross(t, with_heatmaps=everything)
        palm_joints = finger_joints = None
        if everything or self.joint_head is None:
            palm_feature, palm_joints = self.palm_regressor(palm_map)  # (B,1024), (B,3P)
            finger_feature, finger_joints = self.finger_regressor(finger_map)  # (B,3F)
        else:
            palm_feature = self.palm_regressor.features(palm_map)
            finger_feature = self.finger_regressor.features(finger_map)
        if self.joint_head is not None:
            joints = self.joint_head(torch.cat([palm_feature, finger_feature], dim=1))
        else:
            joints = self._scatter(palm_joints, finger_joints)
        return ModelOutput(joints, palm_joints, finger_joints, heatmaps, palm_hm, finger_hm)

    def _scatter(self, palm_joints: torch.Tensor, finger_joints: torch.Tensor) -> torch.Tensor:
        """J = J_p and J_f put back into layout order (paper Alg. 1 line 6): (B, 3A)."""
        batch = palm_joints.shape[0]
        stacked = torch.cat([palm_joints.reshape(batch, -1, 3),
                             finger_joints.reshape(batch, -1, 3)], dim=1)  # (B, A, 3)
        return stacked[:, self._concat_order].reshape(batch, -1)

    def inference_module(self) -> 'InferenceModule':
        """Return a wrapper whose ``forward(x)`` gives only the run-time outputs, for export."""
        return InferenceModule(self)


class InferenceModule(nn.Module):
    """Export view of a :class:`CrossInfoNet`: ``x -> (joints, heatmaps)``, or ``joints`` alone
    when the model has no heat-map head. Shares the wrapped model's parameters.
    """

    def __init__(self, net: CrossInfoNet) -> None:
        """:param net: the network to wrap"""
        super().__init__()
        self.net = net
        # A fresh module starts in training mode; exporters restore the wrapper's mode onto the
        # wrapped net afterwards, so mirror it instead of silently switching the net to train.
        self.train(net.training)

    def forward(self, x: torch.Tensor) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
        out = self.net(x, outputs='inference')
        if out.heatmaps is None:
            return out.joints  # (B, 3A)
        return out.joints, out.heatmaps  # (B, 3A), (B, A, S/4, S/4)
