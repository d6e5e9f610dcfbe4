"""The live bag tools (player, recorder, a bag replayed into the node) need rclpy.

Where rclpy or the vision_msgs interfaces do not import, every module here is reported as
skipped with the import error; the offline tests one directory up still run.
"""

from __future__ import annotations

from shared import skip_modules_without

pytest_pycollect_makemodule = skip_modules_without('rclpy', 'vision_msgs.msg')
