"""Labels in every supported format, probabilities, top-k and thresholds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mobilenetv1_ros.core.errors import ConfigError, LabelsError
from mobilenetv1_ros.core.labels import load_labels
from mobilenetv1_ros.core.postprocess import to_probabilities, top_k

REPO = Path(__file__).resolve().parents[2]
BUNDLED_LABELS = REPO / 'models' / 'ImageNet_1k.json'

#: Labels and postprocessing run on the board (see the `board` marker in test/conftest.py).
pytestmark = pytest.mark.board


@pytest.fixture(scope='module')
def zoo_names() -> list[str]:
    """The model zoo's label list, the reference for every other format."""
    return json.loads(BUNDLED_LABELS.read_text())


def test_bundled_json_labels(zoo_names: list[str]) -> None:
    labels = load_labels(BUNDLED_LABELS, 1000)
    assert len(labels) == 1000
    assert labels.name(16) == 'bulbul' and labels.short_name(0) == 'tench'
    assert labels.name(1000) == 'class 1000'
    assert list(labels.names) == zoo_names


def test_text_with_background_line_and_synset_words_agree(tmp_path: Path,
                                                          zoo_names: list[str]) -> None:
    with_background = tmp_path / 'labels.txt'
    with_background.write_text('background\n' + '\n'.join(zoo_names) + '\n')
    plain = tmp_path / 'plain.txt'
    plain.write_text('\n'.join(zoo_names))
    synsets = tmp_path / 'synset_words.txt'
    synsets.write_text(''.join(f'n{i:08d} {name}\n' for i, name in enumerate(zoo_names)))
    assert load_labels(with_background, 1000).names == tuple(zoo_names)
    assert load_labels(plain, 1000).names == tuple(zoo_names)
    words = load_labels(synsets, 1000)
    assert words.names == tuple(zoo_names) and words.synsets[3] == 'n00000003'
    assert len(load_labels(with_background)) == 1001


def test_json_object_of_indices(tmp_path: Path) -> None:
    path = tmp_path / 'labels.json'
    path.write_text(json.dumps({'1': 'dog', '0': 'cat'}))
    assert load_labels(path, 2).names == ('cat', 'dog')


@pytest.mark.parametrize(('content', 'suffix', 'count', 'match'), [
    ('a\nb\nc\n', '.txt', 1000, r'has 3 names but the model has 1000 outputs'),
    ('', '.txt', None, 'holds no names'),
    ('{not json', '.json', None, 'not valid JSON'),
    ('[1, 2]', '.json', None, 'entry 1 is not a name'),
    ('{"0": "a", "2": "b"}', '.json', None, r'not 0\.\.1'),
])
def test_bad_labels_files(tmp_path: Path, content: str, suffix: str, count: int | None,
                          match: str) -> None:
    path = tmp_path / f'labels{suffix}'
    path.write_text(content)
    with pytest.raises(LabelsError, match=match):
        load_labels(path, count)


def test_missing_labels_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(LabelsError, match=str(tmp_path / 'nope.json')):
        load_labels(tmp_path / 'nope.json')


def test_probabilities_are_kept_and_logits_get_softmax() -> None:
    probabilities = np.array([0.7, 0.2, 0.1], dtype=np.float32)
    np.testing.assert_array_equal(to_probabilities(probabilities), probabilities)
    logits = np.array([2.0, 1.0, -1.0])
    softmax = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(to_probabilities(logits), softmax, rtol=1e-6)
    np.testing.assert_allclose(to_probabilities(probabilities, 'softmax').sum(), 1.0, rtol=1e-6)
    assert to_probabilities(probabilities, 'softmax')[0] < 0.7
    np.testing.assert_array_equal(to_probabilities(logits, 'none'), [1.0, 1.0, 0.0])
    with pytest.raises(ConfigError, match="'sigmoid'"):
        to_probabilities(logits, 'sigmoid')


def test_top_k_sorted_thresholded_and_deterministic_on_ties() -> None:
    scores = np.array([0.1, 0.3, 0.05, 0.3, 0.25])
    assert top_k(scores, 3) == [(1, 0.3), (3, 0.3), (4, 0.25)]
    assert top_k(scores, 10) == [(1, 0.3), (3, 0.3), (4, 0.25), (0, 0.1), (2, 0.05)]
    assert top_k(scores, 5, threshold=0.2) == [(1, 0.3), (3, 0.3), (4, 0.25)]
    assert top_k(scores, 5, threshold=0.9) == []
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ConfigError, match='top_k'):
            top_k(scores, bad)


def test_core_never_imports_rclpy() -> None:
    code = ('import sys, mobilenetv1_ros.core.pipeline, mobilenetv1_ros.core.image, '
            'mobilenetv1_ros.core.backends, mobilenetv1_ros.cli; '
            'bad = [m for m in sys.modules if m.split(".")[0] in '
            '("rclpy", "onnxruntime", "hobot_dnn", "sensor_msgs", "vision_msgs")]; '
            'print(bad); sys.exit(1 if bad else 0)')
    result = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
