"""On-line augmentation: image and labels move together in every mode; determinism."""

import numpy as np
import pytest
import torch

from crossinfonet_ros.camera import Intrinsics
from crossinfonet_ros.codec import crop_hand, denormalize_joints, joints_to_crop_uv
from crossinfonet_ros.codec import normalize_joints
from training.augment import AugmentConfig, apply_mode, augment_sample, plain_item, rotate_sample
from training.datasets.sample import Sample
from training.datasets.torch_dataset import AugmentedDataset

torch.set_num_threads(1)
CAMERA = Intrinsics(240.0, 240.0, 160.0, 120.0, 320, 240)
CUBE = 250.0
PALM_MM = 500.0
# Each joint: integer pixel and its own depth, so its blob is identifiable by value in a crop.
JOINT_UVD = np.array([[160, 120, 450], [185, 112, 460], [140, 140, 470], [150, 95, 480],
                      [178, 146, 490]], dtype=np.float64)
BLOB = 3  # half side of each joint's square blob, pixels


def blob_sample() -> Sample:
    depth = np.zeros((CAMERA.height, CAMERA.width), np.float32)
    depth[80:165, 120:205] = PALM_MM
    for u, v, d in JOINT_UVD.astype(int):
        depth[v - BLOB:v + BLOB + 1, u - BLOB:u + BLOB + 1] = d
    joints = CAMERA.backproject(JOINT_UVD)
    center = CAMERA.backproject(np.array([162.0, 122.0, 490.0]))
    return Sample(depth, joints, CAMERA, center, CUBE, 'test5', 'blobs')


def blob_centroids(item) -> np.ndarray:
    """Crop-pixel centroid of each joint's blob, found by its normalised depth value."""
    crop = item.depth[0]
    half = item.cube_mm / 2.0
    centroids = []
    for depth in JOINT_UVD[:, 2]:
        rows, cols = np.nonzero(np.abs(crop - (depth - item.center_mm[2]) / half) < 0.01)
        assert rows.size > 0, f'blob at {depth} mm missing from the {item.mode} crop'
        centroids.append([cols.mean(), rows.mean()])
    return np.array(centroids)


def label_uv(item) -> np.ndarray:
    """Where the item's normalised labels say each joint is, in crop pixels."""
    joints = denormalize_joints(item.joints, item.center_mm, item.cube_mm)
    uv = CAMERA.project(joints)[:, :2]
    return uv @ item.transform[:2, :2].T + item.transform[:2, 2]


@pytest.mark.parametrize('variant', ['code', 'paper'])
@pytest.mark.parametrize('mode', ['com', 'rot', 'sc', 'none'])
def test_joints_stay_on_their_blobs(mode, variant):
    sample = blob_sample()
    config = AugmentConfig(variant=variant)
    for seed in range(4):
        item = apply_mode(sample, mode, config, np.random.default_rng(seed))
        assert item.mode == mode
        # Blob centroids sit half a pixel off the joint's pixel centre after the 0.8x resize.
        np.testing.assert_allclose(blob_centroids(item), label_uv(item), atol=1.5)


@pytest.mark.parametrize('mode', ['com', 'rot', 'sc', 'none'])
def test_labels_denormalise_to_the_joints_and_heatmaps_peak_at_them(mode):
    sample = blob_sample()
    item = apply_mode(sample, mode, AugmentConfig(), np.random.default_rng(11))
    assert item.depth.shape == (1, 96, 96) and item.depth.dtype == np.float32
    assert item.joints.shape == (5, 3) and item.joints.dtype == np.float32
    assert item.heatmaps.shape == (5, 24, 24) and item.heatmaps.dtype == np.float32
    np.testing.assert_allclose(denormalize_joints(item.joints, item.center_mm, item.cube_mm),
                               item.joints_mm, atol=1e-3)
    cells = np.floor(label_uv(item) / 4.0).astype(int)
    for joint, heatmap in enumerate(item.heatmaps):
        row, col = np.unravel_index(heatmap.argmax(), heatmap.shape)
        assert (col, row) == tuple(cells[joint]) and heatmap.max() == 1.0


def test_none_is_the_plain_crop():
    sample = blob_sample()
    item = apply_mode(sample, 'none', AugmentConfig(), np.random.default_rng(0))
    crop = crop_hand(sample.depth_mm, sample.center_mm, CUBE, CAMERA)
    np.testing.assert_array_equal(item.depth[0], crop.depth)
    np.testing.assert_array_equal(item.transform, crop.transform)
    np.testing.assert_allclose(item.joints, normalize_joints(sample.joints_mm, crop.center_mm,
                                                             CUBE), atol=1e-6)
    np.testing.assert_array_equal(plain_item(sample).depth, item.depth)


