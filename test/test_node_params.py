"""Node parameter table and checks (ROS-free), and the shipped-weights search."""

import pytest

from crossinfonet_ros.node.params import PARAMETERS, SHIPPED_WEIGHTS, NodeParams, \
    find_shipped_weights


def _defaults(**changes):
    values = {name: default for name, default, _ in PARAMETERS}
    values.update(changes)
    return values


def test_every_parameter_has_a_description_and_a_field():
    names = [name for name, _, _ in PARAMETERS]
    assert len(names) == len(set(names))
    assert set(names) == set(NodeParams.__dataclass_fields__)
    assert all(len(description) > 10 for _, _, description in PARAMETERS)


def test_defaults_are_valid_and_frozen():
    params = NodeParams.from_values(_defaults())
    assert params.device == 'auto' and params.output_layout == 'native'
    assert params.marker_lifetime == 0.5 and params.diagnostics_period == 1.0
    with pytest.raises(AttributeError):
        params.threads = 4


def test_threads_default_to_the_usable_cores():
    assert NodeParams.from_values(_defaults()).threads == 0  # 0: resolved by usable_cores()


@pytest.mark.parametrize('changes, words', [
    (dict(threads=-1), 'threads must be >= 0'),
    (dict(min_depth=1.2), 'min_depth < max_depth'),
    (dict(depth_scale=-1.0), 'depth_scale'),
    (dict(cube_size=-0.2), 'cube_size'),
    (dict(output_layout='openpose'), 'output_layout'),
    (dict(one_euro_min_cutoff=0.0), 'one_euro_min_cutoff'),
    (dict(marker_lifetime=0.0), 'marker_lifetime'),
    (dict(one_euro_beta=-0.1), 'one_euro_beta'),
    (dict(max_pending_frames=0), 'max_pending_frames must be in 1..30'),
    (dict(max_pending_frames=31), 'max_pending_frames must be in 1..30'),
    (dict(hand_threshold=-0.1), r'hand_threshold must be in \[0, 1\)'),
    (dict(hand_threshold=1.0), r'hand_threshold must be in \[0, 1\)'),
])
def test_bad_values_name_the_parameter(changes, words):
    with pytest.raises(ValueError, match=words):
        NodeParams.from_values(_defaults(**changes))


def test_shipped_weights_are_searched_in_every_package_folder(tmp_path):
    first, second = tmp_path / 'src', tmp_path / 'install'
    first.mkdir()
    assert find_shipped_weights([str(first), str(second)]) is None
    target = second / SHIPPED_WEIGHTS
    target.parent.mkdir(parents=True)
    target.write_bytes(b'x')
    assert find_shipped_weights([str(first), str(second)]) == target
