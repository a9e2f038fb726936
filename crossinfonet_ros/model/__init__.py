"""CrossInfoNet in PyTorch: config, network, loss."""

from crossinfonet_ros.model.config import ModelConfig
from crossinfonet_ros.model.losses import CrossInfoLoss, LossConfig
from crossinfonet_ros.model.network import CrossInfoNet, InferenceModule, ModelOutput

__all__ = ['CrossInfoLoss', 'CrossInfoNet', 'InferenceModule', 'LossConfig', 'ModelConfig',
           'ModelOutput']
