"""The doctor's board checks: BPU device access, the model search table, the Fast DDS profile.

Pure Python (no rclpy): device nodes are stand-in files under a temporary device directory, with
real owners, groups and modes; the model search runs over real directories.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest

from mobilenetv1_ros.cli import doctor
from mobilenetv1_ros.core.assets import BOARD_MODEL_DIRS_ENV, BPU_MODEL_NAME, bpu_model_search

#: The doctor runs on the board (`board`: test/conftest.py).
pytestmark = pytest.mark.board


def _nodes(dev: Path, modes: dict[str, int]) -> dict[str, os.stat_result]:
    dev.mkdir(exist_ok=True)
    for name, mode in modes.items():
        (dev / name).touch()
        (dev / name).chmod(mode)
    return {name: (dev / name).stat() for name in modes}


def test_a_user_in_the_nodes_group_can_open_the_bpu(tmp_path: Path) -> None:
    info = _nodes(tmp_path / 'dev', {'bpu': 0o660, 'bpu_core0': 0o660, 'ion': 0o666})
    other = info['bpu'].st_uid + 4242
    check = doctor.check_bpu_device(tmp_path / 'dev', uid=other, gids={info['bpu'].st_gid})
    assert check.ok, check
    assert [Path(row['path']).name for row in check.data['nodes']] == ['bpu', 'bpu_core0', 'ion']
    assert check.data['nodes'][0]['mode'] == '-rw-rw----'
    assert all(row['usable'] for row in check.data['nodes'])


def test_a_user_outside_the_group_is_told_the_group_and_the_udev_fix(tmp_path: Path) -> None:
    info = _nodes(tmp_path / 'dev', {'bpu': 0o660, 'bpu_core0': 0o600, 'ion': 0o666})
    other = info['bpu'].st_uid + 4242
    check = doctor.check_bpu_device(tmp_path / 'dev', uid=other, gids=set())
    assert not check.ok
    usable = {Path(row['path']).name: row['usable'] for row in check.data['nodes']}
    assert usable == {'bpu': False, 'bpu_core0': False, 'ion': True}
    assert f"{tmp_path / 'dev' / 'bpu'} -rw-rw---- group " in check.detail
    assert '(no access)' in check.detail
    group = doctor._group_name(info['bpu'].st_gid)
    assert f'sudo usermod -aG {group} $USER' in check.hint
    assert 'KERNEL=="bpu*|ion"' in check.hint and 'udevadm trigger' in check.hint
    # The owner itself may open what its mode allows, root anything.
    owner = doctor.check_bpu_device(tmp_path / 'dev', uid=info['bpu'].st_uid, gids=set())
    assert owner.ok
    assert doctor.check_bpu_device(tmp_path / 'dev', uid=0, gids=set()).ok


def test_no_bpu_node_is_not_a_board(tmp_path: Path) -> None:
    _nodes(tmp_path / 'dev', {'ion': 0o666})
    check = doctor.check_bpu_device(tmp_path / 'dev')
    assert not check.ok and not check.data['present']
    assert f"no {tmp_path / 'dev'}/bpu or {tmp_path / 'dev'}/bpu_core* here" == check.detail


@pytest.mark.parametrize(('environ', 'ok', 'says'), [
    ({}, True, 'no profile variables set'),
    ({'FASTRTPS_DEFAULT_PROFILES_FILE': '{hobot}', 'RMW_FASTRTPS_USE_QOS_FROM_XML': '1'}, True,
     "TROS's hobot_shm profile"),
    ({'FASTRTPS_DEFAULT_PROFILES_FILE': '{ours}'}, True, 'keeps this profile instead'),
    ({'FASTRTPS_DEFAULT_PROFILES_FILE': '{missing}'}, False, 'names a missing file'),
    ({'ROS_DISTRO': 'humble', 'FASTDDS_DEFAULT_PROFILES_FILE': '{ours}'}, False,
     'reads FASTRTPS_DEFAULT_PROFILES_FILE'),
    ({'ROS_DISTRO': 'jazzy', 'FASTDDS_DEFAULT_PROFILES_FILE': '{ours}'}, False,
     'reads FASTRTPS_DEFAULT_PROFILES_FILE'),
    ({'ROS_DISTRO': 'kilted', 'FASTDDS_DEFAULT_PROFILES_FILE': '{ours}'}, True,
     'keeps this profile instead'),
])
def test_fast_dds_profile_environment(tmp_path: Path, environ: dict[str, str], ok: bool,
                                      says: str) -> None:
    files = {'hobot': tmp_path / 'hobot_shm' / 'shm_fastdds.xml',
             'ours': tmp_path / 'fastdds_large_frames.xml', 'missing': tmp_path / 'gone.xml'}
    for key in ('hobot', 'ours'):
        files[key].parent.mkdir(exist_ok=True)
        files[key].write_text('<profiles/>')
    environ = {name: value.format(**files) for name, value in environ.items()}
    check = doctor.check_fastdds(environ)
    assert check.ok is ok, check
    assert says in check.detail + check.hint
    assert check.data['env']['FASTRTPS_DEFAULT_PROFILES_FILE'] == environ.get(
        'FASTRTPS_DEFAULT_PROFILES_FILE', '')
    for name in ('FASTRTPS_DEFAULT_PROFILES_FILE', 'RMW_FASTRTPS_USE_QOS_FROM_XML'):
        if environ.get(name):
            assert f'{name}={environ[name]}' in check.detail


def test_the_model_search_table_lists_every_path_and_what_is_there(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, no_bpu_runtime: None,
        capsys: pytest.CaptureFixture[str]) -> None:
    board = [tmp_path / 'first', tmp_path / 'second']
    for directory in board:
        directory.mkdir()
    (board[1] / BPU_MODEL_NAME).write_bytes(b'\0' * 64)
    monkeypatch.setenv(BOARD_MODEL_DIRS_ENV, os.pathsep.join(map(str, board)))
    tried = bpu_model_search()
    if any(path.is_file() for path in tried[:-2]):
        pytest.skip('a share directory holds a BPU model, which the search finds first')
    (model,) = [c for c in doctor.check_bpu(None) if c.name == 'bpu model']
    assert model.ok and model.detail.startswith(f'{board[1] / BPU_MODEL_NAME} (64 bytes')
    assert model.data['search'] == [{'path': str(path), 'exists': path.is_file()}
                                    for path in tried]
    assert model.data['search'][-2:] == [
        {'path': str(board[0] / BPU_MODEL_NAME), 'exists': False},
        {'path': str(board[1] / BPU_MODEL_NAME), 'exists': True}]
    assert model.data['found'] == str(board[1] / BPU_MODEL_NAME)
    # The text report prints the table under the check.
    args = argparse.Namespace(json=False, no_topics=True, timeout=1.0, bpu_model=None,
                              dev_dir=str(tmp_path / 'nodev'))
    doctor.run(args)
    out = capsys.readouterr().out
    assert f'absent {board[0] / BPU_MODEL_NAME}' in out
    assert f'found  {board[1] / BPU_MODEL_NAME}' in out
    args.json = True
    doctor.run(args)
    checks = {c['name']: c for c in json.loads(capsys.readouterr().out)['checks']}
    assert checks['bpu device']['data']['present'] is False
    assert checks['bpu model']['data']['found'] == str(board[1] / BPU_MODEL_NAME)
