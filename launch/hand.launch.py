"""Start hand_pose_node (and optionally RViz) with the package's parameters.

ros2 launch crossinfonet_ros hand.launch.py depth_image:=/camera/depth/image_rect_raw \\
    camera_info:=/camera/depth/camera_info use_rviz:=true
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import EnvironmentVariable, LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory('crossinfonet_ros')
    params_file = LaunchConfiguration('params_file')
    use_rviz = LaunchConfiguration('use_rviz')
    rviz_config = LaunchConfiguration('rviz_config')
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
        Node(
            package='rviz2',
            executable='rviz2',
            name='rviz2',
            arguments=['-d', rviz_config],
            condition=IfCondition(use_rviz),
            output='screen',
        ),
    ])
