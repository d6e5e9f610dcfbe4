"""Pure-Python classification core: frames to NV12, backends, postprocessing, labels.

Nothing below this package imports rclpy or any ROS message package.
"""
