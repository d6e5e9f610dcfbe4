"""harness.process: starting, watching and stopping a node child process (real processes).

The children here are small Python programs that behave like a node that hangs, one that stops
cleanly and one that dies at start, so each path of NodeProcess and wait_for_subscription runs.
"""

from __future__ import annotations

import signal
import sys
import textwrap
from pathlib import Path

import pytest

from mobilenetv1_ros.core.errors import ConfigError
from mobilenetv1_ros.harness.process import LogSummary, NodeProcess, node_command

#: Logs like a node, then ignores SIGINT until killed; SIGUSR1 dumps its stacks (as the node).
HANGING = textwrap.dedent("""
    import faulthandler, signal, sys, time
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    print('[INFO] [1.0] [node]: up')
    print('[WARN] [1.0] [node]: slow')
    print('[ERROR] [1.0] [node]: bad', flush=True)
    try:
        raise ValueError('shown')
    except ValueError:
        import traceback
        traceback.print_exc()
    sys.stderr.flush()
    print('ready', flush=True)
    while True:
        time.sleep(0.1)
""")
#: Stops with exit code 0 on SIGINT (even when started with SIGINT ignored, as a background job
#: of a script is, and as the node also arranges for itself).
CLEAN = textwrap.dedent("""
    import signal, sys, time
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print('ready', flush=True)
    try:
        while True:
            time.sleep(0.05)
    except KeyboardInterrupt:
        sys.exit(0)
""")


def _wait_ready(process: NodeProcess) -> None:
    for _ in range(600):
        if 'ready' in process.log():
            return
        assert process.wait(0.05) is None, process.log()
    raise AssertionError(f'the child did not start: {process.log()}')


def test_a_hanging_node_gets_a_stack_dump_then_sigkill(tmp_path: Path) -> None:
    process = NodeProcess([sys.executable, '-c', HANGING], tmp_path / 'node.log')
    _wait_ready(process)
    assert process.running() and process.returncode is None
    assert process.stop(signal.SIGINT, timeout=0.5) == -signal.SIGKILL
    assert process.alive_at_stop is True and not process.running()
    log = process.log()
    assert 'most recent call first' in log  # faulthandler's dump of every thread
    assert process.summary() == LogSummary(lines=len(log.splitlines()), warning_lines=2,
                                           traceback=True)
    assert process.tail(1) == log.splitlines()[-1]
    assert process.stop() == -signal.SIGKILL  # stopping again reports the same exit


def test_a_clean_node_exits_zero_and_the_context_manager_stops_it(tmp_path: Path) -> None:
    with NodeProcess([sys.executable, '-c', CLEAN], tmp_path / 'node.log') as process:
        _wait_ready(process)
    assert process.returncode == 0 and process.alive_at_stop is True
    assert LogSummary.of(process.log()) == LogSummary(lines=1, warning_lines=0,
                                                      traceback=False)


def test_node_command_runs_a_wrapper_module_with_its_arguments() -> None:
    command = node_command({'top_k': 3, 'publish_overlay': False, 'labels_path': '',
                            'sizes': [1, 2]}, {'image': '/cam'}, namespace='/ns',
                           module='pkg.bench', module_args=['serve', '--slow-ms', '5'],
                           python='py')
    assert command == ['py', '-m', 'pkg.bench', 'serve', '--slow-ms', '5', '--ros-args',
                       '-p', 'top_k:=3', '-p', 'publish_overlay:=false', '-p',
                       "labels_path:=''", '-p', 'sizes:=[1, 2]', '-r', 'image:=/cam', '-r',
                       '__ns:=/ns']


def test_waiting_for_a_node_that_dies_or_never_subscribes_fails_with_its_output(
        tmp_path: Path) -> None:
    pytest.importorskip('rclpy')
    from mobilenetv1_ros.harness.peer import ClassifierPeer
    from mobilenetv1_ros.harness.process import wait_for_subscription

    with ClassifierPeer('/node_process_test/image', name='node_process_camera') as peer:
        dying = NodeProcess([sys.executable, '-c', 'print("no model here"); raise SystemExit(3)'],
                            tmp_path / 'dying.log')
        with pytest.raises(ConfigError, match=r'exited with code 3 .*no model here'):
            wait_for_subscription(peer, dying, 30.0)
        with NodeProcess([sys.executable, '-c', CLEAN], tmp_path / 'idle.log') as idle, \
                pytest.raises(ConfigError, match='did not subscribe to '
                                                 '/node_process_test/image within 1.5 s'):
            wait_for_subscription(peer, idle, 1.5)
