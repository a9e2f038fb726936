"""The layout promises: a ROS-free runtime library, training/ never installed."""

import ast
import subprocess
import sys

from conftest import ROOT

ROS_MODULES = ('rclpy', 'sensor_msgs', 'geometry_msgs', 'std_msgs', 'visualization_msgs',
               'diagnostic_msgs', 'tf2_msgs', 'tf2_ros', 'builtin_interfaces')
# Modules allowed to import ROS: the node and its ROS-edge helpers.
ROS_EDGE = {'node.py', 'node_params.py', 'ros_convert.py', 'ros_messages.py', 'tf_output.py',
            'diagnostics.py'}


def imported_modules(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split('.')[0]


def test_runtime_library_does_not_import_ros():
    offenders = []
    for path in (ROOT / 'crossinfonet_ros').rglob('*.py'):
        if path.name in ROS_EDGE:
            continue
        found = set(imported_modules(path)) & set(ROS_MODULES)
        if found:
            offenders.append(f'{path.relative_to(ROOT)}: {sorted(found)}')
    assert not offenders, 'ROS imports outside the node: ' + '; '.join(offenders)


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
    from crossinfonet_ros.node_params import PARAMETERS
    readme = (ROOT / 'README.md').read_text()
    yaml_text = (ROOT / 'config' / 'hand.yaml').read_text()
    for name, _, _ in PARAMETERS:
        assert f'| `{name}` |' in readme, f'README parameter table lacks {name}'
        assert f'    {name}:' in yaml_text, f'config/hand.yaml lacks {name}'
