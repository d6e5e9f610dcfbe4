"""The load tool's Fast DDS profile per side (camera, node) and its overlay viewer.

The settings, the node's environment and the camera's (harness.fastdds) without ROS; one short
real run with the node on the RMW defaults, the camera on the loopback profile, and the overlay
viewed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from shared import REPO_ROOT

from mobilenetv1_ros.cli.load import add_arguments
from mobilenetv1_ros.core.errors import ConfigError
from mobilenetv1_ros.harness.fastdds import (NO_PROFILE, PROFILE_ENV, node_environ,
                                             profile_in_use, use_profile)
from mobilenetv1_ros.perf.load_settings import LoadSettings
from mobilenetv1_ros.perf.load_text import format_report

PROFILE = REPO_ROOT / 'scripts' / 'fastdds_loopback.xml'
FASTDDS, FASTRTPS = PROFILE_ENV


@pytest.mark.board
@pytest.mark.parametrize(('both', 'camera', 'node', 'expected'), [
    (None, None, None, (None, None)),
    (PROFILE, None, None, (PROFILE, PROFILE)),
    (PROFILE, NO_PROFILE, None, (NO_PROFILE, PROFILE)),
    (None, PROFILE, NO_PROFILE, (PROFILE, NO_PROFILE)),
    (NO_PROFILE, None, PROFILE, (NO_PROFILE, PROFILE)),
])
def test_each_side_takes_its_own_setting_over_the_shared_one(both, camera, node, expected):
    settings = LoadSettings(dds_profile=both, camera_dds_profile=camera, node_dds_profile=node)
    assert (settings.camera_profile, settings.node_profile) == expected


@pytest.mark.board
def test_a_running_node_cannot_get_a_profile():
    settings = LoadSettings(node_pid=4242, topic='/image_raw', node_dds_profile=PROFILE)
    with pytest.raises(ConfigError, match=f'--node-dds-profile {PROFILE}.* 4242'):
        settings.check()


@pytest.mark.board
def test_the_options_parse_none_and_paths():
    import argparse
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(['--dds-profile', 'none', '--node-dds-profile', str(PROFILE),
                              '--overlay'])
    assert args.dds_profile == NO_PROFILE and args.camera_dds_profile is None
    assert args.node_dds_profile == PROFILE and args.overlay
    assert not parser.parse_args([]).overlay


@pytest.mark.board
def test_the_node_environment_per_setting(tmp_path):
    other = tmp_path / 'other.xml'
    other.write_text('<profiles/>\n', encoding='utf-8')
    base = {'PATH': '/bin', 'ROS_DOMAIN_ID': '84', FASTDDS: str(other)}
    inherited = {FASTRTPS: '/inherited.xml', 'PATH': '/elsewhere'}
    # None: the profile variables of the inherited environment, the rest of this one
    assert node_environ(None, inherited, base) == {'PATH': '/bin', 'ROS_DOMAIN_ID': '84',
                                                   FASTRTPS: '/inherited.xml'}
    assert node_environ(NO_PROFILE, inherited, base) == {'PATH': '/bin', 'ROS_DOMAIN_ID': '84'}
    assert node_environ(PROFILE, inherited, base)[FASTDDS] == str(PROFILE.resolve())
    humble = {**base, 'ROS_DISTRO': 'humble'}
    child = node_environ(PROFILE, inherited, humble)
    assert child[FASTRTPS] == str(PROFILE.resolve()) and FASTDDS not in child
    with pytest.raises(ConfigError, match='missing.xml'):
        node_environ(tmp_path / 'missing.xml', inherited, base)


@pytest.mark.board
def test_no_profile_clears_this_process_for_the_block_and_restores_it(monkeypatch):
    monkeypatch.setenv(FASTDDS, str(PROFILE))
    monkeypatch.setenv(FASTRTPS, '/old.xml')
    with use_profile(NO_PROFILE):
        assert FASTDDS not in os.environ and FASTRTPS not in os.environ
        assert profile_in_use() == 'RMW defaults'
    assert os.environ[FASTDDS] == str(PROFILE) and os.environ[FASTRTPS] == '/old.xml'


def test_camera_and_node_profiles_apart_and_the_overlay_viewed(node_env, tmp_path: Path):
    pytest.importorskip('rclpy')
    command = [sys.executable, '-m', 'mobilenetv1_ros', 'load', '--size', '320x240',
               '--encoding', 'bgr8', '--fps', '10', '--duration', '2', '--interval', '1',
               '--warmup', '1', '--camera-dds-profile', str(PROFILE), '--node-dds-profile',
               'none', '--overlay', '--json']
    done = subprocess.run(command, env=node_env, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip(), done.stderr
    report = json.loads(done.stdout)
    assert report['dds_profiles'] == {'camera': f'Fast DDS profile {PROFILE}',
                                      'node': 'RMW defaults'}
    assert report['dds_profile'] == f'camera Fast DDS profile {PROFILE}, node RMW defaults'
    assert report['settings']['node_dds_profile'] == 'none'
    overlay = report['overlay']
    assert overlay['published'] >= 1 and 1 <= overlay['received'] <= overlay['published'] + 2
    assert overlay['bytes'] == 320 * 240 * 3
    assert overlay['age_ms']['p50'] > 0
    assert 'overlay viewer: received' in format_report(report)
    assert report['node']['exit_code'] == 0
