"""The Fast DDS profile the launch file gives the classifier node: its `dds_profile` argument.

Plain Python (no rclpy, no launch), so the choice is tested without ROS: launch/classify.launch.py
calls choose_profile() with the launch process's environment and passes the variables it returns
to the node's process only (launch_ros `Node(additional_env=...)`); the launch process and any
other process it starts keep their environment.

Values of `dds_profile`:

- `auto` (default): the package's large-frames profile, unless the environment already names a
  profile (FASTDDS_DEFAULT_PROFILES_FILE or FASTRTPS_DEFAULT_PROFILES_FILE, set by the user or
  by TROS's hobot_shm launch file); then that one is kept, never silently replaced.
- `large_frames`: the package's profile, even over a profile named in the environment.
- `none`: nothing of ours; the node inherits the environment as it is.
- a path: that XML file, even over a profile named in the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mobilenetv1_ros.core.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ['AUTO', 'KEYWORDS', 'LARGE_FRAMES', 'LARGE_FRAMES_FILE', 'NONE', 'PROFILE_ENV',
           'QOS_FROM_XML_ENV', 'ProfileChoice', 'choose_profile', 'profile_variable']

#: Environment variables naming a Fast DDS XML profile file (Fast DDS 3.x, then 2.x: Humble).
PROFILE_ENV = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')
#: rmw_fastrtps takes publication mode and history memory policy from the XML file when '1'.
QOS_FROM_XML_ENV = 'RMW_FASTRTPS_USE_QOS_FROM_XML'
AUTO = 'auto'
LARGE_FRAMES = 'large_frames'
NONE = 'none'
#: The keyword values of dds_profile; anything else is a path to an XML file.
KEYWORDS = (AUTO, LARGE_FRAMES, NONE)
#: The package's large-frames profile, in its share directory's config/.
LARGE_FRAMES_FILE = 'fastdds_large_frames.xml'
#: ROS distributions that ship Fast DDS 2.x (Humble 2.6, Jazzy 2.14), which reads only the old
#: variable name; Fast DDS 3.x (Kilted and newer) renamed it.
_FAST_DDS_2_DISTROS = ('humble', 'iron', 'jazzy')


def profile_variable(environ: Mapping[str, str]) -> str:
    """Return the profile variable the Fast DDS of this environment's ROS_DISTRO reads.

    Fast DDS 2.x (Humble, Iron, Jazzy) reads FASTRTPS_DEFAULT_PROFILES_FILE only; 3.x reads
    FASTDDS_DEFAULT_PROFILES_FILE (the old name is deprecated there).
    """
    return PROFILE_ENV[1] if environ.get('ROS_DISTRO', '') in _FAST_DDS_2_DISTROS \
        else PROFILE_ENV[0]


def _named(environ: Mapping[str, str]) -> dict[str, str]:
    """Return the profile variables set (non-empty) in the environment."""
    return {name: environ[name] for name in PROFILE_ENV if environ.get(name)}


@dataclass(frozen=True)
class ProfileChoice:
    """What the node's process gets.

    Attributes:
        env: Variables to set in the node's environment on top of the inherited ones; empty:
            the node inherits the environment unchanged.
        profile: The XML file the node's Fast DDS reads; None: Fast DDS's built-in defaults.
        description: One line for the launch log: the value, what was chosen and why.
    """

    env: dict[str, str] = field(default_factory=dict)
    profile: str | None = None
    description: str = ''


def _inherited(value: str, environ: Mapping[str, str], why: str) -> ProfileChoice:
    named = _named(environ)
    if not named:
        return ProfileChoice({}, None, f'dds_profile {value}: {why}; no profile variable is '
                                       'set, so the node uses the RMW defaults')
    variable = profile_variable(environ)
    name = variable if variable in named else next(iter(named))
    profile = named[name]
    note = '' if Path(profile).is_file() else \
        ' (the file does not exist: Fast DDS falls back to its defaults)'
    return ProfileChoice({}, profile, f'dds_profile {value}: {why}; the node inherits '
                                      f'{name}={profile}{note}')


def _applied(value: str, environ: Mapping[str, str], profile: Path, ours: bool) -> ProfileChoice:
    path = str(profile.resolve())
    env = {profile_variable(environ): path}
    # A variable that names another file is pointed at ours too, whichever one Fast DDS reads.
    env.update({name: path for name in _named(environ)})
    replaced = ', '.join(f'{name}={old}' for name, old in _named(environ).items()
                         if old != path)
    description = f'dds_profile {value}: the node reads {path}'
    if replaced:
        description += f' (instead of {replaced} from the environment)'
    if ours and environ.get(QOS_FROM_XML_ENV, '0') != '0':
        # Our profile holds transports only: rmw_fastrtps keeps its own QoS defaults.
        env[QOS_FROM_XML_ENV] = '0'
        description += f'; {QOS_FROM_XML_ENV}=0 (the profile holds no QoS)'
    return ProfileChoice(env, path, description)


def choose_profile(value: str, environ: Mapping[str, str], large_frames: Path) -> ProfileChoice:
    """Decide the Fast DDS profile variables of the node's process.

    Args:
        value: The dds_profile launch argument: auto, large_frames, none or an XML file path
            (relative to the launch's working directory).
        environ: The launch process's environment (what the node would inherit).
        large_frames: The installed config/fastdds_large_frames.xml.

    Returns:
        The variables to set for the node, the profile file it reads and a log line.

    Raises:
        ConfigError: The value is empty, or neither a keyword nor an existing file, or the
            large-frames profile it asks for is not installed.
    """
    value = value.strip()
    if value == NONE:
        return _inherited(value, environ, 'no profile of ours')
    if value == AUTO and _named(environ):
        return _inherited(value, environ, 'a profile is already named in the environment '
                                          '(e.g. by TROS hobot_shm), kept')
    if value in (AUTO, LARGE_FRAMES):
        if not large_frames.is_file():
            raise ConfigError(f'dds_profile {value}: the package profile {large_frames} is not '
                              'installed')
        return _applied(value, environ, large_frames, ours=True)
    path = Path(value).expanduser()
    if not value or not path.is_file():
        raise ConfigError(f'dds_profile {value!r} is neither one of {", ".join(KEYWORDS)} nor an '
                          'existing Fast DDS XML file')
    return _applied(value, environ, path, ours=path.resolve() == large_frames.resolve())