def test_rotation_turns_joints_about_the_centre_and_keeps_their_depth():
    sample = blob_sample()
    item = rotate_sample(sample, 90.0, AugmentConfig())
    crop = crop_hand(sample.depth_mm, sample.center_mm, CUBE, CAMERA)
    pivot = joints_to_crop_uv(sample.center_mm, crop, CAMERA)
    before = joints_to_crop_uv(sample.joints_mm, crop, CAMERA) - pivot
    after = label_uv(item) - pivot
    # 90 degrees counter-clockwise on screen with v pointing down: (du, dv) -> (dv, -du).
    np.testing.assert_allclose(after, np.stack([before[:, 1], -before[:, 0]], axis=1), atol=1e-6)
    np.testing.assert_allclose(item.joints_mm[:, 2], sample.joints_mm[:, 2], atol=1e-9)
    np.testing.assert_array_equal(item.center_mm, sample.center_mm)
    corner = item.depth[0, 0, 0]
    assert corner == 1.0  # background outside the rotated box is +1


def test_com_and_sc_change_centre_and_cube_within_their_ranges():
    sample = blob_sample()
    code, paper = AugmentConfig(), AugmentConfig(variant='paper')
    shifts, scales = [], []
    for seed in range(200):
        rng = np.random.default_rng(seed)
        shifts.append(apply_mode(sample, 'com', code, rng).center_mm - sample.center_mm)
        scales.append(apply_mode(sample, 'sc', code, rng).cube_mm / CUBE)
    shifts = np.array(shifts)
    assert np.all(np.abs(shifts.std(axis=0) - 10.0) < 2.0)  # N(0, 10 mm) per axis
    assert abs(np.std(scales) - 0.05) < 0.01 and abs(np.mean(scales) - 1.0) < 0.01
    crop = crop_hand(sample.depth_mm, sample.center_mm, CUBE, CAMERA)
    pivot = joints_to_crop_uv(sample.center_mm, crop, CAMERA)
    for seed in range(50):
        rng = np.random.default_rng(seed)
        moved = apply_mode(sample, 'com', paper, rng).center_mm
        assert moved[2] == pytest.approx(sample.center_mm[2])
        assert np.all(np.abs(joints_to_crop_uv(moved, crop, CAMERA) - pivot) <= 10.0 + 1e-9)
        assert 0.9 <= apply_mode(sample, 'sc', paper, rng).cube_mm / CUBE <= 1.1


def test_modes_are_drawn_uniformly_from_the_configured_list():
    sample = blob_sample()
    rng = np.random.default_rng(5)
    modes = [augment_sample(sample, AugmentConfig(), rng).mode for _ in range(400)]
    counts = {mode: modes.count(mode) for mode in ('com', 'rot', 'sc', 'none')}
    assert all(60 <= count <= 140 for count in counts.values()), counts
    only = AugmentConfig(modes=('sc',))
    assert {augment_sample(sample, only, rng).mode for _ in range(5)} == {'sc'}
    with pytest.raises(ValueError, match=r"unknown augmentation mode\(s\) \['flip'\]"):
        AugmentConfig(modes=('rot', 'flip'))
    with pytest.raises(ValueError, match="variant must be 'code' or 'paper'"):
        AugmentConfig(variant='v2')


def test_torch_dataset_is_deterministic_per_seed_epoch_and_index():
    samples = [blob_sample() for _ in range(6)]
    first, second = AugmentedDataset(samples, seed=3), AugmentedDataset(samples, seed=3)
    for index in range(6):
        a, b = first[index], second[index]
        assert a['mode'] == b['mode']
        for key in ('depth', 'joints', 'heatmaps', 'center_mm', 'cube_mm', 'transform'):
            assert torch.equal(a[key], b[key]), key
    assert first[-1]['index'] == 5 and torch.equal(first[-1]['depth'], first[5]['depth'])
    epoch0 = [first[i]['joints'] for i in range(6)]
    first.set_epoch(1)
    assert any(not torch.equal(a, first[i]['joints']) for i, a in enumerate(epoch0))
    loader = torch.utils.data.DataLoader(first, batch_size=3, num_workers=2)
    batches = torch.cat([batch['joints'] for batch in loader])
    assert torch.equal(batches, torch.stack([first[i]['joints'] for i in range(6)]))


def test_evaluation_mode_yields_plain_crops():
    sample = blob_sample()
    item = AugmentedDataset([sample], augment=False)[0]
    assert item['mode'] == 'none' and item['depth'].shape == (1, 96, 96)
    np.testing.assert_array_equal(item['depth'].numpy(), plain_item(sample).depth)
    assert item['cube_mm'].item() == CUBE
