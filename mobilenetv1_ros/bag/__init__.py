"""Rosbag2 tools: offline classification of bags, replay into a live graph, recording, samples.

Reading and writing bags needs only rosbags and the core (no ROS install, no DDS); the player
and the recorder (`player`, `recorder`) import rclpy when they are used.
"""
