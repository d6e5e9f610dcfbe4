"""The load tool (`mobilenetv1-ros load`) for a few seconds, and its /proc readings.

The 60 s runs of the issue are tool runs, not tests; this checks that a short run starts the
node, keeps it busy at the requested rate, and reports sane figures: frames sent and
classified, no result attached to the wrong frame, ages, RSS, CPU, a clean node exit.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import pytest
from shared import REPO_ROOT

from mobilenetv1_ros.cli.load import parse_parameter
from mobilenetv1_ros.perf.load_text import format_report
from mobilenetv1_ros.perf.load_settings import LoadSettings
from mobilenetv1_ros.procfs.procstat import machine_cpu_times, read_process
from mobilenetv1_ros.procfs.thread_roles import BY_NAME, NO_INFERENCE, ROLES, UNATTRIBUTED


#: The loopback-only variant of config/fastdds_large_frames.xml that scripts and tests use.
PROFILE = REPO_ROOT / 'scripts' / 'fastdds_loopback.xml'


@pytest.mark.board
def test_read_process_reports_rss_cpu_and_threads_of_a_live_process():
    child = subprocess.Popen([sys.executable, '-c',
                              'import time\nx = bytearray(64 << 20)\n'
                              'end = time.process_time() + 0.3\n'
                              'while time.process_time() < end: pass\n'
                              'time.sleep(30)'])
    try:
        deadline = time.monotonic() + 20
        sample = read_process(child.pid)
        while (sample is None or sample.cpu_s < 0.25) and time.monotonic() < deadline:
            time.sleep(0.1)
            sample = read_process(child.pid)
        assert sample is not None
        assert sample.rss_mb >= 64
        assert sample.cpu_s >= 0.25
        assert sample.threads >= 1
    finally:
        child.kill()
        child.wait()
    assert read_process(child.pid) is None
    busy, total = machine_cpu_times()
    assert 0 < busy <= total


@pytest.mark.board
def test_node_parameters_parse_like_ros_args():
    assert parse_parameter('backend:=bpu') == ('backend', 'bpu')
    assert parse_parameter('num_threads:=1') == ('num_threads', 1)
    assert parse_parameter('score_threshold:=0.5') == ('score_threshold', 0.5)
    assert parse_parameter('publish_overlay:=False') == ('publish_overlay', False)
    from mobilenetv1_ros.core.errors import ConfigError
    with pytest.raises(ConfigError, match="'top_k=3'"):
        parse_parameter('top_k=3')


def test_a_short_load_run_reports_rates_ages_rss_and_a_clean_exit(node_env):
    pytest.importorskip('rclpy')
    command = [sys.executable, '-m', 'mobilenetv1_ros', 'load', '--size', '640x480',
               '--encoding', 'nv12', '--fps', '15', '--duration', '3', '--interval', '1',
               '--warmup', '1', '--dds-profile', str(PROFILE), '--json']
    done = subprocess.run(command, env=node_env, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip(), done.stderr
    report = json.loads(done.stdout)
    assert 30 <= report['sent'] <= 60, report['sent']
    assert report['node_received'] >= report['sent'] * 0.8
    assert 1 <= report['results'] <= report['sent']
    assert report['node_classified'] >= report['results']
    assert report['mismatched'] == 0
    assert report['node_failed'] == 0 and report['node_rejected'] == 0
    assert report['photos'] == ['cat_1080p.jpg', 'hot_dog.jpg']
    assert 0 < report['age_ms']['p50'] <= report['age_ms']['p95'] <= report['age_ms']['max']
    assert report['node_infer_ms']['p50'] > 0
    assert report['rss_mb']['start'] > 50 and report['rss_mb']['end'] > 50
    assert abs(report['rss_mb']['growth']) < 20
    assert report['node_cpu_pct'] > 0 and report['load_tool_cpu_pct'] > 0
    assert report['dds_profile'] == f'Fast DDS profile {PROFILE}'
    assert 3 <= len(report['series']) <= 5
    assert all(row['rss_mb'] > 50 for row in report['series'])
    assert report['node']['exit_code'] == 0 and not report['node']['traceback']
    assert report['machine']['loadavg_start'] is not None
    names = {check['name']: check['ok'] for check in report['checks']}
    assert names['node alive through the load'] and names['RSS growth <= 20 MB']
    assert names['node exits with code 0 on SIGINT, no traceback']
    assert done.returncode == (0 if all(names.values()) else 1)
    _check_thread_cpu(report)


def test_the_baseline_node_takes_the_frames_and_reports_the_floor_of_a_python_node(node_env):
    pytest.importorskip('rclpy')
    command = [sys.executable, '-m', 'mobilenetv1_ros', 'load', '--baseline', '--size',
               '640x480', '--encoding', 'nv12', '--fps', '15', '--duration', '3', '--interval',
               '1', '--warmup', '1', '--dds-profile', str(PROFILE), '--json']
    done = subprocess.run(command, env=node_env, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip(), done.stderr
    report = json.loads(done.stdout)
    assert 'mobilenetv1_ros.perf.baseline_node' in report['node']['command']
    assert report['baseline'] is True
    assert report['node_received'] >= report['sent'] * 0.8 and report['results'] == 0
    cpu = report['thread_cpu']
    assert cpu['inference_by'] == NO_INFERENCE and cpu['threads']['inference'] == 0
    assert cpu['ms_per_frame']['executor'] > 0 and cpu['ms_per_frame']['inference'] == 0
    assert [check['name'] for check in report['checks']] == [
        'node alive through the load', 'RSS growth <= 20 MB', 'frames received by the node',
        'node exits with code 0 on SIGINT, no traceback']
    assert done.returncode == (0 if all(check['ok'] for check in report['checks']) else 1)
    assert 'no inference (the baseline node)' in format_report(report)


def test_the_baseline_refuses_what_it_cannot_do():
    from mobilenetv1_ros.core.errors import ConfigError
    for settings in (LoadSettings(baseline=True, overlay=True),
                     LoadSettings(baseline=True, encoding='jpeg'),
                     LoadSettings(baseline=True, parameters={'backend': 'onnx'})):
        with pytest.raises(ConfigError, match='--baseline starts its own node'):
            settings.check()


def _hbmem_command(*extra: str) -> list[str]:
    return [sys.executable, '-m', 'mobilenetv1_ros', 'load', '--hbmem', *extra, '--size',
            '960x544', '--encoding', 'nv12', '--fps', '15', '--duration', '3', '--interval', '1',
            '--warmup', '1', '--dds-profile', str(PROFILE), '--json']


def test_a_short_hbmem_load_run_classifies_the_shared_memory_frames(node_env):
    pytest.importorskip('rclpy')
    hbm_msgs = pytest.importorskip('hbm_img_msgs.msg', reason='hbm_img_msgs is not built here')
    done = subprocess.run(_hbmem_command(), env=node_env, cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.stdout.strip(), done.stderr
    report = json.loads(done.stdout)
    assert report['input'] == 'hbmem'
    assert report['message_type'] == 'hbm_img_msgs/msg/HbmMsg1080P'
    assert report['message_bytes'] == 4 + 40 + hbm_msgs.HbmMsg1080P.MAX_SIZE
    assert report['frame_bytes'] == 960 * 544 * 3 // 2
    assert report['settings']['reliability'] == 'best_effort'  # as mipi_cam publishes
    command = report['node']['command']
    assert '-p input:=hbmem' in command and 'hbmem_type' not in command  # the node's auto
    assert 30 <= report['sent'] <= 60, report['sent']
    assert report['node_received'] >= report['sent'] * 0.8
    assert 1 <= report['results'] <= report['sent']
    assert report['mismatched'] == 0
    assert report['node_failed'] == 0 and report['node_rejected'] == 0
    assert report['photos'] == ['cat_1080p.jpg', 'hot_dog.jpg']
    assert report['node']['exit_code'] == 0 and not report['node']['traceback']
    assert done.returncode == (0 if all(check['ok'] for check in report['checks']) else 1)
    _check_thread_cpu(report)
    assert 'hbm_img_msgs/msg/HbmMsg1080P, 6.22 MB per message' in format_report(report)


def test_the_baseline_takes_hbmem_frames_of_the_type_it_is_given(node_env):
    pytest.importorskip('rclpy')
    pytest.importorskip('hbm_img_msgs.msg', reason='hbm_img_msgs is not built here')
    done = subprocess.run(_hbmem_command('--baseline', '--hbm-type', 'HbmMsg540P'),
                          env=node_env, cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip(), done.stderr
    report = json.loads(done.stdout)
    command = report['node']['command']
    assert 'mobilenetv1_ros.perf.baseline_node' in command
    assert '-p input:=hbmem' in command and '-p hbmem_type:=HbmMsg540P' in command
    assert report['message_type'] == 'hbm_img_msgs/msg/HbmMsg540P'
    assert report['node_received'] >= report['sent'] * 0.8 and report['results'] == 0
    cpu = report['thread_cpu']
    assert cpu['inference_by'] == NO_INFERENCE and cpu['ms_per_frame']['executor'] > 0
    assert report['node']['exit_code'] == 0 and not report['node']['traceback']
    assert done.returncode == (0 if all(check['ok'] for check in report['checks']) else 1)


@pytest.mark.parametrize(('settings', 'text'), [
    (LoadSettings(hbmem=True, encoding='bgr8'), 'not --encoding bgr8'),
    (LoadSettings(hbmem=True, encoding='jpeg'), 'not --encoding jpeg'),
    (LoadSettings(hbmem=True, encoding='nv12', hbm_type='HbmMsg480P'),
     'A 1920x1080 nv12 frame of 3110400 bytes does not fit the 921600-byte data array of '
     'HbmMsg480P'),
    (LoadSettings(hbmem=True, encoding='nv12', width=1920, height=1088,
                  hbm_type='HbmMsg540P'),
     'A 1920x1088 nv12 frame of 3133440 bytes does not fit the 1555200-byte data array of '
     'HbmMsg540P'),
    (LoadSettings(hbmem=True, encoding='nv12', hbm_type='HbmMsg720P'),
     '--hbm-type HbmMsg720P is not one of: HbmMsg1080P, HbmMsg540P, HbmMsg480P'),
    (LoadSettings(encoding='nv12', hbm_type='HbmMsg540P'), '--hbm-type HbmMsg540P needs --hbmem'),
], ids=['bgr8', 'jpeg', 'too_large_480P', 'too_large_540P', 'unknown_type', 'type_alone'])
def test_hbmem_refuses_what_mipi_cam_cannot_send(settings, text):
    from mobilenetv1_ros.core.errors import ConfigError
    with pytest.raises(ConfigError, match=re.escape(text)):
        settings.check()


def test_hbmem_keeps_the_requested_reliability_and_fits_1080p_nv12():
    assert LoadSettings(hbmem=True).reliability == 'best_effort'
    assert LoadSettings(hbmem=True, reliability='reliable').reliability == 'reliable'
    assert LoadSettings().reliability == 'reliable'
    LoadSettings(hbmem=True, encoding='nv12').check()  # 1920x1080 nv12 fits HbmMsg1080P
    LoadSettings(hbmem=True, encoding='nv12', width=960, height=540,
                 hbm_type='HbmMsg540P').check()


def test_the_load_command_names_a_refused_encoding(node_env):
    done = subprocess.run([sys.executable, '-m', 'mobilenetv1_ros', 'load', '--hbmem',
                           '--encoding', 'png'], env=node_env, cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and 'not --encoding png' in done.stderr, done.stderr
    assert not done.stdout


def _check_thread_cpu(report: dict) -> None:
    """The node's CPU per frame by thread role: every role found, adding up to the process."""
    cpu = report['thread_cpu']
    assert cpu['frames'] == report['node_received']
    assert cpu['threads']['executor'] == 1 and cpu['threads']['inference'] >= 1
    assert cpu['inference_by'] == BY_NAME  # the node names its inference thread in the kernel
    assert cpu['threads']['middleware'] >= 1  # Fast DDS names its threads dds.*
    ms = cpu['ms_per_frame']
    assert ms['inference'] > 0 and ms['executor'] > 0
    assert ms['total'] == pytest.approx(sum(ms[role] for role in (*ROLES, UNATTRIBUTED)),
                                        abs=0.01)
    assert ms['outside_inference'] == pytest.approx(ms['total'] - ms['inference'], abs=0.01)
    # The same window read as the whole process: the CPU share agrees to a few clock ticks.
    seconds = ms['total'] * cpu['frames'] / 1e3
    assert seconds == pytest.approx(report['node_cpu_pct'] / 100 * cpu['seconds'], abs=0.06)
    assert all(set(row['cpu_ms_per_frame']) >= set(ROLES) for row in report['series'])
    # The executor wakes for every frame; the inference thread too.
    runs = cpu['runs_per_frame']
    assert runs['executor'] >= 0.9 and runs['inference'] >= 0.9
    text = format_report(report)
    assert 'CPU per frame received (ms, per thread from /proc' in text
    assert f'outside inference {ms["outside_inference"]:.2f}' in text
    assert f'wake-ups per frame received (times on a CPU, from schedstat): executor ' \
           f'{runs["executor"]:.1f}' in text
