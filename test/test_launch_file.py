"""launch/hand.launch.py: its source, its installed files, and the description it builds
(with launch_ros from the ros2_tools fixture)."""

import ast
import importlib.util
import os
import py_compile
import sys

from conftest import installed_prefix, ROOT
import readme

LAUNCH_FILE = ROOT / 'launch' / 'hand.launch.py'


def declared_arguments() -> set:
    tree = ast.parse(LAUNCH_FILE.read_text())
    return {call.args[0].value for call in ast.walk(tree)
            if isinstance(call, ast.Call) and getattr(call.func, 'id', '') ==
            'DeclareLaunchArgument'}


def test_launch_file_compiles():
    py_compile.compile(str(LAUNCH_FILE), doraise=True)


def test_launch_file_declares_the_documented_arguments():
    assert declared_arguments() == set(readme.launch_arguments())


def test_files_the_launch_file_names_are_installed():
    prefix = installed_prefix()
    share = prefix / 'share' / 'crossinfonet_ros'
    assert (share / 'launch' / 'hand.launch.py').is_file()
    for name in ('hand.yaml', 'hand.rviz', 'fastdds_profile.xml'):
        assert (share / 'config' / name).is_file(), f'config/{name} is not installed'
    executable = prefix / 'lib' / 'crossinfonet_ros' / 'hand_pose_node'
    assert executable.is_file() and os.access(executable, os.X_OK)


def test_launch_description_builds(ros2_tools, monkeypatch):
    monkeypatch.setattr(sys, 'path', sys.path + ros2_tools.python_paths())
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument
    spec = importlib.util.spec_from_file_location('hand_launch', LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    assert isinstance(description, LaunchDescription)
    names = {a.name for a in description.entities if isinstance(a, DeclareLaunchArgument)}
    assert names == set(readme.launch_arguments())
