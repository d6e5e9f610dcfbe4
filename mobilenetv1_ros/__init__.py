"""MobileNetV1 image classification for ROS 2 (RDK X5 BPU and CPU)."""

__version__ = '0.1.0'
