"""The RViz configuration for one launch: config/hand.rviz with the topics the node really
uses after the launch file's namespace and remaps (ROS-free; the launch file imports it).

config/hand.rviz names the topics of a node at ``/`` without remaps (``/depth/image``,
``/hand_markers``, ``/hand_pose_node/debug_image``); any display whose topic is one of those
is pointed at the resolved name, everything else in the file is kept.
"""

from typing import Dict

import yaml

NODE_NAME = 'hand_pose_node'
# The node's own names (relative, as it creates them) of what the RViz displays show.
DISPLAYED = {'depth_image': 'depth/image', 'markers': 'hand_markers',
             'debug_image': '~/debug_image'}


def node_namespace(pushed: str, namespace: str) -> str:
    """The node's absolute namespace, as launch_ros makes it.

    :param pushed: the namespace pushed by an enclosing launch file (``PushRosNamespace``), or ''
    :param namespace: the launch file's ``namespace`` argument; absolute ones ignore ``pushed``
    """
    if namespace.startswith('/'):
        parts = [namespace]
    else:
        parts = [pushed, namespace]
    joined = '/'.join(part.strip('/') for part in parts if part.strip('/'))
    return '/' + joined


def resolve_topic(name: str, namespace: str, node_name: str = NODE_NAME) -> str:
    """A topic name resolved as ROS 2 resolves it for a node (absolute, ``~`` = the node).

    :param name: absolute, relative or private (``~/x``) name
    :param namespace: the node's absolute namespace
    :raises ValueError: an empty name
    """
    if not name:
        raise ValueError('empty topic name')
    base = namespace.rstrip('/')
    if name.startswith('/'):
        return name
    if name == '~' or name.startswith('~/'):
        return f'{base}/{node_name}{name[1:]}'
    return f'{base}/{name}'


def displayed_topics(namespace: str, depth_image: str) -> Dict[str, str]:
    """The resolved topics of the displays: ``{default topic at '/': resolved topic}``.

    :param namespace: the node's absolute namespace
    :param depth_image: what ``depth/image`` is remapped to (the launch argument ``depth_image``)
    """
    resolved = {key: resolve_topic(name, namespace) for key, name in DISPLAYED.items()}
    resolved['depth_image'] = resolve_topic(depth_image, namespace)
    return {resolve_topic(name, '/'): resolved[key] for key, name in DISPLAYED.items()}


def retarget(config_text: str, topics: Dict[str, str]) -> str:
    """``config_text`` (an RViz file) with every display topic found in ``topics`` replaced.

    :raises ValueError: the text is not an RViz configuration (a YAML mapping)
    """
    try:
        config = yaml.safe_load(config_text)
    except yaml.YAMLError as error:
        raise ValueError(f'not a YAML RViz configuration: {error}') from None
    if not isinstance(config, dict):
        raise ValueError('not an RViz configuration: the file is not a YAML mapping')
    _replace_topics(config, topics)
    return yaml.safe_dump(config, default_flow_style=False, sort_keys=False)


def _replace_topics(item, topics: Dict[str, str]) -> None:
    # Displays nest (groups), so walk everything; a topic is a mapping's `Topic: {Value: ...}`.
    if isinstance(item, dict):
        topic = item.get('Topic')
        if isinstance(topic, dict) and topic.get('Value') in topics:
            topic['Value'] = topics[topic['Value']]
        for value in item.values():
            _replace_topics(value, topics)
    elif isinstance(item, list):
        for value in item:
            _replace_topics(value, topics)
