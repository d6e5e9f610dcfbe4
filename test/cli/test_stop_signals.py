"""Every long-running command ends on SIGTERM and SIGHUP the way it ends on SIGINT.

systemd, `docker stop` and `timeout` send SIGTERM and a closed terminal SIGHUP: the tool must
stop its child node, print no traceback, and exit 128 + the signal number.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Callable

import pytest
from shared import IMAGES_DIR, REPO_ROOT


def _node_children(pid: int) -> list[int]:
    """Return the pids of the classifier nodes whose parent is `pid`."""
    found = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat', encoding='utf-8') as stream:
                parent = int(stream.read().rsplit(')', 1)[1].split()[1])
            with open(f'/proc/{entry}/cmdline', 'rb') as stream:
                command = stream.read()
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid and b'mobilenetv1_ros.node' in command:
            found.append(int(entry))
    return found


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _stop_with(signum: int, command: list[str], env: dict[str, str],
               ready: Callable[[subprocess.Popen[str]], bool]) -> tuple[int, str]:
    """Start a command, wait until `ready(process)`, send `signum`; return (exit code, stderr)."""
    tool = subprocess.Popen(command, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert ready(tool), 'the command did not get going'
        tool.send_signal(signum)
        _, err = tool.communicate(timeout=60)
    finally:
        if tool.poll() is None:
            tool.kill()
            tool.wait()
    return tool.returncode, err


@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGHUP, signal.SIGINT],
                         ids=lambda s: signal.Signals(s).name)
def test_load_stops_its_node_and_exits_with_the_signal(signum: int, node_env) -> None:
    command = [sys.executable, '-m', 'mobilenetv1_ros', 'load', '--duration', '60',
               '--size', '320x240', '--fps', '10', '--param', 'backend:=onnx',
               '--param', 'num_threads:=1']
    nodes: list[int] = []

    def node_running(tool: subprocess.Popen[str]) -> bool:
        if not _wait_for(lambda: bool(_node_children(tool.pid)), 90):
            return False
        nodes.extend(_node_children(tool.pid))
        time.sleep(3.0)
        return True

    code, err = _stop_with(signum, command, node_env, node_running)
    assert code == 128 + signum, err
    assert 'Traceback' not in err, err
    node = nodes[0]
    assert _wait_for(lambda: not os.path.exists(f'/proc/{node}') or
                     open(f'/proc/{node}/stat').read().rsplit(')', 1)[1].split()[0] == 'Z', 20)


@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGHUP],
                         ids=lambda s: signal.Signals(s).name)
def test_evaluate_ends_on_a_stop_signal_without_a_traceback(signum: int, tmp_path,
                                                             node_env) -> None:
    listing = tmp_path / 'val.txt'
    photos = sorted(IMAGES_DIR.glob('*.jp*g'))
    listing.write_text(''.join(f'{photo} 0\n' for photo in photos * 400))
    command = [sys.executable, '-m', 'mobilenetv1_ros', 'evaluate', str(listing),
               '--models', 'onnx:int8', '--threads', '1']

    def still_running_after_a_while(tool: subprocess.Popen[str]) -> bool:
        time.sleep(8.0)
        return tool.poll() is None

    code, err = _stop_with(signum, command, node_env, still_running_after_a_while)
    assert code == 128 + signum, err
    assert 'Traceback' not in err, err
