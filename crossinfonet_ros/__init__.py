"""CrossInfoNet depth hand-pose estimation: ROS-free runtime library and ROS 2 node."""

# The generated messages (crossinfonet_ros.msg) live in the colcon install, the hand-written
# modules may be imported from a source checkout: let both portions form one package.
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)

__version__ = '0.1.0'
