"""config/hand.yaml applies to hand_pose_node in any namespace (a plain ``hand_pose_node:`` key
would apply only at ``/``): the node is started in this process with real ROS arguments, as
``--ros-args -r __ns:=NS --params-file custom.yaml`` would start it, and reads a value back."""

import pytest

rclpy = pytest.importorskip('rclpy', reason='rclpy comes with `make test` set-up')
from rclpy.context import Context  # noqa: E402

from conftest import ROOT  # noqa: E402

pytestmark = pytest.mark.ros


def custom_params(folder, **values) -> str:
    """A copy of config/hand.yaml with some values changed (its node key kept)."""
    text = (ROOT / 'config' / 'hand.yaml').read_text()
    for name, value in values.items():
        lines = [line for line in text.splitlines() if line.startswith(f'    {name}:')]
        assert len(lines) == 1, name
        text = text.replace(lines[0], f'    {name}: {value}')
    path = folder / 'custom.yaml'
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize('namespace, expected', [
    ('/', '/hand_pose_node'), ('/foo', '/foo/hand_pose_node'),
    ('/left/camera', '/left/camera/hand_pose_node')])
def test_the_shipped_file_applies_in_any_namespace(tmp_path, namespace, expected):
    from crossinfonet_ros.node import HandPoseNode
    # autostart false: the parameters are read, no model is loaded.
    path = custom_params(tmp_path, max_depth=0.9, frame_prefix='left_hand', autostart='false')
    context = Context()
    rclpy.init(args=['hand_pose_node', '--ros-args', '-r', f'__ns:={namespace}',
                     '--params-file', path], context=context)
    try:
        node = HandPoseNode(context=context)
        try:
            assert node.get_fully_qualified_name() == expected
            assert node.get_parameter('max_depth').value == 0.9
            assert node.get_parameter('frame_prefix').value == 'left_hand'
            assert node.get_parameter('autostart').value is False
        finally:
            node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
