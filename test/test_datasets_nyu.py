"""NYU loader on tiny files in the real format: .mat joints (y up), RGB-packed depth, centres."""

import cv2
import numpy as np
import pytest
import scipy.io

from crossinfonet_ros.layouts import NYU_36_TO_14
from dataset_writers import NYU_CAMERA, nyu_png, random_hand, render_blobs, write_nyu
from training.datasets import DatasetError, MissingFileError
from training.datasets.nyu import NYUDataset, nyu_to_optical


@pytest.fixture
def nyu_root(tmp_path):
    rng = np.random.default_rng(2)
    hands = [random_hand(36, rng, depth_mm=700 + 40 * i) for i in range(3)]
    # V2V centres are in NYU's y-up frame; frame 1 has V2V's invalid marker.
    write_nyu(tmp_path, 'train', hands, rng,
              centers=['10.5 20.25 700', 'invalid invalid invalid', '-5 -15 780'])
    write_nyu(tmp_path, 'test', hands[:2], rng)
    return tmp_path, hands


def test_kinect1_joints_are_the_14_evaluated_ones_with_y_flipped_to_y_down(nyu_root):
    root, hands = nyu_root
    dataset = NYUDataset(root, 'train')
    assert len(dataset) == 3
    mat = scipy.io.loadmat(str(root / 'train' / 'joint_data.mat'))
    for index, truth in enumerate(hands):
        sample = dataset[index]
        np.testing.assert_allclose(sample.joints_mm, truth[list(NYU_36_TO_14)], atol=0.5)
        # The file's own uvd (NYU's v = cy - y_up fy / z) agrees with our y-down projection.
        file_uvd = mat['joint_uvd'][0, index, list(NYU_36_TO_14)]
        np.testing.assert_allclose(NYU_CAMERA.project(sample.joints_mm), file_uvd, atol=1e-3)
        assert sample.layout == 'nyu14' and sample.intrinsics == NYU_CAMERA
        assert sample.name == f'depth_1_{index + 1:07d}.png'


def test_depth_is_green_high_byte_and_blue_low_byte(nyu_root):
    root, hands = nyu_root
    depth = np.zeros((480, 640), np.float32)
    depth[100, 200], depth[101, 200], depth[102, 200] = 1234, 255, 256
    depth[200:210, 300:310] = render_blobs(NYU_CAMERA, hands[0])[200:210, 300:310] + 700
    cv2.imwrite(str(root / 'train' / 'depth_1_0000001.png'),
                nyu_png(depth, np.random.default_rng(3)))
    loaded = NYUDataset(root, 'train').read_depth(0)
    np.testing.assert_array_equal(loaded, depth)


def test_centres_come_from_the_centre_file_with_y_flipped(nyu_root):
    root, hands = nyu_root
    dataset = NYUDataset(root, 'train')
    np.testing.assert_allclose(dataset[0].center_mm, [10.5, -20.25, 700.0])
    np.testing.assert_allclose(dataset[2].center_mm, [-5.0, 15.0, 780.0])
    fallback = dataset[1].center_mm  # the 'invalid' frame: centre of mass near the palm
    assert np.linalg.norm(fallback - hands[1][NYU_36_TO_14[13]]) < 150.0
    no_file = NYUDataset(root, 'train', use_center_file=False)
    assert not np.allclose(no_file[0].center_mm, [10.5, -20.25, 700.0])
    assert NYUDataset(root, 'test')[0].center_mm.shape == (3,)  # no test_NYU.txt: CoM


def test_training_cubes_are_seeded_draws_from_250_to_300_and_test_is_250(nyu_root):
    root, _ = nyu_root
    train = NYUDataset(root, 'train', seed=7)
    cubes = [train.cube_mm(i) for i in range(len(train))]
    assert set(cubes) <= {250.0, 260.0, 270.0, 280.0, 290.0, 300.0}
    assert cubes == [NYUDataset(root, 'train', seed=7)[i].cube_mm for i in range(3)]
    assert NYUDataset(root, 'test').cube_mm(1) == 250.0


def test_centre_file_with_the_wrong_number_of_lines_is_rejected(nyu_root):
    root, _ = nyu_root
    (root / 'train_NYU.txt').write_text('1 2 3\n4 5 6\n')
    with pytest.raises(DatasetError, match=r'train_NYU\.txt: centre file has 2 lines but the'
                                           r' labels have 3 frames'):
        NYUDataset(root, 'train')
    (root / 'train_NYU.txt').write_text('1 2 3\n4 5 6\n7 8 -9\n')
    with pytest.raises(DatasetError, match=r'line 3: centre depth must be positive'):
        NYUDataset(root, 'train')


def test_malformed_or_missing_mat_and_images_are_named(nyu_root):
    root, _ = nyu_root
    mat = root / 'test' / 'joint_data.mat'
    scipy.io.savemat(str(mat), {'joint_uvd': np.zeros((3, 2, 36, 3))})
    with pytest.raises(DatasetError, match=r'joint_data\.mat: no variable joint_xyz'):
        NYUDataset(root, 'test')
    scipy.io.savemat(str(mat), {'joint_xyz': np.zeros((3, 2, 14, 3))})
    with pytest.raises(DatasetError, match=r'joint_xyz must be \[kinects\]\[N\]\[36\]\[3\]'):
        NYUDataset(root, 'test')
    mat.write_text('not a mat file')
    with pytest.raises(DatasetError, match=r'joint_data\.mat: cannot read as a MATLAB file'):
        NYUDataset(root, 'test')
    mat.unlink()
    with pytest.raises(MissingFileError, match=r'joint_data\.mat: NYU joint file not found'):
        NYUDataset(root, 'test')
    (root / 'train' / 'depth_1_0000002.png').unlink()
    with pytest.raises(MissingFileError, match=r'depth_1_0000002\.png: NYU depth image'):
        NYUDataset(root, 'train')[1]
    cv2.imwrite(str(root / 'train' / 'depth_1_0000003.png'), np.zeros((480, 640), np.uint16))
    with pytest.raises(DatasetError, match='expected an 8-bit RGB PNG'):
        NYUDataset(root, 'train')[2]


def test_y_flip_is_its_own_inverse_and_touches_only_y():
    points = np.array([[1.0, 2.0, 3.0], [-4.0, -5.0, 600.0]])
    np.testing.assert_array_equal(nyu_to_optical(points), [[1, -2, 3], [-4, 5, 600]])
    np.testing.assert_array_equal(nyu_to_optical(nyu_to_optical(points)), points)
