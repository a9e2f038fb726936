# Where this checkout keeps its venv and colcon workspace; sourced by setup.sh and env.sh.
# Sets CROSSINFONET_{ROOT,MODE,DISTRO,VENV,WS,BUILD,INSTALL}.
# shellcheck shell=bash

CROSSINFONET_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# System mode when a sourced ROS 2 install provides rclpy: an AMENT_PREFIX_PATH entry whose
# ament index holds rclpy (/opt/ros/<distro>, a source build), other than this checkout's
# workspace and other than a venv (the wheels' venv is an ament prefix too, and a shell may
# still hold another checkout's env.sh). Paths compare physically: checkouts behind symlinks.
# Otherwise the ROS 2 wheels go into the venv.
CROSSINFONET_MODE=wheels
_root=$(cd -P "$CROSSINFONET_ROOT" && pwd)
IFS=: read -r -a _prefixes <<<"${AMENT_PREFIX_PATH:-}"
for _prefix in "${_prefixes[@]}"; do
  [ -n "$_prefix" ] && [ -d "$_prefix" ] || continue
  [ -f "$_prefix/pyvenv.cfg" ] && continue
  case "$(cd -P "$_prefix" && pwd)/" in "$_root"/*) continue ;; esac
  [ -f "$_prefix/share/ament_index/resource_index/packages/rclpy" ] && CROSSINFONET_MODE=system
done
unset _root _prefixes _prefix

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
