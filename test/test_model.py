"""CrossInfoNet model: layer sizes (spec 1.9), outputs per variant, gradients, resize, export."""

import functools
import json
import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from crossinfonet_ros.layouts import get_layout
from crossinfonet_ros.model import CrossInfoLoss, CrossInfoNet, ModelConfig
from crossinfonet_ros.model.blocks import Bottleneck, Upsample2x, tf_upsample2x

torch.set_num_threads(2)

# Spec 1.9: conv + FC weights and BN gamma + beta per layout.
CONV_FC_WEIGHTS = {'nyu14': 23_808_032, 'icvl16': 23_835_680, 'msra21': 23_904_800,
                   'hands2017': 23_904_800}
BN_AFFINE = {'nyu14': 29_152, 'icvl16': 29_184, 'msra21': 29_264, 'hands2017': 29_264}

VARIANTS = [dict(variant=v, heatmaps=h, final_joints=f)
            for v in ('cross', 'base') for h in (True, False) for f in ('ja', 'concat')]
# The variant matrix runs on 32x32 crops: same modules, ~5x fewer FC weights, a faster suite.
SMALL = 32


def variant_id(kw: dict) -> str:
    return f"{kw['variant']}-{'hm' if kw['heatmaps'] else 'nohm'}-{kw['final_joints']}"


@functools.lru_cache(maxsize=None)
def build(layout: str = 'hands2017', **overrides) -> CrossInfoNet:
    """One model per configuration, shared by the tests (construction costs ~0.2 s)."""
    torch.manual_seed(0)
    return CrossInfoNet(ModelConfig.from_layout(layout, **overrides))


def conv_fc_weights(model: nn.Module) -> int:
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


def crops(batch: int = 2, size: int = 96, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 1, size, size, generator=generator) * 2 - 1


