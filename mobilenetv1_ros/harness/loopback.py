"""Keep the DDS traffic of the project's tools, demo and tests on this machine's loopback.

Pure Python (never imports rclpy): call isolate_ros() before rclpy is imported.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path
from typing import IO

from mobilenetv1_ros.core.errors import ConfigError

__all__ = ['isolate_ros', 'reserve_domain_id']

_held_locks: list[IO[str]] = []


def reserve_domain_id() -> int:
    """Lock a ROS domain id in 1..100 that no other run of ours holds, for this process's life.

    The lock files (in the temp directory) are shared with scripts/test.sh and scripts/demo.sh.
    """
    start = os.getpid() % 100
    for offset in range(100):
        domain_id = (start + offset) % 100 + 1
        path = Path(tempfile.gettempdir()) / f'mobilenetv1_ros-ros-domain-{domain_id}.lock'
        handle = path.open('w')
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _held_locks.append(handle)
        return domain_id
    raise ConfigError('No free ROS_DOMAIN_ID in 1..100: 100 runs of this project hold one')


def isolate_ros(prefix: str = 'mobilenetv1_ros') -> Path | None:
    """Confine DDS to loopback in this process (before rclpy loads) and its children.

    Sets ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST and ROS_LOCALHOST_ONLY=1, drops static peers,
    and reserves a ROS_DOMAIN_ID and creates a ROS_HOME unless they are set already.

    Returns:
        The temporary ROS_HOME created here (to remove afterwards), or None when set already.
    """
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    os.environ['ROS_LOCALHOST_ONLY'] = '1'
    os.environ.pop('ROS_STATIC_PEERS', None)
    if not os.environ.get('ROS_DOMAIN_ID'):
        os.environ['ROS_DOMAIN_ID'] = str(reserve_domain_id())
    created = None
    if not os.environ.get('ROS_HOME'):
        created = Path(tempfile.mkdtemp(prefix=f'{prefix}-ros-home.'))
        os.environ['ROS_HOME'] = str(created)
    os.environ.setdefault('ROS_LOG_DIR', str(Path(os.environ['ROS_HOME']) / 'log'))
    return created
