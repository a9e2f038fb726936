# Where this checkout keeps its venv and colcon workspace; sourced by setup.sh and env.sh.
# Sets CROSSINFONET_{ROOT,MODE,DISTRO,VENV,WS,BUILD,INSTALL}.
# shellcheck shell=bash

CROSSINFONET_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# A sourced ROS 2 install (its setup script sets ROS_VERSION and an AMENT_PREFIX_PATH outside
# this checkout) means system mode; otherwise the ROS 2 wheels go into the venv.
CROSSINFONET_MODE=wheels
if [ "${ROS_VERSION:-}" = 2 ]; then
  IFS=: read -r -a _prefixes <<<"${AMENT_PREFIX_PATH:-}"
  for _prefix in "${_prefixes[@]}"; do
    case "$_prefix" in
      ''|"$CROSSINFONET_ROOT"/*) ;;  # this checkout's own venv or workspace
      *) [ -f "$_prefix/local_setup.sh" ] && CROSSINFONET_MODE=system ;;
    esac
  done
  unset _prefixes _prefix
fi

CROSSINFONET_DISTRO=${ROS_DISTRO:-jazzy}
if [ "$CROSSINFONET_MODE" = system ]; then
  suffix="-system-$CROSSINFONET_DISTRO"
elif [ "$CROSSINFONET_DISTRO" = jazzy ]; then
  suffix=''
else
  suffix="-$CROSSINFONET_DISTRO"
fi
CROSSINFONET_VENV="$CROSSINFONET_ROOT/.venv$suffix"
CROSSINFONET_WS="$CROSSINFONET_ROOT/ws"
CROSSINFONET_BUILD="$CROSSINFONET_WS/build$suffix"
CROSSINFONET_INSTALL="$CROSSINFONET_WS/install$suffix"
unset suffix
