"""The command-line tools that exist on the board, run as the board has them.

Each command runs in its own process with the CPU-backend and bag packages (onnx, onnxruntime,
tflite, rosbags) made unimportable, and the BPU through the hobot_dnn double: so this holds in
the board lane (where they are not installed at all) and in the main environment alike.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from mobilenetv1_ros.core.assets import BOARD_MODEL_DIRS_ENV, bpu_model_search

pytestmark = pytest.mark.board

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / 'images'
DOUBLES = ROOT / 'test' / 'doubles'
EXPECTED = {'bulbul.JPEG': 16, 'parrot.jpg': 88, 'cat.bmp': 285}
#: Packages the board does not have: the CPU backend's and the bag tools' (build/test-time).
ABSENT_ON_BOARD = ('onnx', 'onnxruntime', 'tflite', 'rosbags')
_HIDE = ''.join(f'sys.modules[{name!r}] = None\n' for name in ABSENT_ON_BOARD)
BOARD_CLI = (f'import sys\n{_HIDE}from mobilenetv1_ros.cli import main\n'
             'sys.exit(main(sys.argv[1:]))\n')
IMPORT_ALL = f"""import importlib, json, pkgutil, sys
{_HIDE}import mobilenetv1_ros
failures = {{}}
for info in pkgutil.walk_packages(mobilenetv1_ros.__path__, 'mobilenetv1_ros.'):
    if info.name.endswith('__main__'):
        continue
    try:
        importlib.import_module(info.name)
    except ImportError as error:
        failures[info.name] = error.name or str(error)
print(json.dumps(failures))
"""


@pytest.fixture
def env(ros_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """This run's isolated environment with the source tree and the double on the path."""
    return {**ros_env, 'MOBILENETV1_ROS_CACHE': str(tmp_path / 'cache'),
            'PYTHONPATH': os.pathsep.join([str(ROOT), str(DOUBLES),
                                           os.environ.get('PYTHONPATH', '')])}


@pytest.fixture
def bpu_model(tmp_path: Path) -> Path:
    """A model file for the hobot_dnn double (the real MobileNetV1 run by LiteRT)."""
    sys.path.insert(0, str(DOUBLES))
    try:
        import hobot_dnn_double
    finally:
        sys.path.remove(str(DOUBLES))
    return hobot_dnn_double.write_model_file(tmp_path / 'mobilenetv1_224x224_nv12.bin')


@pytest.fixture
def board_env(env: dict[str, str], bpu_model: Path) -> dict[str, str]:
    """`env` where the model search finds the model in a board model directory."""
    in_share = [path for path in bpu_model_search(roots=[ROOT / 'models']) if path.is_file()]
    assert not in_share, f'{in_share} would be found before the board directory'
    return {**env, BOARD_MODEL_DIRS_ENV: str(bpu_model.parent)}


