"""training.ablation: all four Table 1 variants train on the same tiny budget and are tabulated."""

import json

import torch

from training import ablation
from training.checkpoint import load_checkpoint

torch.set_num_threads(1)


def test_ablation_runs_end_to_end_and_prints_table(tmp_path, capsys):
    out = tmp_path / 'ablation'
    status = ablation.main(['--budget-steps', '1', '--seed', '2', '--batch-size', '2',
                            '--val-size', '2', '--threads', '1', '--out', str(out),
                            '--json', str(tmp_path / 'table.json')])
    assert status == 0
    table = capsys.readouterr().out.splitlines()
    assert 'Table 1' in table[0] and 'paper NYU' in table[1]
    rows = {line.split()[0]: line.split()[1:] for line in table[2:]}
    assert list(rows) == ['Base', 'Base+HM', 'Cross', 'Cross+HM']
    assert rows['Cross+HM'][1:] == ['8.48', '10.08'] and rows['Base'][1:] == ['9.28', '11.17']
    results = json.loads((tmp_path / 'table.json').read_text())['val_error_mm']
    for variant, label in zip(ablation.PAPER_TABLE1, rows):
        assert float(rows[label][0]) == round(results[variant], 2) and results[variant] > 0
        state = load_checkpoint(out / variant / 'checkpoint.pt')
        # same budget and seed for every variant; the architecture follows the variant
        assert state['global_step'] == 1 and state['args']['seed'] == 2
        assert state['model_config']['heatmaps'] == variant.endswith('_hm')
        assert state['model_config']['variant'] == variant.split('_')[0]