@pytest.mark.parametrize('layout', sorted(CONV_FC_WEIGHTS))
def test_parameter_counts_match_spec(layout):
    model = build(layout)
    assert conv_fc_weights(model) == CONV_FC_WEIGHTS[layout]
    bn = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert sum(p.numel() for m in bn for p in m.parameters()) == BN_AFFINE[layout]
    total = sum(p.numel() for p in model.parameters())
    assert total == CONV_FC_WEIGHTS[layout] + BN_AFFINE[layout]
    # Spec 1.1: no conv or FC layer has a bias.
    assert all(m.bias is None for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


def test_decay_parameters_are_exactly_the_conv_and_fc_weights():
    model = build()
    decay = model.decay_parameters()
    assert sum(w.numel() for w in decay) == CONV_FC_WEIGHTS['hands2017']
    bn_params = {id(p) for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
                 for p in m.parameters()}
    assert not bn_params & {id(w) for w in decay}


def test_variant_layer_differences_match_the_layer_list():
    a, p, f = 21, 6, 15
    full = conv_fc_weights(build())
    # Base: the two 512->256 refinement bottlenecks take 256 channels and lose the projection.
    base = conv_fc_weights(build(variant='base'))
    assert full - base == 2 * (512 * 256 + (512 - 256) * 128)
    # No heat-maps: full-hand head, P2 lateral + merge, both branch heads are gone.
    hand_head = 256 * 128 + 9 * 128 * 128 + 128 * 256 + 9 * 256 * a
    branch_heads = 2 * 256 * 256 + 9 * 256 * (p + f)
    assert full - conv_fc_weights(build(heatmaps=False)) == \
        hand_head + 64 * 256 + 256 * 256 + branch_heads
    # Concat: no J_a layer on the 2048-d features.
    assert full - conv_fc_weights(build(final_joints='concat')) == 2048 * 3 * a


def check_shapes(out, config: ModelConfig, batch: int) -> None:
    a, p, f, s = config.num_joints, config.num_palm, config.num_finger, config.heatmap_size
    assert out.joints.shape == (batch, 3 * a)
    assert out.palm_joints.shape == (batch, 3 * p)
    assert out.finger_joints.shape == (batch, 3 * f)
    if config.heatmaps:
        assert out.heatmaps.shape == (batch, a, s, s)
        assert out.palm_heatmaps.shape == (batch, p, s, s)
        assert out.finger_heatmaps.shape == (batch, f, s, s)
    else:
        assert out.heatmaps is None and out.palm_heatmaps is None
        assert out.finger_heatmaps is None


@pytest.mark.parametrize('overrides', VARIANTS, ids=variant_id)
def test_output_shapes_per_variant(overrides):
    model = build(input_size=SMALL, **overrides).train()
    check_shapes(model(crops(size=SMALL)), model.config, 2)


def test_output_shapes_at_full_size():
    model = build().train()
    check_shapes(model(crops()), model.config, 2)


@pytest.mark.parametrize('layout, split', [('nyu14', 'code'), ('nyu14', 'paper'),
                                           ('icvl16', 'code'), ('msra21', 'code')])
def test_output_shapes_per_layout(layout, split):
    model = build(layout, split=split).eval()
    with torch.no_grad():
        check_shapes(model(crops()), model.config, 2)


@pytest.mark.parametrize('layout', ['nyu14', 'hands2017'])
def test_concat_joints_are_palm_and_finger_in_layout_order(layout):
    model = build(layout, final_joints='concat').eval()
    with torch.no_grad():
        out = model(crops())
    joints = out.joints.view(2, -1, 3)
    config = model.config
    assert torch.equal(joints[:, list(config.palm)], out.palm_joints.view(2, -1, 3))
    assert torch.equal(joints[:, list(config.finger)], out.finger_joints.view(2, -1, 3))


@pytest.mark.parametrize('overrides', VARIANTS, ids=variant_id)
def test_training_loss_reaches_every_parameter(overrides):
    model = build(input_size=SMALL, **overrides).train()
    model.zero_grad(set_to_none=True)
    config = model.config
    out = model(crops(size=SMALL))
    joints = torch.rand(2, config.num_joints, 3) * 2 - 1
    heatmaps = torch.rand(2, config.num_joints, SMALL // 4, SMALL // 4)
    loss, _ = CrossInfoLoss(config)(out, joints, heatmaps, model.decay_parameters())
    loss.backward()
    missing = [name for name, p in model.named_parameters()
               if p.grad is None or not bool(p.grad.abs().sum() > 0)]
    model.zero_grad(set_to_none=True)
    assert not missing, f'no gradient reaches {missing[:5]} ({len(missing)} tensors)'


@pytest.mark.parametrize('final_joints', ['ja', 'concat'])
def test_inference_outputs_skip_auxiliaries_and_match(final_joints):
    model = build(final_joints=final_joints).eval()
    x = crops()
    with torch.no_grad():
        full = model(x)
        fast = model(x, outputs='inference')
    assert torch.equal(fast.joints, full.joints)
    assert torch.equal(fast.heatmaps, full.heatmaps)
    assert fast.palm_heatmaps is None and fast.finger_heatmaps is None
    if final_joints == 'ja':
        assert fast.palm_joints is None and fast.finger_joints is None
    else:
        assert torch.equal(fast.palm_joints, full.palm_joints)


def test_eval_is_deterministic_and_batch_independent():
    model = build().eval()
    x = crops(batch=3)
    with torch.no_grad():
        first, second = model(x), model(x)
        single = model(x[1:2])
    for a, b in zip(first, second):
        assert torch.equal(a, b)
    assert torch.allclose(single.joints, first.joints[1:2], atol=1e-5)
    assert torch.allclose(single.heatmaps, first.heatmaps[1:2], atol=1e-5)


def test_training_mode_applies_dropout():
    model = build().train()
    x = crops(batch=4)
    torch.manual_seed(1)
    first = model(x).joints
    torch.manual_seed(2)
    second = model(x).joints
    assert not torch.allclose(first, second)


def test_bad_inputs_are_rejected():
    model = build()
    with pytest.raises(ValueError, match=r'expects input \(B, 1, 96, 96\), got \(2, 1, 64, 64\)'):
        model(crops(size=64))
    with pytest.raises(ValueError, match='outputs must be one of'):
        model(crops(), outputs='joints')


def test_feature_sizes_follow_the_stage_table():
    model = build().eval()
    with torch.no_grad():
        c2, c3, c4, c5 = model.backbone(crops())
        p2, t = model.pyramid((c2, c3, c4, c5))
    assert [tuple(c.shape[1:]) for c in (c2, c3, c4, c5)] == \
        [(64, 24, 24), (128, 12, 12), (256, 6, 6), (256, 3, 3)]
    assert p2.shape[1:] == (256, 24, 24) and t.shape[1:] == (256, 12, 12)


def test_identity_shortcut_subsamples_at_stride_2():
    block = Bottleneck(8, 8, 4, stride=2).eval()
    nn.init.zeros_(block.conv3.bn.weight)  # residual branch -> 0, output = ReLU(shortcut)
    x = torch.randn(2, 8, 5, 5)
    with torch.no_grad():
        out = block(x)
    assert block.projection is None
    assert torch.equal(out, torch.relu(x[:, :, ::2, ::2]))
    assert Bottleneck(4, 8, 2, stride=2).projection.conv.stride == (2, 2)


def test_tf_legacy_upsample_matches_hand_values():
    # TF1 samples input position i/2, clamped: [0, 1, 2] -> [0, .5, 1, 1.5, 2, 2].
    x = torch.tensor([[0.0, 1.0, 2.0], [10.0, 11.0, 12.0], [20.0, 21.0, 22.0]]).view(1, 1, 3, 3)
    line = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 2.0])
    expected = (line.view(6, 1) * 10 + line.view(1, 6)).view(1, 1, 6, 6)
    assert torch.allclose(tf_upsample2x(x), expected)
    assert torch.allclose(Upsample2x(tf_legacy=True)(x), expected)
    # PyTorch half-pixel sampling at (i + 0.5) / 2 - 0.5: [0, .25, .75, 1.25, 1.75, 2].
    half = torch.tensor([0.0, 0.25, 0.75, 1.25, 1.75, 2.0])
    expected_half = (half.view(6, 1) * 10 + half.view(1, 6)).view(1, 1, 6, 6)
    assert torch.allclose(Upsample2x(tf_legacy=False)(x), expected_half)
    assert torch.equal(tf_upsample2x(torch.full((1, 2, 1, 1), 3.0)), torch.full((1, 2, 2, 2), 3.0))


