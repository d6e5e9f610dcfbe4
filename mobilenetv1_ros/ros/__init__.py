"""The ROS 2 node and its helpers: parameters, QoS, message conversion, statistics.

`latest_frame` and `stats` are plain Python (no rclpy); the rest import rclpy or ROS message
packages. `mobilenetv1_ros.node` is a shim so that `python -m mobilenetv1_ros.node` runs it.
"""
