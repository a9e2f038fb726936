"""The augmentation preview CLI writes a grid of labelled crops."""

import cv2
import numpy as np
import pytest

from dataset_writers import random_hand, write_hands2017
from training.preview_augment import main


def test_cli_writes_a_grid_with_joints_drawn(tmp_path, capsys):
    rng = np.random.default_rng(8)
    write_hands2017(tmp_path / 'data', [random_hand(21, rng) for _ in range(2)])
    out = tmp_path / 'preview' / 'grid.png'
    main(['--dataset', 'hands2017', '--root', str(tmp_path / 'data'), '--out', str(out),
          '--num', '5', '--seed', '1', '--scale', '2'])
    image = cv2.imread(str(out))
    tile = 96 * 2
    assert image.shape == (2 * tile + 2, 3 * tile + 4, 3)  # 5 tiles in a 3-column grid
    red = (image[..., 2] > 200) & (image[..., 1] < 80) & (image[..., 0] < 80)
    assert red[:tile, :tile].any()  # joint markers on the first tile
    assert 'wrote' in capsys.readouterr().out


def test_cli_rejects_intrinsics_for_other_datasets(tmp_path):
    with pytest.raises(SystemExit):
        main(['--dataset', 'nyu', '--root', str(tmp_path), '--out', str(tmp_path / 'x.png'),
              '--intrinsics', str(tmp_path / 'k.json')])
