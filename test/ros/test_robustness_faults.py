"""Faults against the node in its own process: bad files, no BPU runtime, failing inference.

Bad model and labels files, backend bpu without hobot_dnn, a backend failing during inference,
SIGINT and SIGTERM. The failing backend is a real one: the BPU backend on the hobot_dnn test
double (test/doubles), whose `forward` fails the way the board's runtime does while
`STATE.forward_failure` is set. The node runs under a small launcher (LAUNCHER below) that
flips that switch from a file the test writes, calls the node's main() and, after it returns,
records the Python threads still alive, so a thread the node leaks shows up.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from shared import DOUBLES_DIR, REPO_ROOT

from mobilenetv1_ros.core.assets import BOARD_MODEL_DIRS_ENV, CACHE_ENV, bpu_model_search
from mobilenetv1_ros.core.frames import read_image
from mobilenetv1_ros.export import cached_onnx_model
from mobilenetv1_ros.harness.frames import photo_frame
from mobilenetv1_ros.harness.peer import ClassifierPeer, diagnostic_values
from mobilenetv1_ros.harness.process import NodeProcess, node_command
from mobilenetv1_ros.ros.params import NODE_NAME

STARTUP_TIMEOUT = 60.0
RESULT_TIMEOUT = 10.0
BULBUL = 16

#: Runs the node's main() with `argv[3:]` as ROS arguments. While the file argv[2] exists, its
#: content ('system_error', 'runtime_error' or 'none') is the double's forward_failure mode
#: ('-': no switch). After main() returns, writes {code, threads} to argv[1].
LAUNCHER = """
import json, sys, threading, time
from pathlib import Path

report, switch = Path(sys.argv[1]), sys.argv[2]
if switch != '-':
    import hobot_dnn_double

    def follow(path=Path(switch)):
        while True:
            try:
                mode = path.read_text().strip() or None
            except FileNotFoundError:
                mode = None
            hobot_dnn_double.STATE.forward_failure = mode
            time.sleep(0.02)

    threading.Thread(target=follow, name='forward_failure_switch', daemon=True).start()

from mobilenetv1_ros.ros.node import main

code = main(['mobilenetv1_classifier', *sys.argv[3:]])
threads = [t.name for t in threading.enumerate()
           if t is not threading.main_thread() and t.name != 'forward_failure_switch']
report.write_text(json.dumps({'code': code, 'threads': threads}))
sys.exit(code)
"""


def _double():
    sys.path.insert(0, str(DOUBLES_DIR))
    try:
        import hobot_dnn_double
    finally:
        sys.path.remove(str(DOUBLES_DIR))
    return hobot_dnn_double


@pytest.fixture(scope='module')
def board_env(node_env):
    """The node's environment with the hobot_dnn double importable (an RDK X5 stand-in)."""
    return {**node_env, 'PYTHONPATH': os.pathsep.join([str(DOUBLES_DIR), node_env['PYTHONPATH']])}


@pytest.fixture(scope='module')
def double_model(tmp_path_factory):
    path = tmp_path_factory.mktemp('bpu') / 'mobilenetv1_224x224_nv12.bin'
    return _double().write_model_file(path)


@pytest.fixture(scope='module')
def launcher(tmp_path_factory):
    path = tmp_path_factory.mktemp('launcher') / 'launch_node.py'
    path.write_text(LAUNCHER, encoding='utf-8')
    return path


