"""crossinfonet_ros.node.rviz_config: the RViz file handed to rviz2 names the topics the node
really uses after the launch file's namespace and depth_image remap."""

import pytest
import yaml

from conftest import ROOT
from crossinfonet_ros.node.rviz_config import (displayed_topics, node_namespace, resolve_topic,
                                               retarget)

SHIPPED = (ROOT / 'config' / 'hand.rviz').read_text()


def display_topics(text: str) -> dict:
    """``{display name: topic}`` of the displays that have a topic."""
    displays = yaml.safe_load(text)['Visualization Manager']['Displays']
    return {d['Name']: d['Topic']['Value'] for d in displays if 'Topic' in d}


@pytest.mark.parametrize('pushed, namespace, expected', [
    ('', '', '/'), ('', 'left', '/left'), ('', '/left/', '/left'),
    ('robot', 'left', '/robot/left'), ('/robot', '', '/robot'), ('robot', '/abs', '/abs')])
def test_the_node_namespace_is_made_as_launch_ros_makes_it(pushed, namespace, expected):
    assert node_namespace(pushed, namespace) == expected


@pytest.mark.parametrize('name, namespace, expected', [
    ('depth/image', '/', '/depth/image'), ('depth/image', '/left', '/left/depth/image'),
    ('/camera/depth', '/left', '/camera/depth'),
    ('~/debug_image', '/left', '/left/hand_pose_node/debug_image'),
    ('~/debug_image', '/', '/hand_pose_node/debug_image')])
def test_topics_resolve_like_ros_names(name, namespace, expected):
    assert resolve_topic(name, namespace) == expected


def test_the_shipped_config_names_the_default_topics_unchanged():
    assert display_topics(SHIPPED) == {
        'Depth image': '/depth/image', 'Hand skeleton': '/hand_markers',
        'Network crop': '/hand_pose_node/debug_image'}
    assert display_topics(retarget(SHIPPED, displayed_topics('/', 'depth/image'))) == \
        display_topics(SHIPPED)


def test_namespace_and_remap_reach_every_display_and_the_rest_is_kept():
    text = retarget(SHIPPED, displayed_topics('/left', '/camera/camera/depth/image_rect_raw'))
    assert display_topics(text) == {
        'Depth image': '/camera/camera/depth/image_rect_raw',
        'Hand skeleton': '/left/hand_markers',
        'Network crop': '/left/hand_pose_node/debug_image'}
    before, after = yaml.safe_load(SHIPPED), yaml.safe_load(text)
    for config in (before, after):
        for display in config['Visualization Manager']['Displays']:
            display.get('Topic', {}).pop('Value', None)
    assert before == after


def test_a_relative_remap_lands_in_the_namespace():
    text = retarget(SHIPPED, displayed_topics('/left', 'camera/depth'))
    assert display_topics(text)['Depth image'] == '/left/camera/depth'


@pytest.mark.parametrize('text, words', [
    ('Panels: [unclosed', 'not a YAML RViz configuration'),
    ('- a list', 'not a YAML mapping')])
def test_a_file_that_is_not_an_rviz_config_is_named(text, words):
    with pytest.raises(ValueError, match=words):
        retarget(text, {})
