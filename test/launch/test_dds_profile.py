"""The launch file's dds_profile choice (mobilenetv1_ros.ros.dds_profile), without launch or ROS.

Every value (auto, large_frames, none, a path, bad values) against the environments a node is
launched from: nothing set, a profile the user exported, and TROS's hobot_shm launch file, which
sets FASTRTPS_DEFAULT_PROFILES_FILE and RMW_FASTRTPS_USE_QOS_FROM_XML with setdefault.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from shared import CONFIG_DIR

from mobilenetv1_ros.core.errors import ConfigError
from mobilenetv1_ros.ros.dds_profile import (
    KEYWORDS,
    LARGE_FRAMES_FILE,
    PROFILE_ENV,
    QOS_FROM_XML_ENV,
    choose_profile,
    profile_variable,
)

pytestmark = pytest.mark.board

FASTDDS, FASTRTPS = PROFILE_ENV
OURS = CONFIG_DIR / LARGE_FRAMES_FILE


@pytest.fixture
def shm_profile(tmp_path: Path) -> Path:
    """A stand-in for hobot_shm's lib/hobot_shm/config/shm_fastdds.xml."""
    path = tmp_path / 'hobot_shm' / 'lib' / 'hobot_shm' / 'config' / 'shm_fastdds.xml'
    path.parent.mkdir(parents=True)
    path.write_text('<profiles/>\n', encoding='utf-8')
    return path


def hobot_shm_launch(environ: dict[str, str], shm_profile: Path) -> dict[str, str]:
    """The environment after hobot_shm.launch.py's three os.environ.setdefault calls."""
    environ = dict(environ)
    environ.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
    environ.setdefault(FASTRTPS, str(shm_profile))
    environ.setdefault(QOS_FROM_XML_ENV, '1')
    return environ


def test_the_shipped_profile_is_there():
    assert OURS.is_file()
    assert 'shm_large_frames' in OURS.read_text(encoding='utf-8')


@pytest.mark.parametrize(('distro', 'variable'), [
    ('', FASTDDS), ('kilted', FASTDDS), ('rolling', FASTDDS), ('humble', FASTRTPS),
    ('iron', FASTRTPS), ('jazzy', FASTRTPS)])
def test_the_variable_is_the_one_this_distros_fast_dds_reads(distro, variable):
    environ = {'ROS_DISTRO': distro} if distro else {}
    assert profile_variable(environ) == variable


@pytest.mark.parametrize(('distro', 'variable'), [('kilted', FASTDDS), ('humble', FASTRTPS)])
def test_auto_gives_ours_when_no_profile_is_named(distro, variable):
    choice = choose_profile('auto', {'ROS_DISTRO': distro}, OURS)
    assert choice.env == {variable: str(OURS.resolve())}
    assert choice.profile == str(OURS.resolve())
    assert choice.description == f'dds_profile auto: the node reads {OURS.resolve()}'


def test_auto_counts_an_empty_variable_as_unset():
    choice = choose_profile('auto', {FASTDDS: '', FASTRTPS: ''}, OURS)
    assert choice.env == {FASTDDS: str(OURS.resolve())}


def test_auto_keeps_hobot_shms_profile(shm_profile):
    environ = hobot_shm_launch({'ROS_DISTRO': 'humble'}, shm_profile)
    choice = choose_profile('auto', environ, OURS)
    assert choice.env == {}
    assert choice.profile == str(shm_profile)
    assert 'kept' in choice.description
    assert f'inherits {FASTRTPS}={shm_profile}' in choice.description


def test_auto_keeps_the_users_exported_profile_over_hobot_shm(tmp_path, shm_profile):
    """Exported before the launch: hobot_shm's setdefault keeps it, and so does auto."""
    mine = tmp_path / 'mine.xml'
    mine.write_text('<profiles/>\n', encoding='utf-8')
    environ = hobot_shm_launch({'ROS_DISTRO': 'humble', FASTRTPS: str(mine)}, shm_profile)
    choice = choose_profile('auto', environ, OURS)
    assert choice.env == {}
    assert choice.profile == str(mine)


@pytest.mark.parametrize('variable', PROFILE_ENV)
def test_auto_keeps_any_profile_the_environment_names(tmp_path, variable):
    mine = tmp_path / 'mine.xml'
    mine.write_text('<profiles/>\n', encoding='utf-8')
    choice = choose_profile('auto', {'ROS_DISTRO': 'kilted', variable: str(mine)}, OURS)
    assert choice.env == {}
    assert choice.profile == str(mine)
    assert f'{variable}={mine}' in choice.description


