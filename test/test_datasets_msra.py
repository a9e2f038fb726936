"""MSRA loader on tiny files in the real format: z-negative y-up joints, boxed .bin depth."""

import numpy as np
import pytest

from dataset_writers import MSRA_CAMERA, random_hand, write_msra_bin, write_msra_gesture
from training.datasets import DatasetError, MissingFileError, open_dataset
from training.datasets.msra import MSRADataset, loso_subjects, read_msra_bin

BOX = (60, 40, 260, 200)  # left, top, right, bottom


@pytest.fixture
def msra_root(tmp_path):
    rng = np.random.default_rng(4)
    hands = {(s, g): [random_hand(21, rng, depth_mm=350 + 20 * i, spread_mm=40)
                      for i in range(2)]
             for s in (0, 1) for g in ('1', 'IP', 'TIP')}
    images = {key: write_msra_gesture(tmp_path, key[0], key[1], value, BOX)
              for key, value in hands.items()}
    return tmp_path, hands, images


def test_joints_get_y_and_z_negated_into_the_optical_frame(msra_root):
    root, hands, _ = msra_root
    dataset = MSRADataset(root, split='test', test_subject=1)
    assert len(dataset) == 6
    order = [(1, g, i) for g in ('1', 'IP', 'TIP') for i in range(2)]  # sorted gesture folders
    for index, (subject, gesture, frame) in enumerate(order):
        sample = dataset[index]
        np.testing.assert_allclose(sample.joints_mm, hands[subject, gesture][frame], atol=0.5)
        assert sample.name == f'P{subject}/{gesture}/{frame:06d}_depth.bin'
        assert sample.layout == 'msra21' and sample.intrinsics == MSRA_CAMERA
        assert np.all(sample.joints_mm[:, 2] > 0)
        # With y down and z forward, the ring MCP projects onto its own blob.
        u, v, _ = MSRA_CAMERA.project(sample.joints_mm[9])
        assert sample.depth_mm[int(round(v)), int(round(u))] > 0


def test_box_is_placed_in_a_zero_frame(msra_root):
    root, _, images = msra_root
    depth = read_msra_bin(root / 'P0' / 'IP' / '000001_depth.bin')
    expected = np.zeros((240, 320), np.float32)
    left, top, right, bottom = BOX
    expected[top:bottom, left:right] = images[0, 'IP'][1][top:bottom, left:right]
    np.testing.assert_array_equal(depth, expected)
    assert depth[top:bottom, left:right].any()


def test_centre_is_the_centre_of_mass_seeded_at_the_ring_mcp(msra_root, tmp_path):
    root, hands, _ = msra_root
    sample = MSRADataset(root, split='test', test_subject=0)[0]
    ring_mcp = hands[0, '1'][0][9]
    assert np.linalg.norm(sample.center_mm - ring_mcp) < 100.0
    assert sample.cube_mm == 175.0
    centers = tmp_path / 'center_test_0_refined.txt'  # V2V: y up, z already positive
    centers.write_text('\n'.join(['1 2 300'] + ['invalid invalid invalid'] * 5))
    dataset = MSRADataset(root, split='test', test_subject=0, center_file=centers)
    np.testing.assert_allclose(dataset[0].center_mm, [1, -2, 300])


def test_leave_one_subject_out_selects_subjects():
    assert loso_subjects(3, 'test') == [3]
    assert loso_subjects(3, 'train') == [0, 1, 2, 4, 5, 6, 7, 8]
    with pytest.raises(ValueError, match='test subject must be 0..8'):
        loso_subjects(9, 'test')


def test_training_split_reads_other_subjects_with_random_cubes(msra_root):
    root, _, _ = msra_root
    with pytest.raises(MissingFileError, match=r'P2: MSRA subject P2 folder'):
        MSRADataset(root, split='train', test_subject=0)  # needs P1..P8
    dataset = open_dataset('msra', root, split='train', subjects=[0, 1])
    assert len(dataset) == 12 and dataset.file_name(6).startswith('P1/1/')
    assert {dataset.cube_mm(i) for i in range(12)} <= set(np.arange(150.0, 201.0, 10.0))


def test_drop_faulty_removes_the_flagged_frames(tmp_path):
    rng = np.random.default_rng(5)
    hands = [random_hand(21, rng) for _ in range(176)]
    folder = tmp_path / 'P2' / 'TIP'
    folder.mkdir(parents=True)
    lines = [str(len(hands))] + [' '.join(map(str, (h * [1, -1, -1]).ravel())) for h in hands]
    (folder / 'joint.txt').write_text('\n'.join(lines))
    kept = MSRADataset(tmp_path, subjects=[2], drop_faulty=True)
    assert len(MSRADataset(tmp_path, subjects=[2])) == 176 and len(kept) == 173
    names = [kept.file_name(i) for i in range(len(kept))]
    assert 'P2/TIP/000173_depth.bin' not in names and 'P2/TIP/000175_depth.bin' in names
    np.testing.assert_allclose(kept.joints_mm(172), hands[175], atol=1e-6)


def test_malformed_joint_file_is_reported_with_line(msra_root):
    root, _, _ = msra_root
    path = root / 'P0' / 'IP' / 'joint.txt'
    lines = path.read_text().splitlines()
    path.write_text('\n'.join([lines[0], lines[1], ' '.join(lines[2].split()[:60])]))
    with pytest.raises(DatasetError, match=r'joint\.txt line 3: expected 63 numbers, got 60'):
        MSRADataset(root, split='test', test_subject=0)
    path.write_text('\n'.join(['3'] + lines[1:]))
    with pytest.raises(DatasetError, match='line 1 announces 3 frames but 2 joint lines follow'):
        MSRADataset(root, split='test', test_subject=0)
    path.write_text('two\n' + '\n'.join(lines[1:]))
    with pytest.raises(DatasetError, match=r"joint\.txt line 1: expected the frame count"):
        MSRADataset(root, split='test', test_subject=0)


def test_broken_bin_files_are_reported(msra_root):
    root, _, images = msra_root
    path = root / 'P0' / '1' / '000000_depth.bin'
    path.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(DatasetError, match=r'000000_depth\.bin: \d+ bytes, expected \d+ for a'
                                           r' 200x160 box'):
        MSRADataset(root, split='test', test_subject=0)[0]
    write_msra_bin(path, images[0, '1'][0], (60, 40, 400, 200))
    with pytest.raises(DatasetError, match='is not inside the 320x240 image'):
        read_msra_bin(path)
    path.write_bytes(np.array([640, 480, 0, 0, 1, 1], '<i4').tobytes() + b'\0' * 4)
    with pytest.raises(DatasetError, match='header image size 640x480, expected 320x240'):
        read_msra_bin(path)
    path.write_bytes(b'\0' * 10)
    with pytest.raises(DatasetError, match='shorter than the 24-byte header'):
        read_msra_bin(path)
