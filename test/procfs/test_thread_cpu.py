"""Per-thread CPU accounting from /proc: the stat parser on real files, roles on a real process.

The child processes below name their threads the way the node and Fast DDS do (the kernel name,
written to /proc/self/task/<tid>/comm) and burn known amounts of CPU time on each, so the roles
and the seconds the tools report can be checked against what really ran.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mobilenetv1_ros.procfs.procstat import (
    TICKS_PER_S,
    ThreadsSample,
    machine_cpu_times,
    parse_stat,
    read_process,
    read_threads,
)
from mobilenetv1_ros.procfs.thread_roles import (
    BY_LOAD,
    BY_NAME,
    INFERENCE_THREAD_NAME,
    NO_INFERENCE,
    ROLES,
    UNATTRIBUTED,
    role_cpu,
    thread_role,
)

#: CPU accounting of the load tools runs on the board (`board`: test/conftest.py).
pytestmark = pytest.mark.board

#: One clock tick plus scheduling slack: the tolerance of a thread's CPU seconds.
SLACK_S = 3.0 / TICKS_PER_S + 0.02

#: A process with named threads that each burn CPU for a given time when told to.
#: argv: inference thread name ('' leaves it unnamed), then seconds for main, inference,
#: middleware, other and a thread that exits after its work.
CHILD = textwrap.dedent("""
    import sys, threading, time

    def name(text):
        with open(f'/proc/self/task/{threading.get_native_id()}/comm', 'w') as stream:
            stream.write(text)

    def burn(seconds):
        end = time.thread_time() + seconds
        while time.thread_time() < end:
            pass

    inference_name = sys.argv[1]
    main_s, infer_s, dds_s, other_s, exiting_s = (float(value) for value in sys.argv[2:7])
    started, finished = threading.Barrier(5), threading.Barrier(5)
    go, stop = threading.Event(), threading.Event()

    def worker(text, seconds, stay):
        if text:
            name(text)
        started.wait()
        go.wait()
        burn(seconds)
        finished.wait()
        if stay:
            stop.wait()

    workers = [threading.Thread(target=worker, args=args) for args in (
        (inference_name, infer_s, True), ('dds.udp.7400', dds_s, True), ('', other_s, True),
        ('', exiting_s, False))]
    for thread in workers:
        thread.start()
    started.wait()
    print('ready', flush=True)
    sys.stdin.readline()
    go.set()
    burn(main_s)
    finished.wait()
    workers[-1].join()
    print('done', flush=True)
    sys.stdin.readline()
    stop.set()