def _board_cli(env: dict[str, str], *args: object,
               timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, '-c', BOARD_CLI, *map(str, args)], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_modules_import_without_the_cpu_and_bag_packages(env: dict[str, str]) -> None:
    """Only the bag tools need one of them at import; everything else imports them lazily."""
    done = subprocess.run([sys.executable, '-c', IMPORT_ALL], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    failures = json.loads(done.stdout)
    needs_absent = {module: missing for module, missing in failures.items()
                    if missing.split('.')[0] in ABSENT_ON_BOARD
                    and not module.startswith('mobilenetv1_ros.bag.')}
    assert not needs_absent, needs_absent
    # Anything else missing can only be ROS 2 itself, which the board has from apt.
    others = {missing.split('.')[0] for missing in failures.values()} - set(ABSENT_ON_BOARD)
    assert all(name == 'rclpy' or name.endswith(('_msgs', '_interfaces')) for name in others), \
        failures
    try:
        import rclpy  # noqa: F401
    except ImportError:
        pass
    else:
        assert not others, failures
    assert 'mobilenetv1_ros.core.pipeline' not in failures
    assert 'mobilenetv1_ros.cli' not in failures


def test_classify_runs_on_the_bpu(env: dict[str, str], bpu_model: Path,
                                  tmp_path: Path) -> None:
    photos = [IMAGES / name for name in EXPECTED]
    done = _board_cli(env, 'classify', '--backend', 'bpu', '--model', bpu_model, '--json',
                      '--top-k', '3', '--annotate', tmp_path / 'out', *photos)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report['backend'].startswith(f'bpu: {bpu_model}')
    assert [record['predictions'][0]['class_id'] for record in report['results']] == \
        list(EXPECTED.values())
    assert all(len(record['predictions']) == 3 for record in report['results'])
    for photo in photos:
        annotated = cv2.imread(str(tmp_path / 'out' / f'{photo.stem}_classified.jpg'))
        assert annotated is not None and annotated.shape == cv2.imread(str(photo)).shape


def test_classify_finds_the_zoo_model_through_the_search(board_env: dict[str, str],
                                                         bpu_model: Path) -> None:
    """No --backend, no --model: auto picks the BPU because the search finds the model."""
    done = _board_cli(board_env, 'classify', '--json', *(IMAGES / name for name in EXPECTED))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report['backend'].startswith(f'bpu: {bpu_model}')
    assert 'NV12 224x224 in, 1000 float32 out as is' in report['backend']
    assert [record['predictions'][0]['class_id'] for record in report['results']] == \
        list(EXPECTED.values())


def test_doctor_finds_the_bpu_usable_without_onnxruntime(board_env: dict[str, str],
                                                         bpu_model: Path,
                                                         tmp_path: Path) -> None:
    dev = tmp_path / 'dev'
    dev.mkdir()
    for name in ('bpu', 'bpu_core0', 'ion'):
        (dev / name).touch()
        (dev / name).chmod(0o666)
    done = _board_cli(board_env, 'doctor', '--json', '--no-topics', '--dev', dev)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    checks = {check['name']: check for check in report['checks']}
    assert checks['hobot_dnn']['ok'] and checks['bpu model']['ok']
    assert checks['bpu model']['detail'].startswith(f'bpu: {bpu_model}')
    assert 'NV12 224x224 in, 1000 float32' in checks['bpu model']['detail']
    assert checks['bpu model']['data']['found'] == str(bpu_model)
    assert checks['bpu model']['data']['search'][-1] == {'path': str(bpu_model), 'exists': True}
    assert checks['bpu device']['ok'] and checks['bpu device']['data']['present']
    assert 'fast dds profile' in checks
    assert not checks['onnxruntime']['ok'] and 'pip install onnxruntime' in \
        checks['onnxruntime']['hint']
    assert report['usable_backends'] == ['bpu']


def test_benchmark_measures_the_bpu_without_tflite(board_env: dict[str, str],
                                                   tmp_path: Path) -> None:
    """`--models bpu`: the model the search finds, as on the board."""
    dataset = tmp_path / 'val.txt'
    dataset.write_text(''.join(f'{IMAGES / name} {index}\n' for name, index in EXPECTED.items()))
    markdown = tmp_path / 'bench.md'
    encodings = ['bgr8', 'nv12', 'yuyv', 'uyvy', 'jpeg']
    done = _board_cli(board_env, 'benchmark', '--models', 'bpu', '--peers', '--quick',
                      '--sizes', '320x240', '--encodings', *encodings, '--latency-threads', '1',
                      '--parallel', 'processes', '--workers', '1', '--iterations', '5',
                      '--duration', '0.2', '--dataset', dataset, '--json',
                      '--markdown', markdown)
    assert done.returncode in (0, 1), done.stderr  # 1 = a budget missed on a loaded machine
    report = json.loads(done.stdout)
    assert 'parameter count skipped' in done.stderr and report['params'] is None
    (model,) = report['models']
    assert model['name'] == 'bpu' and not model['peer']
    assert model['latency']['1']['count'] == 5
    assert model['throughput'][0]['mode'] == 'processes'
    assert model['throughput'][0]['frames'] > 0
    assert (model['accuracy']['top1'], model['accuracy']['images']) == (100.0, 3)
    assert [record['encoding'] for record in report['conversion']] == encodings
    assert all(record['ms']['count'] > 0 for record in report['conversion'])
    assert '| bpu |' in markdown.read_text()
