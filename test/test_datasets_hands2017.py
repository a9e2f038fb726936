"""HANDS2017 loader on tiny files in the real format, intrinsics override, registry."""

import json

import numpy as np
import pytest

from crossinfonet_ros.camera import Intrinsics
from dataset_writers import HANDS2017_CAMERA, random_hand, render_blobs, write_hands2017
from training.datasets import DatasetError, MissingFileError, open_dataset
from training.datasets.hands2017 import Hands2017Dataset

SMALL_CAMERA = Intrinsics(200.0, 201.0, 79.5, 59.5, 160, 120)


@pytest.fixture
def hands(tmp_path):
    rng = np.random.default_rng(6)
    return [random_hand(21, rng, depth_mm=450 + 30 * i) for i in range(3)]


def test_tab_and_space_separated_annotations_round_trip(tmp_path, hands):
    write_hands2017(tmp_path, hands)  # lines alternate tab / space separators
    dataset = open_dataset('hands2017', tmp_path)
    assert len(dataset) == 3
    for index, truth in enumerate(hands):
        sample = dataset[index]
        np.testing.assert_allclose(sample.joints_mm, truth, atol=0.5)
        assert sample.name == f'image_D{index + 1:08d}.png'
        assert sample.intrinsics == HANDS2017_CAMERA and sample.layout == 'hands2017'
        assert sample.cube_mm == 220.0
        np.testing.assert_array_equal(sample.depth_mm,
                                      np.round(render_blobs(HANDS2017_CAMERA, truth)))
        assert np.linalg.norm(sample.center_mm - truth[3]) < 110.0  # CoM around middle MCP


def test_intrinsics_json_next_to_the_annotation_overrides_the_camera(tmp_path, hands):
    write_hands2017(tmp_path, hands, camera=SMALL_CAMERA, intrinsics_json=True)
    sample = Hands2017Dataset(tmp_path)[1]
    assert sample.intrinsics == SMALL_CAMERA and sample.depth_mm.shape == (120, 160)
    u, v, _ = SMALL_CAMERA.project(sample.joints_mm[3])
    assert sample.depth_mm[int(round(v)), int(round(u))] > 0


def test_explicit_intrinsics_object_or_file_wins(tmp_path, hands):
    write_hands2017(tmp_path, hands, camera=SMALL_CAMERA)
    with pytest.raises(DatasetError, match='image is 160x120 but the camera is 640x480'):
        Hands2017Dataset(tmp_path)[0]
    assert Hands2017Dataset(tmp_path, intrinsics=SMALL_CAMERA)[0].intrinsics == SMALL_CAMERA
    path = tmp_path / 'camera.json'
    path.write_text(json.dumps({'fx': 200.0, 'fy': 201.0, 'cx': 79.5, 'cy': 59.5,
                                'width': 160, 'height': 120}))
    assert Hands2017Dataset(tmp_path, intrinsics=path).intrinsics == SMALL_CAMERA


def test_bad_intrinsics_files_are_named(tmp_path, hands):
    write_hands2017(tmp_path, hands)
    path = tmp_path / 'training' / 'intrinsics.json'
    path.write_text(json.dumps({'fx': 200.0, 'fy': 201.0, 'cx': 79.5, 'width': 160}))
    with pytest.raises(DatasetError, match=r'intrinsics\.json: missing key\(s\) cy, height'):
        Hands2017Dataset(tmp_path)
    path.write_text('{fx: 1')
    with pytest.raises(DatasetError, match=r'intrinsics\.json: not valid JSON'):
        Hands2017Dataset(tmp_path)
    path.write_text(json.dumps({'fx': -1, 'fy': 1, 'cx': 0, 'cy': 0, 'width': 1, 'height': 1}))
    with pytest.raises(DatasetError, match='bad intrinsics .*focal lengths must be within'):
        Hands2017Dataset(tmp_path)


def test_centre_file_and_malformed_annotation(tmp_path, hands):
    write_hands2017(tmp_path, hands)
    centers = tmp_path / 'center_train_refined.txt'
    centers.write_text('invalid invalid invalid\n1 2 300\n3 4 400\n\n')
    dataset = Hands2017Dataset(tmp_path, center_file=centers)
    np.testing.assert_allclose(dataset[2].center_mm, [3, 4, 400])
    assert np.linalg.norm(dataset[0].center_mm - hands[0][3]) < 110.0
    annotation = tmp_path / 'training' / 'Training_Annotation.txt'
    lines = annotation.read_text().splitlines()
    lines[2] = lines[2] + ' 5.0'
    annotation.write_text('\n'.join(lines))
    with pytest.raises(DatasetError, match=r'Training_Annotation\.txt line 3: expected 63'
                                           r' numbers, got 64'):
        Hands2017Dataset(tmp_path)
    annotation.unlink()
    with pytest.raises(MissingFileError, match='HANDS2017 annotation file not found'):
        Hands2017Dataset(tmp_path)
    with pytest.raises(MissingFileError, match='HANDS2017 training folder'):
        Hands2017Dataset(tmp_path / 'nowhere')


def test_registry_rejects_unknown_names_and_splits(tmp_path, hands):
    write_hands2017(tmp_path, hands)
    with pytest.raises(ValueError, match="unknown dataset 'bighand'; valid datasets: hands2017"):
        open_dataset('bighand', tmp_path)
    with pytest.raises(ValueError, match="ground truth for split 'train' only"):
        open_dataset('hands2017', tmp_path, split='test')
    dataset = open_dataset('hands2017', tmp_path, cube=(200.0, 240.0), seed=3)
    assert {dataset.cube_mm(i) for i in range(3)} <= {200.0, 210.0, 220.0, 230.0, 240.0}
    with pytest.raises(IndexError, match='frame 3 out of range for 3 frames'):
        dataset[3]
    assert dataset[-1].name == dataset.file_name(2)
