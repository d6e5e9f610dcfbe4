"""Special files as the node's model and labels, and a signal while the model loads.

A FIFO, /dev/zero or a directory given as labels_path or model_path, or labels with a class
name of 100 KB, must fail configure at once with a message that says what is wrong; the node
then exits 1. A signal arriving while the
model loads must end the node promptly, however it was started: with SIGINT inherited as
ignored (a background job of a script, and so every node these tests start under
scripts/test.sh), with Python's own SIGINT handler, or with SIGTERM (systemd, docker stop).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import pytest

from shared import LABELS_FILE, REPO_ROOT

from mobilenetv1_ros.harness.process import NodeProcess, node_command

REPO = REPO_ROOT
STARTUP_TIMEOUT = 60.0
#: Longest a node may take to exit after the signal (it takes a fraction of a second).
EXIT_TIMEOUT = 10.0

#: Runs the node's main() with argv[4:] as ROS arguments, with a model load that does not
#: return: ONNX Runtime's session, once asked for, first writes argv[1] then either opens the
#: FIFO argv[2] (no writer ever comes: the labels loader of old did exactly this with a FIFO
#: as labels_path) or, with argv[2] == '-', computes in Python for ever. argv[3] is how SIGINT
#: is handled when the process starts: 'ignored' (inherited SIG_IGN) or 'python' (Python's
#: KeyboardInterrupt).
LAUNCHER = """
import signal, sys
from pathlib import Path

loading, fifo, sigint = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
signal.signal(signal.SIGINT,
              signal.SIG_IGN if sigint == 'ignored' else signal.default_int_handler)

import onnxruntime

class NeverLoads(onnxruntime.InferenceSession):
    def __init__(self, *args, **kwargs):
        loading.write_text('loading')
        if fifo != '-':
            open(fifo).read()
        while True:
            pass

onnxruntime.InferenceSession = NeverLoads

from mobilenetv1_ros.ros.node import main

sys.exit(main(['mobilenetv1_classifier', *sys.argv[4:]]))
"""


@pytest.fixture(scope='module')
def onnx_model(node_env):
    """The exported CPU model the node runs by default (from this module's cache)."""
    from mobilenetv1_ros.core.assets import CACHE_ENV
    from mobilenetv1_ros.export.cache import cached_onnx_model

    saved = os.environ.get(CACHE_ENV)
    os.environ[CACHE_ENV] = node_env['MOBILENETV1_ROS_CACHE']
    try:
        return cached_onnx_model('int8')
    finally:
        if saved is None:
            os.environ.pop(CACHE_ENV)
        else:
            os.environ[CACHE_ENV] = saved


def test_special_files_fail_configure_saying_what_they_are(node_env, onnx_model, tmp_path):
    fifo = tmp_path / 'labels_fifo.json'
    os.mkfifo(fifo)
    model_fifo = tmp_path / 'model_fifo.onnx'
    os.mkfifo(model_fifo)
    directory = tmp_path / 'model_directory.onnx'
    directory.mkdir()
    names = json.loads(LABELS_FILE.read_text(encoding='utf-8'))
    names[7] = 'cock' * 25600
    long_names = tmp_path / 'long_names.json'
    long_names.write_text(json.dumps(names), encoding='utf-8')
    cases = {
        'labels_fifo': ({'labels_path': str(fifo)},
                        f'Labels file {fifo} is a FIFO, not a regular file'),
        'labels_dev_zero': ({'labels_path': '/dev/zero'},
                            'Labels file /dev/zero is a character device, not a regular file'),
        'labels_long_names': ({'labels_path': str(long_names)},
                              f'Labels file {long_names}, class 7: the name is 102400 '
                              'characters long, more than the 1024 allowed'),
        'model_fifo': ({'model_path': str(model_fifo)},
                       f'Model file {model_fifo} is a FIFO, not a regular file'),
        'model_directory': ({'model_path': str(directory)},
                            f'Model file {directory} is a directory, not a regular file'),
    }
    processes = {}
    try:
        for name, (parameters, _) in cases.items():
            parameters = {'model_path': str(onnx_model), **parameters}
            processes[name] = NodeProcess(node_command(parameters, {'image': f'/{name}/image'}),
                                          tmp_path / f'{name}.log', node_env, cwd=REPO)
        codes = {name: process.wait(STARTUP_TIMEOUT) for name, process in processes.items()}
    finally:
        for process in processes.values():
            process.stop(signal.SIGKILL, timeout=5.0)
    for name, (_, says) in cases.items():
        log = processes[name].log()
        assert codes[name] == 1, f'{name}: exit code {codes[name]}\n{log}'
        failure = [line for line in log.splitlines() if 'Configuring failed' in line]
        assert len(failure) == 1, f'{name}:\n{log}'
        assert says in failure[0], f'{name}: {failure[0]}'
        assert 'Loaded ' not in log and 'Traceback' not in log, f'{name}:\n{log}'


@pytest.mark.parametrize(('sig', 'sigint', 'blocked_in'), [
    (signal.SIGINT, 'ignored', 'open'),
    (signal.SIGINT, 'python', 'open'),
    (signal.SIGTERM, 'ignored', 'open'),
    (signal.SIGINT, 'ignored', 'python'),
], ids=['SIGINT-inherited-ignored-in-open', 'SIGINT-python-handler-in-open',
        'SIGTERM-in-open', 'SIGINT-inherited-ignored-in-python'])
def test_a_signal_while_the_model_loads_ends_the_node(node_env, onnx_model, tmp_path, sig,
                                                      sigint, blocked_in):
    launcher = tmp_path / 'launch_node.py'
    launcher.write_text(LAUNCHER, encoding='utf-8')
    loading = tmp_path / 'loading'
    fifo = tmp_path / 'never_written.fifo'
    os.mkfifo(fifo)
    command = node_command({'model_path': str(onnx_model)}, {'image': f'/{sig.name}/image'})
    process = NodeProcess([sys.executable, str(launcher), str(loading),
                           str(fifo) if blocked_in == 'open' else '-', sigint, *command[3:]],
                          tmp_path / 'node.log', node_env, cwd=REPO)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not loading.exists() and process.process.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        assert loading.exists(), f'the model load never started\n{process.log()}'
        time.sleep(0.5)  # well inside the load: blocked in open() or computing
        assert process.process.poll() is None, process.log()
        signalled = time.monotonic()
        process.process.send_signal(sig)
        code = process.wait(EXIT_TIMEOUT)
        took = time.monotonic() - signalled
    finally:
        process.stop(signal.SIGKILL, timeout=5.0)
    log = process.log()
    assert code == 0, f'exit code {code} ({took:.1f} s after {sig.name})\n{log}'
    assert 'Loaded ' not in log and 'Traceback' not in log, log
