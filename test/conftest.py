"""Test-session environment: an isolated ROS domain on loopback, and the DDS profile."""

import ast
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Every test session gets its own DDS domain so parallel sessions (and a developer's running
# nodes) never see each other; child processes inherit it. Domain ids 0-101 are safe with the
# default port mapping.
os.environ.setdefault('ROS_DOMAIN_ID', str(20 + os.getpid() % 80))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
_profile = ROOT / 'config' / 'fastdds_profile.xml'
if _profile.exists():
    os.environ.setdefault('FASTRTPS_DEFAULT_PROFILES_FILE', str(_profile))
    os.environ.setdefault('FASTDDS_DEFAULT_PROFILES_FILE', str(_profile))


def installed_prefix() -> Path:
    """Install prefix of the crossinfonet_ros package in the colcon workspace."""
    prefix = os.environ.get('CROSSINFONET_INSTALL')
    if not prefix:
        pytest.fail('CROSSINFONET_INSTALL is not set: run the tests with `make test` '
                    '(or `source scripts/env.sh` first)')
    return Path(prefix) / 'crossinfonet_ros'


@pytest.fixture(scope='session')
def trained_weights() -> Path:
    """The shipped trained weights (committed in the repository): for tests whose check needs a
    network that can tell a hand from other objects (the detector's candidate choice)."""
    path = Path(__file__).resolve().parent.parent / 'crossinfonet_ros' / 'weights' / \
        'hands2017_synth.safetensors'
    if not path.is_file():
        pytest.fail(f'the shipped weights are missing: {path}')
    return path


@pytest.fixture(scope='session')
def weights(tmp_path_factory):
    """A random-init weights file and a model cache shared by the session.

    One ONNX export per session: the backends cache their artefacts keyed by the file's content.
    """
    from crossinfonet_ros.backends import cache
    from crossinfonet_ros.backends.probe import random_weights
    base = tmp_path_factory.getbasetemp() / 'crossinfonet-shared'
    path = base / 'random.safetensors'
    if not path.exists():
        random_weights(path, seed=11)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(cache.CACHE_ENV, str(base / 'cache'))
        yield path


@pytest.fixture
def cpu_without_vnni(tmp_path, monkeypatch):
    """The CPU flags read by crossinfonet_ros.cpus are those of an AVX2 CPU without VNNI (a
    cpuinfo file named by the environment), wherever the test runs."""
    from crossinfonet_ros.cpus import CPUINFO_ENV
    path = tmp_path / 'cpuinfo-avx2'
    path.write_text('processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n')
    monkeypatch.setenv(CPUINFO_ENV, str(path))
    return path


@pytest.fixture(autouse=True)
def _no_leftover_processes():
    """After each test: stop any node or camera process it started and left running (a failed
    assertion before its own stop), so it cannot answer the next tests' frames."""
    yield
    from node_process import stop_leftovers
    stop_leftovers()


@pytest.fixture(scope='session')
def ros2_tools():
    """The ``ros2`` CLI and launch (test/ros2_tools.py), built once per distro from ../shared
    when no ROS 2 install provides them; skipped with the reason on a clone without ../shared.
    Stops the CLI's daemon at the end."""
    from ros2_tools import prepare, ToolsUnavailable
    try:
        tools = prepare()
    except ToolsUnavailable as error:
        pytest.skip(str(error))
    yield tools
    tools.stop_daemon()


# What a test module must import (anywhere in it) to depend on the ROS 2 distro: rclpy, message
# packages, the node, launch or the helpers that start the installed node. `make test` runs
# every test on the first distro and only these (marker `ros`) on the others: the rest is the
# same Python code over the same wheels.
DISTRO_MODULES = ('rclpy', 'rcl_interfaces', 'sensor_msgs', 'geometry_msgs', 'std_msgs',
                  'visualization_msgs', 'diagnostic_msgs', 'tf2_msgs', 'builtin_interfaces',
                  'lifecycle_msgs', 'rosbag2_py', 'launch', 'launch_ros', 'ros2cli',
                  'crossinfonet_ros.node', 'crossinfonet_ros.msg', 'node_process',
                  'ros2_tools', 'fuzz_messages')


def imports_distro(path: Path) -> bool:
    """Whether the module at ``path`` imports one of :data:`DISTRO_MODULES`."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        else:
            continue
        if any(name == m or name.startswith(m + '.') for name in names for m in DISTRO_MODULES):
            return True
    return False


def pytest_collection_modifyitems(config, items):
    """Mark `ros` every test of a module that imports the distro (:func:`imports_distro`) and
    marks none of its tests `ros` itself, and every test of the ``ros2`` CLI."""
    modules = {}
    for item in items:
        modules.setdefault(Path(str(item.fspath)), []).append(item)
    for path, tests in modules.items():
        chosen = any(test.get_closest_marker('ros') for test in tests)
        whole = not chosen and imports_distro(path)
        for test in tests:
            if whole or 'ros2_tools' in getattr(test, 'fixturenames', ()):
                test.add_marker(pytest.mark.ros)


class CountingEstimator:
    """A real estimator, with the size of every batch it is given recorded."""

    def __init__(self, estimator):
        self._estimator, self.batches = estimator, []

    def __getattr__(self, name):
        return getattr(self._estimator, name)

    def estimate(self, crops, *args, **kwargs):
        self.batches.append(len(crops))
        return self._estimator.estimate(crops, *args, **kwargs)
