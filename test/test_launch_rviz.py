"""launch/hand.launch.py hands RViz a config on the launch's own topics, and says so plainly
when rviz2 is not installed. Needs launch and launch_ros (a system ROS 2, or the tools overlay
of ../shared/ros2-python-tools); rviz2 itself is a stand-in entered in a real ament index."""

import importlib.util
import logging
import os
from pathlib import Path
import sys

import pytest
import yaml

from conftest import ROOT

LAUNCH_FILE = ROOT / 'launch' / 'hand.launch.py'


@pytest.fixture(autouse=True)
def _launch_importable(ros2_tools, monkeypatch):
    """launch and launch_ros from the tools (a sourced ROS 2, or the overlay built from
    ../shared; the fixture skips with its reason without either)."""
    monkeypatch.setattr(sys, 'path', sys.path + ros2_tools.python_paths())


def launch_module():
    spec = importlib.util.spec_from_file_location('hand_launch', LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def context_with(**arguments):
    from launch import LaunchContext
    context = LaunchContext()
    context.launch_configurations.update(
        {'namespace': '', 'depth_image': 'depth/image',
         'rviz_config': str(ROOT / 'config' / 'hand.rviz'), **arguments})
    return context


@pytest.fixture
def rviz2_installed(tmp_path, monkeypatch):
    """An ament prefix holding a package rviz2 with an rviz2 executable."""
    (tmp_path / 'share' / 'ament_index' / 'resource_index' / 'packages').mkdir(parents=True)
    (tmp_path / 'share' / 'ament_index' / 'resource_index' / 'packages' / 'rviz2').touch()
    executable = tmp_path / 'lib' / 'rviz2' / 'rviz2'
    executable.parent.mkdir(parents=True)
    executable.write_text('#!/bin/sh\n')
    executable.chmod(0o755)
    monkeypatch.setenv('AMENT_PREFIX_PATH',
                       f"{tmp_path}:{os.environ.get('AMENT_PREFIX_PATH', '')}")
    return executable


def rviz_command(actions, context):
    from launch.utilities import perform_substitutions
    from launch_ros.actions import Node
    node = next(a for a in actions if isinstance(a, Node))
    command = []
    for part in node.process_description.cmd:
        try:
            command.append(perform_substitutions(context, part))
        except AttributeError:  # the ROS arguments (name, namespace), known only when run
            command.append(None)
    return command


@pytest.mark.parametrize('arguments, pushed, expected', [
    (dict(namespace='left', depth_image='/camera/camera/depth/image_rect_raw'), '',
     ['/camera/camera/depth/image_rect_raw', '/left/hand_markers',
      '/left/hand_pose_node/debug_image']),
    (dict(depth_image='camera/depth'), 'robot',
     ['/robot/camera/depth', '/robot/hand_markers', '/robot/hand_pose_node/debug_image'])])
def test_rviz_gets_a_config_on_the_launch_topics(rviz2_installed, arguments, pushed, expected):
    context = context_with(**arguments)
    if pushed:  # as PushRosNamespace in an enclosing launch file sets it
        context.launch_configurations['ros_namespace'] = pushed
    command = rviz_command(launch_module().start_rviz(context), context)
    assert command[0] == str(rviz2_installed) and command[1] == '-d'
    displays = yaml.safe_load(Path(command[2]).read_text())['Visualization Manager']['Displays']
    assert [d['Topic']['Value'] for d in displays if 'Topic' in d] == expected
    Path(command[2]).unlink()


class Recorder(logging.Handler):
    """Keeps every record logged to it."""

    def __init__(self) -> None:
        super().__init__()
        self.records = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_without_rviz2_the_launch_warns_and_goes_on():
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix
    try:
        get_package_prefix('rviz2')
        pytest.skip('rviz2 is installed here')
    except PackageNotFoundError:
        pass
    recorder = Recorder()
    logger = logging.getLogger('hand.launch.py')  # launch.logging's loggers are these
    logger.addHandler(recorder)
    try:
        assert launch_module().start_rviz(context_with()) == []  # the node still starts
    finally:
        logger.removeHandler(recorder)
    [record] = recorder.records
    assert record.levelno == logging.WARNING
    assert 'use_rviz:=true but rviz2 is not installed' in record.getMessage()
