"""scripts/paths.sh picks system mode exactly when a sourced ROS 2 install provides rclpy, and
scripts/setup.sh stops with one clear line when that rclpy is not importable by its Python."""

import os
from pathlib import Path
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

# Builds and checks the installed package of this distro.
pytestmark = pytest.mark.ros


def ament_prefix(folder: Path, *packages: str, venv: bool = False) -> Path:
    """An ament prefix whose index lists ``packages`` (a venv when ``venv``)."""
    index = folder / 'share' / 'ament_index' / 'resource_index' / 'packages'
    index.mkdir(parents=True)
    for package in packages:
        (index / package).touch()
    if venv:
        (folder / 'pyvenv.cfg').write_text('home = /usr/bin\n')
    return folder


def mode(*prefixes: Path, distro: str = 'jazzy') -> str:
    env = dict(os.environ, AMENT_PREFIX_PATH=':'.join(map(str, prefixes)), ROS_DISTRO=distro)
    out = subprocess.run(['bash', '-c', 'source scripts/paths.sh && echo "$CROSSINFONET_MODE '
                          '${CROSSINFONET_VENV#$CROSSINFONET_ROOT/}"'], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_a_sourced_ros_install_with_rclpy_means_system_mode(tmp_path):
    system = ament_prefix(tmp_path / 'opt_ros_jazzy', 'rclpy', 'sensor_msgs')
    overlay = ament_prefix(tmp_path / 'overlay', 'my_driver')
    assert mode(overlay, system) == 'system .venv-system-jazzy'
    assert mode(system, distro='kilted') == 'system .venv-system-kilted'


def test_venvs_this_checkout_and_other_prefixes_mean_wheels_mode(tmp_path):
    wheels_venv = ament_prefix(tmp_path / 'other_checkout_venv', 'rclpy', venv=True)
    overlay = ament_prefix(tmp_path / 'overlay', 'my_driver')
    inside = ROOT / 'ws' / 'install' / 'crossinfonet_ros'
    assert mode() == 'wheels .venv'
    assert mode(wheels_venv, overlay, inside, tmp_path / 'missing') == 'wheels .venv'
    assert mode(wheels_venv, distro='kilted') == 'wheels .venv-kilted'


def test_system_mode_with_a_python_that_cannot_import_rclpy_is_one_line(tmp_path):
    system = ament_prefix(tmp_path / 'opt_ros', 'rclpy')
    # This Python without site-packages: no rclpy, whatever is installed.
    python = tmp_path / 'python3'
    python.write_text(f'#!/bin/sh\nexec {sys.executable} -I -S "$@"\n')
    python.chmod(0o755)
    distro = 'setup_mode_test'
    venv = ROOT / f'.venv-system-{distro}'
    env = dict(os.environ, AMENT_PREFIX_PATH=str(system), ROS_DISTRO=distro, PYTHON=str(python))
    try:
        out = subprocess.run(['scripts/setup.sh'], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=60)
        assert not venv.exists()
    finally:
        shutil.rmtree(venv, ignore_errors=True)
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and 'cannot import: set PYTHON' in lines[0], out.stderr
    assert str(python) in lines[0]