@pytest.fixture(scope='module')
def onnx_model(node_env):
    """The exported CPU model the node runs by default (from the shared test cache)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, node_env[CACHE_ENV])
        return cached_onnx_model('int8')


@pytest.fixture(scope='module')
def photo(images_dir):
    return photo_frame(read_image(images_dir / 'bulbul.JPEG'), 'nv12')


def _launched(launcher, report, switch, parameters, remappings, namespace=''):
    command = node_command(parameters, remappings, namespace=namespace)
    return [sys.executable, str(launcher), str(report), str(switch), *command[3:]]


# ------------------------------------------------------------------- configure faults


@dataclass
class Fault:
    """One broken setting, the file the error must name and what else the log must say."""

    parameters: dict
    named: str
    says: list[str] = field(default_factory=list)
    board: bool = False


def _faults(tmp, onnx_model, double_model):
    garbage = tmp / 'corrupt.onnx'
    garbage.write_bytes(os.urandom(4096))
    truncated = tmp / 'truncated.onnx'
    truncated.write_bytes(onnx_model.read_bytes()[:onnx_model.stat().st_size // 2])
    if os.geteuid() != 0:
        unreadable = tmp / 'unreadable.onnx'
        unreadable.write_bytes(onnx_model.read_bytes())
        unreadable.chmod(0)
    else:  # root reads any file: a directory stands for a model file that cannot be read
        unreadable = tmp / 'directory.onnx'
        unreadable.mkdir()
    short_labels = tmp / 'labels_999.json'
    short_labels.write_text(json.dumps([f'class {i}' for i in range(999)]), encoding='utf-8')
    broken_labels = tmp / 'broken_labels.json'
    broken_labels.write_text('["tench", "goldfish", ', encoding='utf-8')
    corrupt_bin = tmp / 'corrupt.bin'
    corrupt_bin.write_bytes(os.urandom(4096))
    return {
        'missing_onnx': Fault({'backend': 'onnx', 'model_path': str(tmp / 'missing.onnx')},
                              str(tmp / 'missing.onnx'), ['does not exist']),
        'unreadable_onnx': Fault({'backend': 'onnx', 'model_path': str(unreadable)},
                                 str(unreadable)),
        'corrupt_onnx': Fault({'backend': 'onnx', 'model_path': str(garbage)}, str(garbage),
                              ['cannot be loaded']),
        'truncated_onnx': Fault({'backend': 'onnx', 'model_path': str(truncated)},
                                str(truncated), ['cannot be loaded']),
        'labels_do_not_match': Fault({'labels_path': str(short_labels)}, str(short_labels),
                                     ['999 names', '1000 outputs']),
        'labels_corrupt': Fault({'labels_path': str(broken_labels)}, str(broken_labels),
                                ['not valid JSON']),
        'bpu_without_hobot_dnn': Fault({'backend': 'bpu', 'model_path': str(double_model)},
                                       'hobot_dnn', ['backend:=onnx']),
        'bpu_missing_model': Fault({'backend': 'bpu', 'model_path': str(tmp / 'missing.bin')},
                                   str(tmp / 'missing.bin'), ['does not exist'], board=True),
        'bpu_corrupt_model': Fault({'backend': 'bpu', 'model_path': str(corrupt_bin)},
                                   str(corrupt_bin), ['could not be loaded by hobot_dnn'],
                                   board=True),
    }


def test_configure_faults_fail_naming_the_file_and_start_nothing(node_env, board_env, tmp_path,
                                                                  onnx_model, double_model):
    faults = _faults(tmp_path, onnx_model, double_model)
    processes = {
        name: NodeProcess(node_command(fault.parameters, {'image': f'/fault_{name}/image'}),
                          tmp_path / f'{name}.log', board_env if fault.board else node_env,
                          cwd=REPO_ROOT)
        for name, fault in faults.items()}
    try:
        codes = {name: process.wait(STARTUP_TIMEOUT) for name, process in processes.items()}
    finally:
        for process in processes.values():
            process.stop(signal.SIGKILL, timeout=5.0)
    for name, fault in faults.items():
        log = processes[name].log()
        assert codes[name] == 1, f'{name}: exit code {codes[name]}\n{log}'
        failure = [line for line in log.splitlines() if 'Configuring failed' in line]
        assert len(failure) == 1, f'{name}:\n{log}'
        for text in (fault.named, *fault.says):
            assert text in failure[0], f'{name}: {text!r} not in {failure[0]!r}'
        # No half-started node: no backend loaded, no subscription, no traceback.
        assert 'Loaded ' not in log, f'{name}:\n{log}'
        assert 'Subscribed to' not in log, f'{name}:\n{log}'
        assert 'Traceback' not in log, f'{name}:\n{log}'


def test_a_failed_configure_leaves_an_unconfigured_node_with_nothing_created(node_env,
                                                                             tmp_path):
    corrupt = tmp_path / 'corrupt.onnx'
    corrupt.write_bytes(b'\x08\x07' + os.urandom(2048))
    namespace = '/fault_managed'
    with ClassifierPeer(f'{namespace}/image', node_namespace=namespace) as peer:
        process = NodeProcess(node_command({'autostart': False, 'model_path': str(corrupt)},
                                           namespace=namespace),
                              tmp_path / 'node.log', node_env, cwd=REPO_ROOT)
        try:
            assert peer.wait_for(lambda: _state(peer, namespace) == 'unconfigured',
                                 STARTUP_TIMEOUT), process.log()
            assert not peer.change_state(f'{namespace}/{NODE_NAME}', 'configure')
            assert _state(peer, namespace) == 'unconfigured'
            publishers = dict(peer.node.get_publisher_names_and_types_by_node(NODE_NAME,
                                                                              namespace))
            subscriptions = dict(peer.node.get_subscriber_names_and_types_by_node(NODE_NAME,
                                                                                  namespace))
            for topic in ('classification', 'label_info', 'vision_info', 'overlay'):
                assert f'{namespace}/{topic}' not in publishers, publishers
            assert '/diagnostics' not in publishers, publishers
            assert not [topic for topic in subscriptions if 'image' in topic], subscriptions
            assert process.process.poll() is None
        finally:
            code = process.stop(signal.SIGTERM)
        log = process.log()
        assert code == 0, log
        assert log.count('Configuring failed') == 1 and str(corrupt) in log
        assert 'Traceback' not in log


def test_on_a_board_auto_runs_the_bpu_model_the_search_finds(board_env, double_model, photo,
                                                             tmp_path):
    in_share = [path for path in bpu_model_search()[:-1] if path.is_file()]
    if in_share:
        pytest.skip(f'a share directory holds a BPU model ({in_share[0]}); it would come first')
    empty = [tmp_path / 'empty_a', tmp_path / 'empty_b']
    missing = NodeProcess(node_command({'backend': 'bpu'}, {'image': '/fault_search/image'}),
                          tmp_path / 'missing.log',
                          {**board_env, BOARD_MODEL_DIRS_ENV: os.pathsep.join(map(str, empty))},
                          cwd=REPO_ROOT)
    namespace = '/fault_auto'
    with ClassifierPeer(f'{namespace}/image', node_namespace=namespace) as peer:
        process = NodeProcess(node_command({'reliability': 'reliable'}, {'image': 'image'},
                                           namespace=namespace),
                              tmp_path / 'node.log',
                              {**board_env, BOARD_MODEL_DIRS_ENV: str(double_model.parent)},
                              cwd=REPO_ROOT)
        try:
            assert peer.wait_for_node(STARTUP_TIMEOUT), process.log()
            assert _top(peer, photo) == BULBUL
        finally:
            code = process.stop(signal.SIGTERM)
    log = process.log()
    assert code == 0, log
    assert f'Backend: auto: hobot_dnn imports and the BPU model is at {double_model}' in log
    assert f'Loaded bpu: {double_model}' in log, log
    assert missing.wait(STARTUP_TIMEOUT) == 1
    missing.stop(signal.SIGKILL, timeout=5.0)
    log = missing.log()
    assert 'Configuring failed: No BPU model found' in log, log
    for path in [*bpu_model_search(empty)]:
        assert str(path) in log, log
    assert 'Set the model_path parameter' in log and 'Traceback' not in log


def _state(peer, namespace):
    try:
        return peer.lifecycle_state(f'{namespace}/{NODE_NAME}')
    except TimeoutError:
        return None


# ------------------------------------------------------------------- inference faults


def _level(received):
    return received.msg.level


def test_a_backend_failing_during_inference_drops_and_counts_frames_and_recovers(
        board_env, launcher, double_model, photo, tmp_path):
    namespace = '/fault_infer'
    switch = tmp_path / 'forward_failure'
    report = tmp_path / 'report.json'
    command = _launched(launcher, report, switch,
                        {'backend': 'bpu', 'model_path': str(double_model),
                         'reliability': 'reliable'}, {'image': 'image'}, namespace)
    with ClassifierPeer(f'{namespace}/image', node_namespace=namespace) as peer:
        process = NodeProcess(command, tmp_path / 'node.log', board_env, cwd=REPO_ROOT)
        try:
            assert peer.wait_for_node(STARTUP_TIMEOUT), process.log()
            assert 'Loaded bpu' in process.log()
            assert _top(peer, photo) == BULBUL
            before = peer.wait_diagnostics(lambda v: int(v['frames_classified']) >= 1)
            assert before is not None
            failing = []
            for mode in ('system_error', 'runtime_error', 'none'):
                switch.write_text(mode)
                time.sleep(0.2)
                for _ in range(2):
                    failing.append(peer.publish(photo))
                    time.sleep(0.3)
                switch.unlink()
                time.sleep(0.2)
                assert _top(peer, photo) == BULBUL, f'no recovery after {mode}'
            assert not set(failing) & set(peer.results), 'a failed frame was published'
            failed = peer.wait_diagnostics(
                lambda v: int(v['frames_failed']) >= len(failing), RESULT_TIMEOUT)
            assert failed is not None, peer.latest_diagnostics()
            assert int(failed['frames_failed']) == len(failing)
            assert int(failed.get('failed.BackendError', 0)) == len(failing)
            assert int(failed['frames_dropped']) == int(before['frames_dropped'])
            errors = [r.msg for r in peer.diagnostics if r.msg.level == DiagnosticStatus.ERROR]
            assert errors, 'no ERROR level in /diagnostics'
            assert 'inference failed' in errors[0].message
            assert 'BackendError' in errors[0].message
            # Once frames classify again, the level goes back to OK.
            assert _top(peer, photo) == BULBUL
            assert peer.wait_for(lambda: peer.diagnostics[-1].msg.level == DiagnosticStatus.OK
                                 and int(diagnostic_values(peer.diagnostics[-1].msg)[
                                     'frames_classified']) >= 5, RESULT_TIMEOUT)
            assert process.process.poll() is None
        finally:
            switch.unlink(missing_ok=True)
            code = process.stop(signal.SIGINT)
    log = process.log()
    assert code == 0, log
    lines = [line for line in log.splitlines() if 'Inference failed' in line]
    assert 1 <= len(lines) <= len(failing), log
    assert all(str(double_model) in line for line in lines), lines
    assert 'Traceback' not in log
    assert json.loads(report.read_text())['threads'] == []


def _top(peer, frame):
    stamp = peer.publish(frame)
    result = peer.wait_result(stamp, RESULT_TIMEOUT)
    assert result is not None, f'no result for {stamp}'
    return int(result.results[0].class_id)


# ------------------------------------------------------------------- signals


def _shm_of(pid):
    """The /dev/shm files a process maps or holds open."""
    names = set()
    try:
        for line in Path(f'/proc/{pid}/maps').read_text().splitlines():
            if '/dev/shm/' in line:
                names.add(line.split('/dev/shm/', 1)[1].replace(' (deleted)', ''))
        for fd in Path(f'/proc/{pid}/fd').iterdir():
            target = os.readlink(fd)
            if target.startswith('/dev/shm/'):
                names.add(target[len('/dev/shm/'):].replace(' (deleted)', ''))
    except OSError:
        pass
    return names


def _shm_in_use():
    names = set()
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            names |= _shm_of(entry.name)
    return names


def _stream(peer, frame, stop):
    while not stop.wait(0.01):
        peer.publish(frame)


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_a_signal_ends_the_node_cleanly_without_leaks(node_env, launcher, photo, tmp_path,
                                                      sig):
    namespace = f'/fault_{sig.name.lower()}'
    report = tmp_path / 'report.json'
    command = _launched(launcher, report, '-', {'reliability': 'reliable'}, {'image': 'image'},
                        namespace)
    streaming = threading.Event()
    with ClassifierPeer(f'{namespace}/image', node_namespace=namespace) as peer:
        camera = threading.Thread(target=_stream, args=(peer, photo, streaming))
        existing = set(os.listdir('/dev/shm'))
        process = NodeProcess(command, tmp_path / 'node.log', node_env, cwd=REPO_ROOT)
        try:
            assert peer.wait_for_node(STARTUP_TIMEOUT), process.log()
            assert _top(peer, photo) == BULBUL
            segments = {name for name in _shm_of(process.process.pid)
                        if name.startswith(('fastdds_', 'sem.fastdds_'))}
            created = segments - existing
            assert segments, 'the node maps no Fast DDS segment (transport changed?)'
            # Frames keep coming while the signal lands: the executor is busy then, which is
            # when rclpy raises RCLError instead of ExternalShutdownException.
            camera.start()
            time.sleep(0.3)
        finally:
            code = process.stop(sig)
            streaming.set()
            if camera.is_alive():
                camera.join(5.0)
    log = process.log()
    assert code == 0, log
    assert 'Traceback' not in log and 'terminate called' not in log, log
    assert json.loads(report.read_text()) == {'code': 0, 'threads': []}
    # Segments the node created must be gone, unless a live process (this one's camera
    # shares the port segments) still uses them.
    in_use = _shm_in_use()
    leaked = sorted(name for name in created
                    if (Path('/dev/shm') / name).exists() and name not in in_use)
    assert not leaked, f'left in /dev/shm by the node: {leaked}'
    own = [name for name in created if not name.startswith(('fastdds_port', 'sem.'))]
    assert own and not [name for name in own if (Path('/dev/shm') / name).exists()], own
