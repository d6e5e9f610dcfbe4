"""The ROS layer's tests: they need rclpy and the message packages of the ROS environment.

Where rclpy does not import (a pip install without ROS), every module here is reported as
skipped with the import error instead of failing to import.
"""

from __future__ import annotations

from shared import skip_modules_without

pytest_pycollect_makemodule = skip_modules_without('rclpy')
