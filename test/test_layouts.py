"""Joint layouts: tables agree with the spec (5.2, 2.2) and validation rejects broken tables."""

import dataclasses

import pytest

from crossinfonet_ros.layouts import (DEFAULT_LAYOUT, FINGERS, JointLayout, LAYOUTS,
                                      MEDIAPIPE_NAMES, NYU_36_TO_14, get_layout)

# Spec 1.7 outdims (A, P, F) of the released code, and the paper's NYU split (Fig. 4).
CODE_COUNTS = {'nyu14': (14, 9, 5), 'icvl16': (16, 6, 10), 'msra21': (21, 6, 15),
               'hands2017': (21, 6, 15)}

# MediaPipe names -> this package's BigHand-sense thumb names (module docstring table).
THUMB_TO_BIGHAND = {'thumb_cmc': 'thumb_mcp', 'thumb_mcp': 'thumb_pip', 'thumb_ip': 'thumb_dip'}


def test_registry_holds_the_four_layouts_and_the_default_is_hands2017():
    assert set(LAYOUTS) == set(CODE_COUNTS)
    assert DEFAULT_LAYOUT == 'hands2017'
    for name, layout in LAYOUTS.items():
        assert layout.name == name
        assert get_layout(name) is layout


def test_unknown_layout_error_lists_valid_names():
    with pytest.raises(ValueError,
                       match='unknown joint layout .*hands2017.*icvl16.*msra21.*nyu14'):
        get_layout('bighand')


@pytest.mark.parametrize('name', sorted(CODE_COUNTS))
def test_joint_and_split_counts_match_the_released_code(name):
    layout = get_layout(name)
    joints, palm, finger = CODE_COUNTS[name]
    assert layout.num_joints == joints
    assert (len(layout.palm), len(layout.finger)) == (palm, finger)


@pytest.mark.parametrize('name', sorted(CODE_COUNTS))
def test_skeleton_is_a_spanning_tree(name):
    layout = get_layout(name)
    assert len(layout.edges) == layout.num_joints - 1
    reached = {layout.edges[0][0]}
    for _ in layout.edges:
        for parent, child in layout.edges:
            if parent in reached or child in reached:
                reached.update((parent, child))
    assert reached == set(range(layout.num_joints))


def test_hands2017_order_is_bighand():
    layout = get_layout('hands2017')
    assert layout.joint_names[:6] == ('wrist', 'thumb_mcp', 'index_mcp', 'middle_mcp',
                                      'ring_mcp', 'pinky_mcp')
    assert layout.joint_names[6:9] == ('thumb_pip', 'thumb_dip', 'thumb_tip')
    assert layout.joint_names[18:] == ('pinky_pip', 'pinky_dip', 'pinky_tip')
    # Spec 2.2: palm = wrist + 5 MCPs, finger = the rest, same in code and paper.
    assert layout.palm == layout.palm_paper == (0, 1, 2, 3, 4, 5)
    assert layout.finger == layout.finger_paper == tuple(range(6, 21))
    assert (5, 18) in layout.edges and (18, 19) in layout.edges


def test_msra_split_is_wrist_mcps_then_pips_dips_tips():
    layout = get_layout('msra21')
    assert layout.joint_names[17:] == ('thumb_mcp', 'thumb_pip', 'thumb_dip', 'thumb_tip')
    names = [layout.joint_names[i] for i in layout.palm]
    assert names[0] == 'wrist' and all(n.endswith('_mcp') for n in names[1:])
    kinds = [layout.joint_names[i].split('_')[1] for i in layout.finger]
    assert kinds == ['pip'] * 5 + ['dip'] * 5 + ['tip'] * 5


def test_nyu_keeps_both_splits_and_the_36_joint_ids():
    layout = get_layout('nyu14')
    assert NYU_36_TO_14 == (0, 3, 6, 9, 12, 15, 18, 21, 24, 25, 27, 30, 31, 32)
    assert layout.finger == (0, 2, 4, 6, 8)
    assert all(layout.joint_names[i].endswith('_tip') for i in layout.finger)
    assert layout.split('paper') == ((10, 11, 12, 13), tuple(range(10)))
    assert layout.split('code') == (layout.palm, layout.finger)
    assert layout.mediapipe is None


def test_unknown_split_is_rejected():
    with pytest.raises(ValueError, match="'code' or 'paper'"):
        get_layout('hands2017').split('fig4')


@pytest.mark.parametrize('name', ['hands2017', 'msra21'])
def test_mediapipe_map_is_a_permutation_onto_matching_joints(name):
    layout = get_layout(name)
    assert sorted(layout.mediapipe) == list(range(21))
    for mp_name, index in zip(MEDIAPIPE_NAMES, layout.mediapipe):
        assert layout.joint_names[index] == THUMB_TO_BIGHAND.get(mp_name, mp_name)


@pytest.mark.parametrize('name', sorted(CODE_COUNTS))
def test_wrist_and_finger_roots_follow_finger_order(name):
    layout = get_layout(name)
    roots = [layout.joint_names[i] for i in layout.mcps]
    assert [r.split('_')[0] for r in roots] == list(FINGERS)
    assert layout.joint_names[layout.wrist] in ('wrist', 'wrist_1', 'palm')


def test_index_by_name():
    layout = get_layout('msra21')
    assert layout.index('ring_mcp') == 9
    with pytest.raises(ValueError, match="no joint 'ring_cmc'"):
        layout.index('ring_cmc')


def _replace(**changes) -> JointLayout:
    return dataclasses.replace(get_layout('hands2017'), **changes)


@pytest.mark.parametrize('changes, message', [
    ({'finger': tuple(range(5, 21))}, 'code palm \\+ finger must cover'),
    ({'finger_paper': tuple(range(6, 20))}, 'paper palm \\+ finger must cover'),
    ({'edges': ((0, 21),)}, 'edges must be joint pairs'),
    ({'mediapipe': tuple(range(20))}, 'mediapipe must hold 21'),
    ({'wrist': -1}, 'wrist index -1 out of range'),
    ({'mcps': (1, 2, 3, 4)}, 'mcps must hold 5'),
    ({'joint_names': ('wrist',) * 21}, 'not unique'),
])
def test_validation_names_the_broken_field(changes, message):
    with pytest.raises(ValueError, match=message):
        _replace(**changes)


def test_layouts_are_immutable():
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_layout('hands2017').wrist = 3
