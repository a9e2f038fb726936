"""The renderer's joints in the NYU, ICVL and MSRA layouts (training/synth/joint_maps.py)."""

import numpy as np
import pytest

from crossinfonet_ros.layouts import get_layout
from training.synth.joint_maps import convert_joints
from training.synth.kinematics import hand_joints
from training.synth.poses import NAMED_POSES
from training.synth.skeleton import reference_shape

JOINTS = hand_joints(reference_shape(), NAMED_POSES['spread'])
SOURCE = get_layout('hands2017')


@pytest.mark.parametrize('name', ['hands2017', 'msra21', 'icvl16', 'nyu14'])
def test_every_layout_gets_its_joint_count(name):
    converted = convert_joints(JOINTS, name)
    assert converted.shape == (get_layout(name).num_joints, 3)
    batch = convert_joints(np.stack([JOINTS, JOINTS + 1.0]), name)
    assert batch.shape == (2,) + converted.shape
    assert np.allclose(batch[1] - batch[0], 1.0)  # translation commutes with the mapping


def test_msra_is_a_reordering_by_name():
    msra = convert_joints(JOINTS, 'msra21')
    layout = get_layout('msra21')
    for k, name in enumerate(layout.joint_names):
        assert np.array_equal(msra[k], JOINTS[SOURCE.index(name)])


def test_icvl_and_nyu_mappings():
    icvl = get_layout('icvl16')
    mapped = convert_joints(JOINTS, 'icvl16')
    assert np.array_equal(mapped[icvl.index('index_root')], JOINTS[SOURCE.index('index_mcp')])
    assert np.array_equal(mapped[icvl.index('index_mid')], JOINTS[SOURCE.index('index_pip')])
    assert np.array_equal(mapped[icvl.index('thumb_root')], JOINTS[SOURCE.index('thumb_pip')])
    palm = mapped[icvl.index('palm')]
    wrist, middle_mcp = JOINTS[0], JOINTS[SOURCE.index('middle_mcp')]
    assert np.linalg.norm(palm - (wrist + middle_mcp) / 2) < 15.0
    nyu = get_layout('nyu14')
    mapped = convert_joints(JOINTS, 'nyu14')
    assert np.array_equal(mapped[nyu.index('thumb_tip')], JOINTS[SOURCE.index('thumb_tip')])
    radial, ulnar = mapped[nyu.index('wrist_2')], mapped[nyu.index('wrist_1')]
    # Hand frame: y is radial (thumb side), so the radial wrist point has the larger y.
    assert radial[1] > wrist[1] + 10.0 and ulnar[1] < wrist[1] - 10.0
    assert np.allclose((radial + ulnar) / 2, wrist)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r'\(\.\.\., 21, 3\)'):
        convert_joints(np.zeros((14, 3)), 'nyu14')
    with pytest.raises(ValueError, match='unknown joint layout'):
        convert_joints(JOINTS, 'bighand')
