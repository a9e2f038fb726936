# Put this checkout's built environment into the current shell: the venv, the colcon workspace
# overlay and the ROS 2 wheels' library paths. Usage: `source scripts/env.sh` (after
# scripts/setup.sh, which `make demo` / `make test` run for you).
# shellcheck shell=bash

_crossinfonet_env() {
  local here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  # shellcheck source=scripts/paths.sh
  source "$here/paths.sh"
  if [ ! -x "$CROSSINFONET_VENV/bin/python" ] || [ ! -f "$CROSSINFONET_INSTALL/setup.sh" ]; then
    echo "crossinfonet_ros: not set up yet, run scripts/setup.sh (or make test) first" >&2
    return 1
  fi
  export VIRTUAL_ENV="$CROSSINFONET_VENV"
  export PATH="$CROSSINFONET_VENV/bin:$PATH"
  if [ "$CROSSINFONET_MODE" = wheels ]; then
    # The wheels' shared libraries and ament index live in the venv (ENVIRONMENT.md quirks 1-2).
    export AMENT_PREFIX_PATH="$CROSSINFONET_VENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
    export CMAKE_PREFIX_PATH="$CROSSINFONET_VENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
    LD_LIBRARY_PATH=$("$CROSSINFONET_VENV/bin/python" -c \
      'import os; print(os.environ.get("LD_LIBRARY_PATH", ""))')
    export LD_LIBRARY_PATH
    export ROS_DISTRO="$CROSSINFONET_DISTRO" ROS_VERSION=2
  fi
  # colcon's setup.sh reads its own location from this variable when sourced from a script.
  COLCON_CURRENT_PREFIX="$CROSSINFONET_INSTALL" . "$CROSSINFONET_INSTALL/setup.sh"
  # Everything this project runs talks over loopback unless the user says otherwise.
  export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
  export CROSSINFONET_ROOT CROSSINFONET_MODE CROSSINFONET_DISTRO CROSSINFONET_VENV
  export CROSSINFONET_INSTALL
}
_crossinfonet_env
_crossinfonet_rc=$?
unset -f _crossinfonet_env
# Sourced: report failure without closing the user's shell.
return $_crossinfonet_rc 2>/dev/null || exit $_crossinfonet_rc
