"""CrossInfoNet loss (spec 2.1): terms and total checked against hand-computed toy values."""

import pytest
import torch

from crossinfonet_ros.model import (CrossInfoLoss, CrossInfoNet, LossConfig, ModelConfig,
                                    ModelOutput)
from crossinfonet_ros.model.losses import half_sum_squares

torch.set_num_threads(2)

# Toy layout: 3 joints, palm = joint 0, finger = joints 2 then 1 (J_f order differs from the
# layout order, so a wrong subset order shows up as a non-zero term). B = 2, 2x2 heat-maps.
TOY = ModelConfig(num_joints=3, palm=(0,), finger=(2, 1))
B = 2


def toy_targets():
    # Joint j has all three coordinates = j; heat-map channel j is filled with j + 1.
    joints = torch.arange(3.0).view(1, 3, 1).expand(B, 3, 3).clone()
    heatmaps = (torch.arange(3.0) + 1).view(1, 3, 1, 1).expand(B, 3, 2, 2).clone()
    return joints, heatmaps


def toy_output(requires_grad: bool = False) -> ModelOutput:
    def tensor(values):
        return torch.tensor(values, requires_grad=requires_grad)

    return ModelOutput(
        joints=tensor([[0.0] * 9] * B),  # L_a = sum_b sum_j 3 j^2 / 4 = 2 * 15 / 4 = 7.5
        palm_joints=tensor([[1.0] * 3] * B),  # target 0: L_ep = 2 * 3 / 4 = 1.5
        finger_joints=tensor([[2.0] * 3 + [1.0] * 3] * B),  # exact in J_f order: L_ef = 0
        heatmaps=tensor([[[[0.0] * 2] * 2] * 3] * B),  # L_ht = 2 * 4 * (1+4+9) / 4 = 28
        palm_heatmaps=tensor([[[[0.0] * 2] * 2]] * B),  # target 1: L_bp = 2 * 4 / 4 = 2
        finger_heatmaps=tensor([[[[3.0] * 2] * 2, [[2.0] * 2] * 2]] * B))  # exact: L_bf = 0


# sum(W^2) / 2 = (1 + 4 + 9) / 2 = 7
DECAY = [torch.tensor([1.0, 2.0]), torch.tensor([[3.0]])]


def test_half_sum_squares_is_tf_l2_loss_over_batch():
    prediction = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert half_sum_squares(prediction, torch.zeros(2, 2)).item() == pytest.approx(30 / 4)
    with pytest.raises(ValueError, match=r'prediction \(2, 2\) and target \(2, 3\)'):
        half_sum_squares(prediction, torch.zeros(2, 3))


def test_terms_and_total_with_the_code_weights():
    joints, heatmaps = toy_targets()
    total, terms = CrossInfoLoss(TOY)(toy_output(), joints, heatmaps, DECAY)
    expected = {'a': 7.5, 'ep': 1.5, 'ef': 0.0, 'ht': 28.0, 'bp': 2.0, 'bf': 0.0, 'decay': 7.0}
    assert {name: pytest.approx(value) for name, value in expected.items()} == \
        {name: terms[name].item() for name in expected}
    # 0.5 * [0.01 * (28 + 2 + 0) + (7.5 + 1.5 + 0)] + 1e-5 * 7
    assert total.item() == pytest.approx(4.65007)
    assert terms['total'].item() == pytest.approx(4.65007)
    assert not any(value.requires_grad for value in terms.values())


def test_custom_weights():
    joints, heatmaps = toy_targets()
    config = LossConfig(alpha=1.0, beta=2.0, scale=1.0, weight_decay=0.1)
    total, _ = CrossInfoLoss(TOY, config)(toy_output(), joints, heatmaps, DECAY)
    # 1 * (28 + 2) + 2 * (7.5 + 1.5) + 0.1 * 7
    assert total.item() == pytest.approx(48.7)


def test_without_heatmap_supervision_the_heatmap_terms_are_skipped():
    joints, _ = toy_targets()
    config = ModelConfig(num_joints=3, palm=(0,), finger=(2, 1), heatmaps=False)
    output = toy_output()._replace(heatmaps=None, palm_heatmaps=None, finger_heatmaps=None)
    total, terms = CrossInfoLoss(config)(output, joints, None)
    assert set(terms) == {'a', 'ep', 'ef', 'decay', 'total'}
    assert total.item() == pytest.approx(0.5 * (7.5 + 1.5))


def test_gradient_is_sum_of_squares_derivative():
    joints, heatmaps = toy_targets()
    output = toy_output(requires_grad=True)
    total, _ = CrossInfoLoss(TOY)(output, joints, heatmaps)
    total.backward()
    # d/dp [0.5 * beta * sum (p - t)^2 / (2B)] = 0.5 * (p - t) / B; palm p - t = 1.
    assert torch.allclose(output.palm_joints.grad, torch.full((B, 3), 0.25))
    # Heat-maps: 0.5 * 0.01 * (p - t) / B with p - t = -(j + 1) per channel.
    expected = -(torch.arange(3.0) + 1).view(1, 3, 1, 1).expand(B, 3, 2, 2) * 0.0025
    assert torch.allclose(output.heatmaps.grad, expected)


def test_weight_decay_covers_conv_and_fc_weights_of_a_model():
    torch.manual_seed(0)
    config = ModelConfig(num_joints=3, palm=(0,), finger=(2, 1), input_size=32)
    model = CrossInfoNet(config).train()
    output = model(torch.rand(B, 1, 32, 32))
    joints = torch.zeros(B, 3, 3)
    heatmaps = torch.zeros(B, 3, 8, 8)
    criterion = CrossInfoLoss(config)
    with_decay, terms = criterion(output, joints, heatmaps, model.decay_parameters())
    without_decay, _ = criterion(output, joints, heatmaps)
    by_name = sum(p.pow(2).sum() for name, p in model.named_parameters()
                  if name.endswith(('conv.weight', 'fc.weight')))
    assert terms['decay'].item() == pytest.approx(by_name.item() / 2, rel=1e-6)
    assert (with_decay - without_decay).item() == pytest.approx(1e-5 * by_name.item() / 2,
                                                                rel=1e-4)


def test_bad_targets_and_outputs_are_rejected():
    joints, heatmaps = toy_targets()
    criterion = CrossInfoLoss(TOY)
    with pytest.raises(ValueError, match=r'target joints must be \(B, 3, 3\), got \(2, 9\)'):
        criterion(toy_output(), joints.view(B, 9), heatmaps)
    with pytest.raises(ValueError, match="outputs='all'"):
        criterion(toy_output()._replace(palm_joints=None), joints, heatmaps)
    with pytest.raises(ValueError, match='pass target heat-maps'):
        criterion(toy_output(), joints, None)
