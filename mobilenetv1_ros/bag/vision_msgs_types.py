"""The vision_msgs message definitions the bag tools register with rosbags.

A ROS install has vision_msgs from apt; the pip environment builds pip_env/vision_msgs. Neither
is needed to read or write bags: rosbags serializes any type registered from its .msg text, so
the package carries the definitions it writes. Field names and types equal upstream
vision_msgs 4.1.1 (the RIHS01 type hashes in VISION_MSGS_RIHS01 are checked by the tests).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ['VISION_MSGS', 'VISION_MSGS_RIHS01']

CLASSIFICATION = """\
std_msgs/Header header
ObjectHypothesis[] results
"""

OBJECT_HYPOTHESIS = """\
string class_id
float64 score
"""

VISION_INFO = """\
std_msgs/Header header
string method
string database_location
int32 database_version
"""

VISION_CLASS = """\
uint16 UNLABELED=65535
uint16 class_id
string class_name
"""

LABEL_INFO = """\
std_msgs/Header header
VisionClass[] class_map
float32 threshold
"""

#: Full type name -> .msg text (fields and constants only).
VISION_MSGS: Mapping[str, str] = {
    'vision_msgs/msg/Classification': CLASSIFICATION,
    'vision_msgs/msg/ObjectHypothesis': OBJECT_HYPOTHESIS,
    'vision_msgs/msg/VisionInfo': VISION_INFO,
    'vision_msgs/msg/VisionClass': VISION_CLASS,
    'vision_msgs/msg/LabelInfo': LABEL_INFO,
}

#: The type hashes of upstream vision_msgs 4.1.1 (what Jazzy and newer compare).
VISION_MSGS_RIHS01: Mapping[str, str] = {
    'vision_msgs/msg/ObjectHypothesis':
        'RIHS01_51da43cec11c01957a64d1e05a24acd18aae7745ec30b74348ad5f6d634f7f90',
    'vision_msgs/msg/Classification':
        'RIHS01_f74db28d0eaef3afb78f48bf2161cd709a1383a0309d3454383b25be11345143',
    'vision_msgs/msg/VisionInfo':
        'RIHS01_95d3116a17484ad91c9a2686e1d54890bbfc3ff6c6a2de137738c4950d45d284',
    'vision_msgs/msg/VisionClass':
        'RIHS01_1e4a11f0fed50b5623cb8ff26ca0e37952a48a9c074d16f804b44e9164c2037a',
    'vision_msgs/msg/LabelInfo':
        'RIHS01_3d37df4015cdf660cc851c51897f2acd957e1ca6205ba0a99aebffb9406b0783',
}
