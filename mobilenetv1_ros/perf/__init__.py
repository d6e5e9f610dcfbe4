"""Evaluation and measurement: accuracy, latency, throughput, peers, node load and storms.

Everything here runs the pipeline the node runs (mobilenetv1_ros.core through
mobilenetv1_ros.loading), so a number measured by these tools holds for the node. The parts that
measure a running node drive it through mobilenetv1_ros.harness.
"""
