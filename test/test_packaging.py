"""The layout promises: a ROS-free runtime library, training/ never installed."""

import ast
import subprocess
import sys

import pytest

from conftest import ROOT

# Builds and checks the installed package of this distro.
pytestmark = pytest.mark.ros

ROS_MODULES = ('rclpy', 'rcl_interfaces', 'sensor_msgs', 'geometry_msgs', 'std_msgs',
               'visualization_msgs', 'diagnostic_msgs', 'tf2_msgs', 'tf2_ros',
               'builtin_interfaces', 'lifecycle_msgs')
# The ROS edge: the only subpackage allowed to import rclpy or ROS messages.
ROS_EDGE = ROOT / 'crossinfonet_ros' / 'node'


def imported_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split('.')[0]
            if node.module.split('.')[:2] == ['crossinfonet_ros', 'msg']:
                yield 'crossinfonet_ros.msg'


def test_runtime_library_does_not_import_ros():
    offenders = []
    for path in (ROOT / 'crossinfonet_ros').rglob('*.py'):
        if ROS_EDGE in path.parents:
            continue
        found = set(imported_modules(path)) & {*ROS_MODULES, 'crossinfonet_ros.msg'}
        if found:
            offenders.append(f'{path.relative_to(ROOT)}: {sorted(found)}')
    assert not offenders, 'ROS imports outside the node: ' + '; '.join(offenders)


def test_the_ros_edge_is_one_subpackage():
    # Every module that imports ROS lives in crossinfonet_ros/node/, and it is a real edge.
    edge = [p for p in ROS_EDGE.rglob('*.py')
            if set(imported_modules(p)) & {*ROS_MODULES, 'crossinfonet_ros.msg'}]
    assert {p.name for p in edge} >= {'hand_pose_node.py', 'ros_messages.py'}
    top = sorted(p.name for p in (ROOT / 'crossinfonet_ros').glob('*.py'))
    assert not [n for n in top if n.startswith(('node', 'ros_', 'tf_'))], top


def test_node_helpers_import_without_rclpy():
    # The ROS-free helpers of the edge (params, stats, TF maths) load in a Python without rclpy,
    # so the demo and benchmarks can use them; the node itself loads rclpy on first use.
    code = ('import sys; sys.modules["rclpy"] = None\n'
            'import crossinfonet_ros.node.params, crossinfonet_ros.node.stats\n'
            'import crossinfonet_ros.node.tf_buffer, crossinfonet_ros.node.weights_watch\n'
            'import crossinfonet_ros.node as n\n'
            'try:\n    n.HandPoseNode\nexcept ImportError:\n    print("lazy")\n')
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == 'lazy'


def test_training_never_imports_ros():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / 'training').rglob('*.py')
                 if {'rclpy', 'tf2_ros'} & set(imported_modules(p))]
    assert not offenders


def test_setup_py_packages_only_the_runtime_library():
    code = ('import setuptools, sys; found = []\n'
            'setuptools.setup = lambda **kw: found.extend(kw["packages"])\n'
            'sys.argv = ["setup.py"]; exec(open("setup.py").read())\n'
            'print("\\n".join(found))')
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.split()
    assert 'crossinfonet_ros' in out and 'crossinfonet_ros.model' in out
    assert not any(name == 'training' or name.startswith('training.') for name in out)
    assert not any(name.startswith('test') for name in out)


def test_readme_lists_every_node_parameter_and_the_yaml_sets_them():
    from crossinfonet_ros.node.params import PARAMETERS
    readme = (ROOT / 'README.md').read_text()
    yaml_text = (ROOT / 'config' / 'hand.yaml').read_text()
    for name, _, _ in PARAMETERS:
        assert f'| `{name}` |' in readme, f'README parameter table lacks {name}'
        assert f'    {name}:' in yaml_text, f'config/hand.yaml lacks {name}'


def test_package_xml_leaves_the_pinned_python_stack_to_the_venv():
    # A rosdep pip key would install an unpinned copy beside the pinned one
    # (requirements/python.txt); tf2_ros is not used (the node has its own TF buffer).
    text = (ROOT / 'package.xml').read_text()
    assert '-pip<' not in text and 'tf2_ros' not in text.replace('tf2_msgs', '')
    assert 'requirements/python.txt' in text
