"""ICVL loader on tiny files in the real format: uvd labels -> xyz, depth cleaning, errors."""

import cv2
import numpy as np
import pytest

from dataset_writers import ICVL_CAMERA, random_hand, render_blobs, write_icvl
from training.datasets import DatasetError, MissingFileError, open_dataset
from training.datasets.icvl import ICVLDataset


@pytest.fixture
def icvl_root(tmp_path):
    rng = np.random.default_rng(1)
    hands = {
        'train': [random_hand(16, rng, depth_mm=400 + 50 * i) for i in range(3)],
        'seq1': [random_hand(16, rng)],
        'seq2': [random_hand(16, rng), random_hand(16, rng)],
    }
    write_icvl(tmp_path / 'Training', 'labels.txt', '201403121135', hands['train'])
    write_icvl(tmp_path / 'Testing', 'test_seq_1.txt', 'test_seq_1', hands['seq1'])
    write_icvl(tmp_path / 'Testing', 'test_seq_2.txt', 'test_seq_2', hands['seq2'])
    return tmp_path, hands


def test_uvd_labels_become_xyz_in_the_optical_frame(icvl_root):
    root, hands = icvl_root
    dataset = ICVLDataset(root, 'train')
    assert len(dataset) == 3
    for index, truth in enumerate(hands['train']):
        sample = dataset[index]
        np.testing.assert_allclose(sample.joints_mm, truth, atol=0.5)
        assert sample.layout == 'icvl16' and sample.intrinsics == ICVL_CAMERA
        assert sample.name == f'201403121135/image_{index:04d}.png'
        assert sample.cube_mm == 250.0
    # The conversion is the y-down one: the palm joint projects onto its blob.
    sample = dataset[1]
    u, v, d = ICVL_CAMERA.project(sample.joints_mm[0])
    assert sample.depth_mm[int(round(v)), int(round(u))] > 0


def test_depth_is_read_in_mm_and_far_or_invalid_readings_are_zeroed(icvl_root):
    root, hands = icvl_root
    path = root / 'Training' / 'Depth' / '201403121135' / 'image_0000.png'
    image = np.round(render_blobs(ICVL_CAMERA, hands['train'][0])).astype(np.uint16)
    image[0, 0], image[0, 1], image[0, 2] = 32001, 1600, 1500  # invalid, too far, kept
    cv2.imwrite(str(path), image)
    depth = ICVLDataset(root, 'train')[0].depth_mm
    assert depth.dtype == np.float32
    assert (depth[0, 0], depth[0, 1], depth[0, 2]) == (0.0, 0.0, 1500.0)
    np.testing.assert_array_equal(depth[1:], image[1:].astype(np.float32))


def test_test_split_concatenates_both_sequences(icvl_root):
    root, hands = icvl_root
    dataset = open_dataset('icvl', root, split='test')
    assert len(dataset) == 3
    assert dataset.file_name(0) == 'test_seq_1/image_0000.png'
    assert dataset.file_name(2) == 'test_seq_2/image_0001.png'
    np.testing.assert_allclose(dataset.joints_mm(2), hands['seq2'][1], atol=0.5)
    assert len(ICVLDataset(root, 'test_seq_2')) == 2


def test_centre_is_the_centre_of_mass_near_the_palm_or_the_centre_file(icvl_root, tmp_path):
    root, hands = icvl_root
    sample = ICVLDataset(root, 'train')[0]
    assert np.linalg.norm(sample.center_mm - hands['train'][0][0]) < 125.0
    centers = tmp_path / 'center_train_refined.txt'
    centers.write_text('1 2 400\ninvalid invalid invalid\n-3 4 500\n')
    dataset = ICVLDataset(root, 'train', center_file=centers)
    np.testing.assert_allclose(dataset[0].center_mm, [1, 2, 400])
    np.testing.assert_allclose(dataset[2].center_mm, [-3, 4, 500])
    assert np.all(np.isfinite(dataset[1].center_mm))  # 'invalid' falls back to the CoM


def test_a_malformed_label_line_is_reported_with_file_and_line(icvl_root):
    root, _ = icvl_root
    labels = root / 'Training' / 'labels.txt'
    lines = labels.read_text().splitlines()
    lines[1] = ' '.join(lines[1].split()[:-1])
    labels.write_text('\n'.join(lines))
    with pytest.raises(DatasetError, match=r'labels\.txt line 2: expected 48 numbers, got 47'):
        ICVLDataset(root, 'train')
    lines[1] = lines[0].replace(lines[0].split()[5], 'abc', 1)
    labels.write_text('\n'.join(lines))
    with pytest.raises(DatasetError, match=r"line 2: 'abc' is not a number"):
        ICVLDataset(root, 'train')


def test_missing_files_are_named(icvl_root):
    root, _ = icvl_root
    (root / 'Testing' / 'test_seq_2.txt').unlink()
    with pytest.raises(MissingFileError, match=r'test_seq_2\.txt: ICVL label file not found'):
        ICVLDataset(root, 'test')
    (root / 'Training' / 'Depth' / '201403121135' / 'image_0001.png').unlink()
    dataset = ICVLDataset(root, 'train')  # lazy: images are only opened on access
    with pytest.raises(MissingFileError, match=r'image_0001\.png: depth image not found'):
        dataset[1]
    with pytest.raises(ValueError, match='ICVL split must be one of'):
        ICVLDataset(root, 'val')


def test_an_8bit_or_wrongly_sized_image_is_rejected(icvl_root):
    root, _ = icvl_root
    path = root / 'Training' / 'Depth' / '201403121135' / 'image_0000.png'
    cv2.imwrite(str(path), np.zeros((240, 320), np.uint8))
    with pytest.raises(DatasetError, match='expected a 16-bit single-channel depth PNG'):
        ICVLDataset(root, 'train')[0]
    cv2.imwrite(str(path), np.zeros((120, 160), np.uint16))
    with pytest.raises(DatasetError, match='image is 160x120 but the camera is 320x240'):
        ICVLDataset(root, 'train')[0]
