"""The ROS 2 edge: the hand_pose_node and what only it needs (parameters, statistics, message
conversion, TF, weights watching). The only part of the package that imports rclpy or ROS
messages; everything above it in crossinfonet_ros is ROS-free.

``HandPoseNode`` and ``main`` are imported on first use, so ``crossinfonet_ros.node.params`` and
the other ROS-free helpers here load without rclpy.
"""

__all__ = ['HandPoseNode', 'main']


def __getattr__(name):
    if name in __all__:
        from crossinfonet_ros.node import hand_pose_node
        return getattr(hand_pose_node, name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
