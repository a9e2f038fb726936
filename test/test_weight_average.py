"""training.weight_average: the moving average of a network's weights."""

import pytest
import torch
from torch import nn

from training.weight_average import WeightAverage


def _network() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))


def test_each_update_moves_floats_by_one_minus_decay_and_copies_counters():
    network = _network()
    average = WeightAverage(network, decay=0.75)
    before = {name: tensor.clone() for name, tensor in average.model.state_dict().items()}
    network.train()
    network(torch.randn(8, 3))  # moves the BatchNorm statistics and its batch counter
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.add_(1.0)
    average.update(network)
    now = network.state_dict()
    for name, tensor in average.model.state_dict().items():
        if tensor.is_floating_point():
            expected = 0.75 * before[name] + 0.25 * now[name]
            assert torch.allclose(tensor, expected), name
            assert not torch.equal(tensor, now[name]), name
        else:
            assert torch.equal(tensor, now[name]), name  # num_batches_tracked
    assert average.updates == 1
    assert not average.model.training
    assert not any(p.requires_grad for p in average.model.parameters())


def test_state_round_trip_and_bad_decay():
    network = _network()
    average = WeightAverage(network, decay=0.5)
    with torch.no_grad():
        network[0].weight.mul_(3)
    average.update(network)
    other = WeightAverage(_network(), decay=0.5)
    other.load_state_dict(average.state_dict())
    assert other.updates == 1
    assert torch.equal(other.model[0].weight, average.model[0].weight)
    for decay in (-0.1, 1.0):
        with pytest.raises(ValueError, match='decay must be in'):
            WeightAverage(network, decay)
