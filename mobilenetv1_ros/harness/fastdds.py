"""Which Fast DDS XML profile this process and the nodes it starts use.

Fast DDS reads the profile file named in its environment once, when a process creates its first
participant; a child process started afterwards inherits the variable. Pure Python: call
use_profile() before the peer's participant exists and before the node is started.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from mobilenetv1_ros.core.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = ['PROFILE_ENV', 'profile_in_use', 'use_profile']

#: Environment variables naming a Fast DDS XML profile file (Fast DDS 3.x, then 2.x: Humble).
PROFILE_ENV = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')
#: ROS distributions that ship Fast DDS 2.x, which reads only the old variable name.
_FAST_DDS_2_DISTROS = ('humble', 'iron')


def _variable(environ: Mapping[str, str]) -> str:
    """Return the variable this Fast DDS reads (3.x warns that the old one is deprecated)."""
    return PROFILE_ENV[1] if environ.get('ROS_DISTRO', '') in _FAST_DDS_2_DISTROS \
        else PROFILE_ENV[0]


@contextlib.contextmanager
def use_profile(profile: Path | None) -> Iterator[None]:
    """Name a Fast DDS profile in this process's environment for the block, then restore it.

    Args:
        profile: The XML profile file; None leaves the environment's choice alone.

    Raises:
        ConfigError: The profile file does not exist.
    """
    if profile is None:
        yield
        return
    if not Path(profile).is_file():
        raise ConfigError(f'Fast DDS profile {profile} does not exist')
    saved = {name: os.environ.get(name) for name in PROFILE_ENV}
    for name in PROFILE_ENV:
        os.environ.pop(name, None)
    os.environ[_variable(os.environ)] = str(Path(profile).resolve())
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def profile_in_use(environ: Mapping[str, str] | None = None) -> str:
    """Describe the profile in force: 'Fast DDS profile <file>' or 'RMW defaults'."""
    environ = os.environ if environ is None else environ
    for name in PROFILE_ENV:
        if environ.get(name):
            return f'Fast DDS profile {environ[name]}'
    return 'RMW defaults'