def test_tf_bilinear_switch_changes_outputs_but_not_parameters():
    torch.manual_seed(0)
    small = ModelConfig(input_size=32)
    tf_model = CrossInfoNet(small).eval()
    torch_model = CrossInfoNet(ModelConfig(input_size=32, tf_bilinear=False)).eval()
    torch_model.load_state_dict(tf_model.state_dict())
    x = crops(size=32)
    with torch.no_grad():
        assert not torch.allclose(tf_model(x).heatmaps, torch_model(x).heatmaps)


@pytest.mark.parametrize('init', ['xavier', 'normal'])
def test_initialisation_schemes(init):
    torch.manual_seed(0)
    model = CrossInfoNet(ModelConfig(input_size=32, init=init))
    weight = model.palm_regressor.hidden[1].fc.weight  # 1024 x 1024
    if init == 'xavier':
        bound = math.sqrt(6 / (1024 + 1024))
        assert weight.abs().max() <= bound and weight.abs().max() > 0.99 * bound
    else:
        assert abs(weight.std().item() - 0.01) < 2e-4 and abs(weight.mean().item()) < 1e-4
    bn = model.palm_regressor.hidden[1].bn
    assert torch.equal(bn.weight, torch.ones(1024)) and torch.equal(bn.bias, torch.zeros(1024))


def test_config_from_layout_and_json_round_trip():
    config = ModelConfig.from_layout('nyu14', split='paper', variant='base', dropout=0.5)
    assert (config.num_joints, config.palm, config.finger) == (14, (10, 11, 12, 13),
                                                              tuple(range(10)))
    restored = ModelConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert restored == config
    assert ModelConfig.from_layout(get_layout('icvl16')).num_palm == 6


@pytest.mark.parametrize('fields, message', [
    (dict(variant='pyramid'), 'variant must be one of'),
    (dict(final_joints='mean'), 'final_joints must be one of'),
    (dict(init='kaiming'), 'init must be one of'),
    (dict(palm=(0, 1), finger=(1, 2)), 'must cover joints 0..2 exactly once'),
    (dict(input_size=100), 'multiple of 32'),
    (dict(dropout=1.0), 'dropout must be in'),
])
def test_invalid_config_fields_are_named(fields, message):
    base = dict(num_joints=3, palm=(0,), finger=(1, 2))
    with pytest.raises(ValueError, match=message):
        ModelConfig(**{**base, **fields})


def test_from_dict_rejects_unknown_fields():
    with pytest.raises(ValueError, match=r"unknown ModelConfig fields \['layers'\]"):
        ModelConfig.from_dict({**ModelConfig().to_dict(), 'layers': 50})


def test_builds_on_the_meta_device():
    with torch.device('meta'):
        model = CrossInfoNet(ModelConfig(final_joints='concat'))
    assert set(model.state_dict()) == set(build(final_joints='concat').state_dict())


@pytest.mark.filterwarnings('ignore::DeprecationWarning', 'ignore::FutureWarning',
                            'ignore::UserWarning')
def test_onnx_export_matches_torch(tmp_path):
    ort = pytest.importorskip('onnxruntime')
    torch.manual_seed(0)
    model = CrossInfoNet(ModelConfig(input_size=32)).eval()
    x = crops(batch=1, size=32)
    with torch.no_grad():
        expected = model(x)
    path = tmp_path / 'full.onnx'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(model, (x,), str(path), dynamo=False, input_names=['depth'])
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    got = session.run(None, {'depth': x.numpy()})
    assert len(got) == 6
    for value, reference in zip(got, expected):
        np.testing.assert_allclose(value, reference.numpy(), atol=1e-4)
    # The run-time view: joints + full-hand heat-maps, batch size left dynamic.
    path = tmp_path / 'inference.onnx'
    wrapper = model.inference_module()
    assert not wrapper.training
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(wrapper, (x,), str(path), dynamo=False, input_names=['depth'],
                          output_names=['joints', 'heatmaps'],
                          dynamic_axes={'depth': {0: 'batch'}, 'joints': {0: 'batch'},
                                        'heatmaps': {0: 'batch'}})
    assert not model.training
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    batch = crops(batch=3, size=32, seed=5)
    joints, heatmaps = session.run(None, {'depth': batch.numpy()})
    with torch.no_grad():
        reference = model(batch)
    np.testing.assert_allclose(joints, reference.joints.numpy(), atol=1e-4)
    np.testing.assert_allclose(heatmaps, reference.heatmaps.numpy(), atol=1e-4)
