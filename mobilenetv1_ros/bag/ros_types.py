"""Bag type names -> rclpy message classes and QoS profiles (imports rclpy; player/recorder)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from mobilenetv1_ros.bag.errors import BagError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rosbags.interfaces import Qos

__all__ = ['message_class', 'qos_from_bag']

_RELIABILITY = {1: ReliabilityPolicy.RELIABLE, 2: ReliabilityPolicy.BEST_EFFORT}
_DURABILITY = {1: DurabilityPolicy.TRANSIENT_LOCAL, 2: DurabilityPolicy.VOLATILE}


def message_class(msgtype: str) -> Any:
    """Return the Python class of a ROS type name such as 'sensor_msgs/msg/Image'.

    Raises:
        BagError: The name is malformed or its package is not installed here.
    """
    package, _, name = msgtype.rpartition('/')
    module_name = package.replace('/', '.')
    if not module_name.endswith('.msg') or not name:
        raise BagError(f'Message type {msgtype!r} is not of the form <package>/msg/<Name>')
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        raise BagError(f'Message type {msgtype} is not installed here (no Python module '
                       f'{module_name}.{name}); source the ROS workspace that provides it') \
            from None


def qos_from_bag(profiles: Sequence[Qos], depth: int = 10) -> QoSProfile:
    """Return a publisher profile from a bag topic's recorded QoS (reliable, volatile if none).

    Like `ros2 bag play`, the first recorded profile's reliability and durability are kept;
    the history is keep-last `depth`.
    """
    reliability, durability = ReliabilityPolicy.RELIABLE, DurabilityPolicy.VOLATILE
    if profiles:
        reliability = _RELIABILITY.get(profiles[0].reliability.value, reliability)
        durability = _DURABILITY.get(profiles[0].durability.value, durability)
    return QoSProfile(depth=depth, history=HistoryPolicy.KEEP_LAST, reliability=reliability,
                      durability=durability)
