"""training.export: checkpoint -> weights file round trip, fp16 checked against fp32."""

from pathlib import Path

import pytest
import torch

from crossinfonet_ros.model import CrossInfoNet, ModelConfig
from crossinfonet_ros.weights import load_model, load_weights
from training import export
from training.checkpoint import save_atomically

torch.set_num_threads(1)


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory) -> Path:
    """A best.pt as training.train writes it, with a randomly initialised model."""
    torch.manual_seed(0)
    config = ModelConfig.from_layout('hands2017')
    model = CrossInfoNet(config)
    path = tmp_path_factory.mktemp('run') / 'best.pt'
    save_atomically(path, {'model': model.state_dict(), 'model_config': config.to_dict(),
                           'layout': 'hands2017', 'cube_mm': 250.0, 'epoch': 3,
                           'val_error_mm': 42.0,
                           'training': {'dataset': 'synthetic', 'epochs': 3}})
    return path


def test_fp32_round_trip_is_exact(checkpoint, tmp_path):
    out = tmp_path / 'w.safetensors'
    report = export.export(checkpoint, out, check_count=4)
    assert report['deviation_vs_fp32'] == {'max_mm': 0.0, 'mean_mm': 0.0}
    state, metadata = load_weights(out)
    saved = torch.load(checkpoint, weights_only=True)
    assert metadata.layout == 'hands2017' and metadata.cube_mm == 250.0
    assert metadata.stored_dtype == 'float32' and metadata.training['dataset'] == 'synthetic'
    for name, tensor in saved['model'].items():
        assert torch.equal(state[name], tensor.float() if tensor.is_floating_point()
                           else tensor), name


def test_fp16_is_checked_and_within_half_a_millimetre(checkpoint, tmp_path, capsys):
    out = tmp_path / 'w16.safetensors'
    assert export.main(['--checkpoint', str(checkpoint), '--out', str(out), '--fp16',
                        '--threads', '1']) == 0
    printed = capsys.readouterr().out
    assert 'float16' in printed and 'deviation vs fp32' in printed
    model, metadata = load_model(out)
    assert metadata.stored_dtype == 'float16'
    assert out.stat().st_size < 50e6  # the shipped file must stay <= 50 MB
    report = export.export(checkpoint, tmp_path / 'again.safetensors', fp16=True,
                           check_count=4)
    assert 0 < report['deviation_vs_fp32']['mean_mm'] < 0.5


def test_fp16_over_the_limit_fails_and_writes_nothing(checkpoint, tmp_path):
    out = tmp_path / 'w16.safetensors'
    with pytest.raises(export.ExportFailed, match='deviate from fp32'):
        export.export(checkpoint, out, fp16=True, max_mean_mm=0.0, check_count=2)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_bad_checkpoint_is_one_line_error(tmp_path, capsys):
    bogus = tmp_path / 'best.pt'
    bogus.write_bytes(b'not a checkpoint')
    assert export.main(['--checkpoint', str(bogus), '--out', str(tmp_path / 'w')]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bogus) in err[0]
