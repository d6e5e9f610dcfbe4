"""The ROS 2 side of mobilenetv1_ros: parameters, QoS, message conversion, statistics.

`latest_frame`, `stats` and `params` are plain Python (no rclpy); `convert`, `qos` and `client`
import ROS message packages and rclpy. The node itself is `mobilenetv1_ros.node`.
"""