def test_auto_says_when_the_kept_profile_is_missing(tmp_path):
    missing = tmp_path / 'gone.xml'
    choice = choose_profile('auto', {FASTDDS: str(missing)}, OURS)
    assert choice.env == {}
    assert 'does not exist' in choice.description and str(missing) in choice.description


def test_large_frames_replaces_hobot_shms_profile_and_its_xml_qos(shm_profile):
    environ = hobot_shm_launch({'ROS_DISTRO': 'humble'}, shm_profile)
    choice = choose_profile('large_frames', environ, OURS)
    assert choice.env == {FASTRTPS: str(OURS.resolve()), QOS_FROM_XML_ENV: '0'}
    assert f'instead of {FASTRTPS}={shm_profile}' in choice.description
    assert f'{QOS_FROM_XML_ENV}=0' in choice.description


def test_large_frames_points_every_named_variable_at_ours(tmp_path):
    other = tmp_path / 'other.xml'
    other.write_text('<profiles/>\n', encoding='utf-8')
    environ = {'ROS_DISTRO': 'kilted', FASTDDS: str(other), FASTRTPS: str(other)}
    choice = choose_profile('large_frames', environ, OURS)
    assert choice.env == {FASTDDS: str(OURS.resolve()), FASTRTPS: str(OURS.resolve())}


def test_large_frames_leaves_a_zero_qos_variable_alone():
    choice = choose_profile('large_frames', {QOS_FROM_XML_ENV: '0'}, OURS)
    assert QOS_FROM_XML_ENV not in choice.env


def test_large_frames_that_is_not_installed_is_an_error(tmp_path):
    missing = tmp_path / 'share' / LARGE_FRAMES_FILE
    for value in ('large_frames', 'auto'):
        with pytest.raises(ConfigError, match=f'dds_profile {value}: .*{missing}'):
            choose_profile(value, {}, missing)


@pytest.mark.parametrize('named', [False, True])
def test_none_leaves_the_environment_alone(shm_profile, named):
    environ = hobot_shm_launch({'ROS_DISTRO': 'humble'}, shm_profile) if named else {}
    choice = choose_profile('none', environ, OURS)
    assert choice.env == {}
    assert choice.profile == (str(shm_profile) if named else None)
    assert choice.description.startswith('dds_profile none: no profile of ours')
    assert ('RMW defaults' in choice.description) != named


def test_a_path_replaces_the_environments_profile_and_keeps_its_xml_qos(tmp_path, shm_profile,
                                                                         monkeypatch):
    mine = tmp_path / 'robot' / 'mine.xml'
    mine.parent.mkdir()
    mine.write_text('<profiles/>\n', encoding='utf-8')
    monkeypatch.chdir(mine.parent)
    environ = hobot_shm_launch({'ROS_DISTRO': 'humble'}, shm_profile)
    choice = choose_profile('mine.xml', environ, OURS)  # relative to the launch's directory
    assert choice.env == {FASTRTPS: str(mine)}  # the XML's QoS setting is the user's
    assert choice.profile == str(mine)
    assert f'instead of {FASTRTPS}={shm_profile}' in choice.description


def test_a_path_to_the_shipped_profile_is_ours(shm_profile):
    environ = hobot_shm_launch({'ROS_DISTRO': 'humble'}, shm_profile)
    assert choose_profile(str(OURS), environ, OURS).env[QOS_FROM_XML_ENV] == '0'


def test_a_path_with_a_tilde_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    (tmp_path / 'mine.xml').write_text('<profiles/>\n', encoding='utf-8')
    assert choose_profile('~/mine.xml', {}, OURS).profile == str(tmp_path / 'mine.xml')


@pytest.mark.parametrize('value', ['large-frames', 'Auto', 'none ', '', '/no/such/profile.xml',
                                   'relative/missing.xml', '.'])
def test_a_bad_value_is_an_error_naming_it(value):
    if value == 'none ':  # surrounding blanks are ignored, like a shell would
        assert choose_profile(value, {}, OURS).env == {}
        return
    with pytest.raises(ConfigError) as error:
        choose_profile(value, {}, OURS)
    assert repr(value.strip()) in str(error.value)
    assert all(keyword in str(error.value) for keyword in KEYWORDS)


def test_the_choice_reads_only_the_environment_it_is_given(monkeypatch, shm_profile):
    monkeypatch.setenv(FASTRTPS, str(shm_profile))
    assert choose_profile('auto', {}, OURS).env == {FASTDDS: str(OURS.resolve())}
    assert os.environ[FASTRTPS] == str(shm_profile)
