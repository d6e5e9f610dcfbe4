"""Which Fast DDS XML profile this process and the nodes it starts use.

Fast DDS reads the profile file named in its environment once, when a process creates its first
participant; a child process started afterwards inherits the variable. Pure Python: call
use_profile() before the peer's participant exists, and give the node's process the environment
node_environ() makes (each side can have a profile of its own, or none: NO_PROFILE).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Union

from mobilenetv1_ros.core.errors import ConfigError
from mobilenetv1_ros.ros.dds_profile import PROFILE_ENV, profile_variable

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = ['NO_PROFILE', 'PROFILE_ENV', 'ProfileSetting', 'check_profile', 'node_environ',
           'profile_in_use', 'use_profile']

#: A side's setting meaning no profile at all: Fast DDS's built-in transports.
NO_PROFILE: Literal['none'] = 'none'
#: A process's profile: an XML file, NO_PROFILE, or None (the environment's, unchanged).
ProfileSetting = Union[Path, Literal['none'], None]


def check_profile(profile: ProfileSetting) -> None:
    """Raise ConfigError when the setting names a file that does not exist."""
    if isinstance(profile, Path) and not profile.is_file():
        raise ConfigError(f'Fast DDS profile {profile} does not exist')


def _profile_values(profile: Path | Literal['none'], environ: Mapping[str, str]) -> dict[str, str]:
    """Return the profile variables for a file, or none of them for NO_PROFILE."""
    if profile == NO_PROFILE:
        return {}
    return {profile_variable(environ): str(Path(profile).resolve())}


def node_environ(profile: ProfileSetting, inherited: Mapping[str, str],
                 environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment of a child process with a profile setting of its own.

    Args:
        profile: The child's setting; None: the profile variables of `inherited`.
        inherited: The environment whose profile variables None keeps (e.g. this process's as
            it was before use_profile() changed it for the camera side).
        environ: The rest of the child's environment; None: this process's, now.

    Raises:
        ConfigError: The profile file does not exist.
    """
    check_profile(profile)
    child = {name: value for name, value in (os.environ if environ is None else environ).items()
             if name not in PROFILE_ENV}
    if profile is None:
        child.update({name: inherited[name] for name in PROFILE_ENV if inherited.get(name)})
    else:
        child.update(_profile_values(profile, child))
    return child


@contextlib.contextmanager
def use_profile(profile: ProfileSetting) -> Iterator[None]:
    """Set this process's Fast DDS profile for the block, then restore the environment.

    Args:
        profile: The XML profile file; NO_PROFILE: none (Fast DDS's built-in transports); None
            leaves the environment's choice alone.

    Raises:
        ConfigError: The profile file does not exist.
    """
    if profile is None:
        yield
        return
    check_profile(profile)
    saved = {name: os.environ.get(name) for name in PROFILE_ENV}
    for name in PROFILE_ENV:
        os.environ.pop(name, None)
    os.environ.update(_profile_values(profile, os.environ))
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
