"""Evaluation and benchmarking: accuracy on labeled images, latency, throughput, peers.

Everything here runs the core pipeline (mobilenetv1_ros.core) the node runs, so a number
measured by these tools holds for the node. Only perf.endtoend imports rclpy, and only when
the node's end-to-end latency is measured.
"""

from __future__ import annotations

__all__: list[str] = []
