"""CrossInfoNet training loss, as the released code computes it (spec 2.1).

Every term is TF ``l2_loss(pred - target) / B``, i.e. a sum of squares over joints, coordinates
and pixels divided by ``2 B`` -- not a mean. The total is::

    L = scale * [alpha * (L_ht + L_bp + L_bf) + beta * (L_a + L_ep + L_ef)]
        + weight_decay * sum ||W||^2 / 2          (conv and FC weights only)

with the code's alpha = 0.01, beta = 1, scale = 0.5, weight_decay = 1e-5 (paper Eq. 7 times 0.5).

L_a always compares ``output.joints`` with the full target. With ``final_joints='concat'`` those
joints are J_p and J_f re-ordered, so L_a equals L_ep + L_ef and the joints count twice, as
Eq. 7 reads when J = J_p (x) J_f.
"""

from dataclasses import dataclass
from typing import Dict, Iterable, Optional, Tuple

import torch
from torch import nn

from crossinfonet_ros.model.config import ModelConfig
from crossinfonet_ros.model.network import ModelOutput


@dataclass(frozen=True)
class LossConfig:
    """Weights of the loss terms (defaults: released code, spec 2.1)."""

    alpha: float = 0.01  # weight of the heat-map terms L_ht, L_bp, L_bf (Eq. 7)
    beta: float = 1.0  # weight of the joint terms L_a, L_ep, L_ef (Eq. 7)
    scale: float = 0.5  # global factor the code applies to the weighted sum
    weight_decay: float = 1e-5  # L2 factor on sum(W^2) / 2 over conv / FC weights (coupled)


def half_sum_squares(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """TF ``l2_loss(prediction - target) / B`` = ``sum((p - t)^2) / (2 B)``, B = first dim."""
    if prediction.shape != target.shape:
        raise ValueError(f'prediction {tuple(prediction.shape)} and target'
                         f' {tuple(target.shape)} differ in shape')
    return (prediction - target).pow(2).sum() / (2 * prediction.shape[0])


class CrossInfoLoss(nn.Module):
    """The six-term CrossInfoNet loss plus weight decay.

    Targets are in layout order; the palm / finger subsets are taken here with the model
    config's index lists, the same selection for heat-map channels and 3D joints (spec 2.2).
    Heat-map terms are skipped when ``model_config.heatmaps`` is False.
    """

    def __init__(self, model_config: ModelConfig, config: Optional[LossConfig] = None) -> None:
        """:param model_config: the network's config (joint count, palm / finger subsets)
        :param config: term weights; default :class:`LossConfig`
        """
        super().__init__()
        self.model_config = model_config
        self.config = config or LossConfig()
        # Lists, so indexing builds the index on the targets' device.
        self.palm = list(model_config.palm)
        self.finger = list(model_config.finger)

    def forward(self, output: ModelOutput, joints: torch.Tensor,
                heatmaps: Optional[torch.Tensor] = None,
                decay_weights: Iterable[torch.Tensor] = ()
                ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Compute the total loss and its terms.

        :param output: network output of ``forward(x, outputs='all')``
        :param joints: normalised target joints (B, A, 3), layout order (spec 3.6)
        :param heatmaps: target heat-maps (B, A, S/4, S/4); required when the config has
            heat-maps
        :param decay_weights: tensors under the L2 regulariser, normally
            ``model.decay_parameters()``; empty = no weight decay
        :return: ``(total, terms)``; ``terms`` holds detached 0-d tensors ``'ht', 'bp', 'bf',
            'a', 'ep', 'ef'`` (raw, before weighting; heat-map terms only when supervised),
            ``'decay'`` (sum ||W||^2 / 2, before its factor) and ``'total'``
        """
        num_joints = self.model_config.num_joints
        if joints.dim() != 3 or tuple(joints.shape[1:]) != (num_joints, 3):
            raise ValueError(f'target joints must be (B, {num_joints}, 3), got'
                             f' {tuple(joints.shape)}')
        if output.palm_joints is None or output.finger_joints is None:
            raise ValueError("the loss needs J_p and J_f: run the model with outputs='all'")
        batch = joints.shape[0]
        terms = {
            'a': half_sum_squares(output.joints, joints.reshape(batch, -1)),
            'ep': half_sum_squares(output.palm_joints,
                                   joints[:, self.palm].reshape(batch, -1)),
            'ef': half_sum_squares(output.finger_joints,
                                   joints[:, self.finger].reshape(batch, -1)),
        }
        cfg = self.config
        weighted = cfg.beta * (terms['a'] + terms['ep'] + terms['ef'])
        if self.model_config.heatmaps:
            if heatmaps is None or output.heatmaps is None or output.palm_heatmaps is None:
                raise ValueError('heat-map supervision is on: pass target heat-maps and run the'
                                 " model with outputs='all'")
            terms['ht'] = half_sum_squares(output.heatmaps, heatmaps)
            terms['bp'] = half_sum_squares(output.palm_heatmaps,
                                           heatmaps[:, self.palm])
            terms['bf'] = half_sum_squares(output.finger_heatmaps,
                                           heatmaps[:, self.finger])
            weighted = weighted + cfg.alpha * (terms['ht'] + terms['bp'] + terms['bf'])
        decay = sum((w.pow(2).sum() for w in decay_weights), joints.new_zeros(())) / 2
        terms['decay'] = decay
        total = cfg.scale * weighted + cfg.weight_decay * decay
        terms['total'] = total
        return total, {name: value.detach() for name, value in terms.items()}
