"""Start hand_pose_node (and optionally RViz) with the package's parameters.

ros2 launch crossinfonet_ros hand.launch.py depth_image:=/camera/depth/image_rect_raw \\
    camera_info:=/camera/depth/camera_info use_rviz:=true

RViz gets a copy of ``rviz_config`` whose displays follow ``namespace`` and ``depth_image``
(:mod:`crossinfonet_ros.node.rviz_config`), written to a temporary file for this launch.
"""

import os
from pathlib import Path
import tempfile

from ament_index_python.packages import (PackageNotFoundError, get_package_prefix,
                                         get_package_share_directory)
from launch import LaunchContext, LaunchDescription
from launch.actions import (DeclareLaunchArgument, OpaqueFunction, RegisterEventHandler,
                            SetEnvironmentVariable)
from launch.conditions import IfCondition
from launch.event_handlers import OnShutdown
from launch.logging import get_logger
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node

from crossinfonet_ros.node.rviz_config import displayed_topics, node_namespace, retarget


def start_rviz(context: LaunchContext) -> list:
    """RViz on this launch's topics; a warning instead when rviz2 is not installed."""
    try:
        get_package_prefix('rviz2')
    except PackageNotFoundError:  # launch_ros would fail the whole launch, node included
        distro = os.environ.get('ROS_DISTRO', '<distro>')
        get_logger('hand.launch.py').warning(
            f'use_rviz:=true but rviz2 is not installed (apt install ros-{distro}-rviz2): '
            'starting hand_pose_node without RViz')
        return []
    source = LaunchConfiguration('rviz_config').perform(context)
    try:
        with open(source) as handle:
            template = handle.read()
        namespace = node_namespace(context.launch_configurations.get('ros_namespace', ''),
                                   LaunchConfiguration('namespace').perform(context))
        text = retarget(template, displayed_topics(
            namespace, LaunchConfiguration('depth_image').perform(context)))
    except (OSError, ValueError) as error:
        raise RuntimeError(f'rviz_config {source}: {error}') from None
    fd, path = tempfile.mkstemp(prefix='crossinfonet_hand_', suffix='.rviz')
    with os.fdopen(fd, 'w') as out:
        out.write(text)
    return [
        Node(package='rviz2', executable='rviz2', name='rviz2', arguments=['-d', path],
             output='screen'),
        RegisterEventHandler(OnShutdown(
            on_shutdown=lambda *_: Path(path).unlink(missing_ok=True))),
    ]


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory('crossinfonet_ros')
    params_file = LaunchConfiguration('params_file')
    use_rviz = LaunchConfiguration('use_rviz')
    namespace = LaunchConfiguration('namespace')
    depth_image = LaunchConfiguration('depth_image')
    camera_info = LaunchConfiguration('camera_info')
    profile = os.path.join(share, 'config', 'fastdds_profile.xml')

    return LaunchDescription([
        DeclareLaunchArgument(
            'params_file', default_value=os.path.join(share, 'config', 'hand.yaml'),
            description='YAML file with the hand_pose_node parameters'),
        DeclareLaunchArgument(
            'use_rviz', default_value='false', description='Also start RViz'),
        DeclareLaunchArgument(
            'rviz_config', default_value=os.path.join(share, 'config', 'hand.rviz'),
            description='RViz configuration file'),
        DeclareLaunchArgument(
            'namespace', default_value='', description='Namespace of the node and its topics'),
        DeclareLaunchArgument(
            'depth_image', default_value='depth/image',
            description='Depth image topic (16UC1 in mm or 32FC1 in m)'),
        DeclareLaunchArgument(
            'camera_info', default_value='depth/camera_info',
            description='CameraInfo topic of the depth image'),
        # Large images need a shared-memory transport with big segments; keep a profile the
        # user already chose (config/fastdds_profile.xml explains why).
        SetEnvironmentVariable(
            'FASTRTPS_DEFAULT_PROFILES_FILE',
            EnvironmentVariable('FASTRTPS_DEFAULT_PROFILES_FILE', default_value=profile)),
        SetEnvironmentVariable(
            'FASTDDS_DEFAULT_PROFILES_FILE',
            EnvironmentVariable('FASTDDS_DEFAULT_PROFILES_FILE', default_value=profile)),
        Node(
            package='crossinfonet_ros',
            executable='hand_pose_node',
            name='hand_pose_node',
            namespace=namespace,
            parameters=[params_file],
            remappings=[('depth/image', depth_image), ('depth/camera_info', camera_info)],
            output='screen',
            emulate_tty=True,
        ),
        OpaqueFunction(function=start_rviz, condition=IfCondition(use_rviz)),
    ])