""")
#: CPU seconds each role's thread burns; the 'unattributed' one ends inside the window.
WORK = {'executor': 0.25, 'inference': 0.4, 'middleware': 0.15, 'other': 0.1,
        'unattributed': 0.2}


def _run_child(inference_name: str) -> tuple[int, ThreadsSample, ThreadsSample]:
    child = subprocess.Popen(
        [sys.executable, '-c', CHILD, inference_name,
         *(str(WORK[role]) for role in ('executor', 'inference', 'middleware', 'other',
                                        'unattributed'))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == 'ready'
        start = read_threads(child.pid)
        child.stdin.write('go\n')
        child.stdin.flush()
        assert child.stdout.readline().strip() == 'done'
        # The burning threads have finished their work; give the kernel a tick to account it.
        time.sleep(2.0 / TICKS_PER_S)
        end = read_threads(child.pid)
        child.stdin.write('stop\n')
        child.stdin.flush()
        assert child.wait(30) == 0
        assert start is not None and end is not None
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return child.pid, start, end


def test_parse_stat_reads_this_process_and_a_name_with_spaces_and_parentheses() -> None:
    line = parse_stat(Path('/proc/self/stat').read_text())
    assert line.pid == os.getpid()
    assert line.name == Path('/proc/self/comm').read_text().strip()
    assert line.state == 'R'
    assert line.threads == len(os.listdir('/proc/self/task'))
    assert line.cpu_ticks == pytest.approx(sum(os.times()[:2]) * TICKS_PER_S, abs=3)
    odd = 'a) (b c) d'  # the kernel keeps 15 bytes; the parser counts from the last ')'
    child = subprocess.Popen([sys.executable, '-c',
                              f'open("/proc/self/comm", "w").write({odd!r})\n'
                              'print(flush=True)\nimport sys\nsys.stdin.readline()'],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        child.stdout.readline()
        parsed = parse_stat(Path(f'/proc/{child.pid}/stat').read_text())
        assert (parsed.pid, parsed.name) == (child.pid, odd)
        assert parsed.start_ticks >= line.start_ticks
    finally:
        child.kill()
        child.wait()
    with pytest.raises(ValueError, match='Not a /proc stat line'):
        parse_stat('no parentheses here')


def test_read_process_and_threads_of_this_process() -> None:
    sample = read_process(os.getpid())
    threads = read_threads(os.getpid())
    assert sample is not None and threads is not None
    assert sample.rss_mb > 10 and sample.threads >= 1
    assert os.getpid() in threads.threads
    assert threads.process_cpu_s >= sum(t.cpu_s for t in threads.threads.values()) - SLACK_S
    busy, total = machine_cpu_times()
    assert 0 < busy <= total


def test_roles_of_the_threads_of_a_real_process_and_their_cpu_seconds() -> None:
    pid, start, end = _run_child('mobilenetv1_inference')
    names = {times.name for times in end.threads.values()}
    assert INFERENCE_THREAD_NAME in names and 'dds.udp.7400' in names
    cpu = role_cpu(start, end)
    assert cpu.inference_by == BY_NAME
    assert cpu.threads == {'executor': 1, 'inference': 1, 'middleware': 1, 'other': 1}
    for role in ROLES:
        assert cpu.cpu_s[role] == pytest.approx(WORK[role], abs=SLACK_S), role
    # The ended thread's time, give or take each thread's rounding down to a tick.
    rounding = (len(end.threads) + 1) / TICKS_PER_S
    assert cpu.unattributed_s == pytest.approx(WORK['unattributed'], abs=SLACK_S + rounding)
    assert cpu.total_s == pytest.approx(sum(WORK.values()), abs=SLACK_S + rounding)
    per_frame = cpu.ms_per_frame(100)
    assert per_frame['inference'] == pytest.approx(WORK['inference'] * 10, abs=SLACK_S * 10)
    assert per_frame['total'] == pytest.approx(
        sum(per_frame[role] for role in (*ROLES, UNATTRIBUTED)), abs=0.01)
    assert per_frame['outside_inference'] == pytest.approx(
        per_frame['total'] - per_frame['inference'], abs=0.01)
    assert cpu.ms_per_frame(0)['total'] is None
    # Each thread ran at least once in the window: the kernel counts the wake-ups too.
    assert cpu.runs is not None and all(cpu.runs[role] >= 1 for role in ROLES)
    assert cpu.runs_per_frame(100) == {role: round(cpu.runs[role] / 100, 2) for role in ROLES}
    busiest = cpu.as_dict(100)['busiest'][0]
    assert (busiest['name'], busiest['role']) == (INFERENCE_THREAD_NAME, 'inference')
    assert thread_role(pid, pid, 'python3') == 'executor'


def test_without_the_inference_name_the_busiest_other_thread_is_inference() -> None:
    _, start, end = _run_child('')
    cpu = role_cpu(start, end)
    assert cpu.inference_by == BY_LOAD
    assert cpu.threads == {'executor': 1, 'inference': 1, 'middleware': 1, 'other': 1}
    assert cpu.cpu_s['inference'] == pytest.approx(WORK['inference'], abs=SLACK_S)
    assert cpu.cpu_s['other'] == pytest.approx(WORK['other'], abs=SLACK_S)
    # A process that runs no inference (the load tool's baseline node): nothing is guessed.
    plain = role_cpu(start, end, guess_inference=False)
    assert plain.inference_by == NO_INFERENCE
    assert plain.cpu_s['inference'] == 0 and plain.threads['inference'] == 0
    assert plain.cpu_s['other'] == pytest.approx(WORK['inference'] + WORK['other'],
                                                 abs=2 * SLACK_S)
