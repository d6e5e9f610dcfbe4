"""Labels in every supported format, probabilities, top-k and thresholds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from shared import LABELS_FILE as BUNDLED_LABELS
from special_files import SPECIAL_KINDS, finishes, special_file

from mobilenetv1_ros.core.errors import ConfigError, LabelsError
from mobilenetv1_ros.core.labels import MAX_LABELS_BYTES, MAX_NAME_CHARS, MAX_NAMES, load_labels
from mobilenetv1_ros.core.postprocess import to_probabilities, top_k

#: Labels and postprocessing run on the board (`board`: test/conftest.py).
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


@pytest.mark.parametrize('kind', sorted(SPECIAL_KINDS))
def test_special_files_are_refused_at_once_saying_what_they_are(tmp_path: Path,
                                                                kind: str) -> None:
    with special_file(kind, tmp_path) as path:
        outcome = finishes(lambda: load_labels(path, 1000))
    assert isinstance(outcome.error, LabelsError), outcome
    assert str(outcome.error).startswith(f'Labels file {path}')
    assert f'{SPECIAL_KINDS[kind]}, not a regular file' in str(outcome.error)


def test_a_file_over_the_size_cap_is_refused_unread(tmp_path: Path) -> None:
    huge = tmp_path / 'labels.txt'
    with open(huge, 'wb') as stream:
        stream.truncate(1 << 40)
    with pytest.raises(LabelsError, match=f'{huge} is {1 << 40} bytes, more than the '
                                          f'{MAX_LABELS_BYTES} bytes allowed'):
        load_labels(huge, 1000)
    just_over = tmp_path / 'labels.json'
    just_over.write_text(json.dumps(['x' * (MAX_LABELS_BYTES // 2)] * 2))
    with pytest.raises(LabelsError, match=f'more than the {MAX_LABELS_BYTES} bytes allowed'):
        load_labels(just_over, 2)


@pytest.mark.parametrize('suffix', ['.txt', '.json'])
def test_a_file_of_more_names_than_the_model_has_is_refused_early(tmp_path: Path,
                                                                  suffix: str) -> None:
    path = tmp_path / f'labels{suffix}'
    names = [f'{i:x}' for i in range(200_000)]  # under the size cap
    path.write_text(json.dumps(names) if suffix == '.json' else '\n'.join(names))
    with pytest.raises(LabelsError, match=f'^Labels file {path} has more than 1001 names but '
                                          'the model has 1000 outputs$'):
        load_labels(path, 1000)
    with pytest.raises(LabelsError, match=f'^Labels file {path} has more than {MAX_NAMES} '
                                          'names$'):
        load_labels(path)


def test_a_symbolic_link_to_the_bundled_labels_is_followed(tmp_path: Path,
                                                           zoo_names: list[str]) -> None:
    link = tmp_path / 'labels.json'
    link.symlink_to(BUNDLED_LABELS)
    labels = load_labels(link, 1000)
    assert list(labels.names) == zoo_names and labels.source == str(link)


@pytest.mark.parametrize('suffix', ['.json', '.txt'])
def test_class_names_of_100_kb_are_refused(tmp_path: Path, zoo_names: list[str],
                                           suffix: str) -> None:
    names = list(zoo_names)
    names[7] = 'cock' * 25600
    path = tmp_path / f'labels{suffix}'
    path.write_text(json.dumps(names[:20]) if suffix == '.json' else '\n'.join(names[:20]))
    where = 'class 7' if suffix == '.json' else 'line 8'
    with pytest.raises(LabelsError, match=f'{path}, {where}: the name is 102400 characters '
                                          f'long, more than the {MAX_NAME_CHARS} allowed'):
        load_labels(path, 20)


def test_the_longest_name_allowed_is_kept_whole(tmp_path: Path) -> None:
    path = tmp_path / 'labels.json'
    path.write_text(json.dumps(['a' * MAX_NAME_CHARS, 'b']))
    assert load_labels(path, 2).names == ('a' * MAX_NAME_CHARS, 'b')


@pytest.mark.parametrize(('names', 'where', 'says'), [
    (['tench', '', 'great white shark'], 'class 1', 'the name is empty'),
    (['tench', '   ', 'great white shark'], 'class 1', 'the name is empty'),
    (['tench', '\x1b[2Jgoldfish'], 'class 1', 'control character U+001B'),
    (['tench', 'gold\x00fish'], 'class 1', 'control character U+0000'),
    (['tench', 'gold\nfish'], 'class 1', 'control character U+000A'),
    (['tench', 'gold\x85fish'], 'class 1', 'control character U+0085'),
    (['tench', 'gold\u2028fish'], 'class 1', 'control character U+2028'),
    (['tench', 'gold\ud800fish'], 'class 1', 'control character U+D800'),
    ([['n01440764', 'tench'], ['n0144\x07', 'goldfish']], 'synset of class 1',
     'control character U+0007'),
])
def test_json_names_that_are_empty_or_hold_control_characters_are_refused(
        tmp_path: Path, names: list, where: str, says: str) -> None:
    path = tmp_path / 'labels.json'
    # json.dumps writes every control character and the lone surrogate as a \u escape.
    path.write_text(json.dumps(names))
    with pytest.raises(LabelsError, match=f'{path}, {where}: .*{re.escape(says)}'):
        load_labels(path, len(names))


@pytest.mark.parametrize(('text', 'where', 'says'), [
    ('tench\ngold\x1b[0mfish\n', 'line 2', 'control character U+001B'),
    ('tench\n\ngold\u2028fish\n', 'line 3', 'control character U+2028'),
    ('tench\ngold\x85fish\n', 'line 2', 'control character U+0085'),
    ('tench\ngold\x0cfish\n', 'line 2', 'control character U+000C'),
])
def test_text_lines_with_control_characters_are_refused_not_split(
        tmp_path: Path, text: str, where: str, says: str) -> None:
    path = tmp_path / 'labels.txt'
    path.write_text(text, encoding='utf-8')
    with pytest.raises(LabelsError, match=f'{path}, {where}: .*{re.escape(says)}'):
        load_labels(path, 2)


def test_line_ends_byte_order_mark_and_tabs_are_read(tmp_path: Path,
                                                     zoo_names: list[str]) -> None:
    crlf = tmp_path / 'crlf.txt'
    crlf.write_bytes('\r\n'.join(zoo_names).encode())
    old_mac = tmp_path / 'cr.txt'
    old_mac.write_bytes('\r'.join(zoo_names).encode())
    bom = tmp_path / 'bom.json'
    bom.write_bytes(b'\xef\xbb\xbf' + json.dumps(zoo_names).encode())
    tabs = tmp_path / 'synset_words.txt'
    tabs.write_text(''.join(f'n{i:08d}\t{name}\n' for i, name in enumerate(zoo_names)))
    for path in (crlf, old_mac, bom, tabs):
        assert load_labels(path, 1000).names == tuple(zoo_names), path
    assert load_labels(tabs, 1000).synsets[999] == 'n00000999'


def test_labels_that_are_not_utf8_are_named(tmp_path: Path) -> None:
    path = tmp_path / 'labels.txt'
    path.write_bytes('tench\nPiñata\n'.encode('latin-1'))
    with pytest.raises(LabelsError, match=f'{path} is not UTF-8 text'):
        load_labels(path, 2)


def test_json_with_an_integer_too_long_to_read_is_a_labels_error(tmp_path: Path) -> None:
    path = tmp_path / 'labels.json'
    path.write_text('["tench", ' + '7' * 5000 + ']')
    # Pythons with the integer digit limit (3.10.7 on) refuse the number while parsing.
    with pytest.raises(LabelsError, match=f'{path}(: entry .* is not a name| is not valid JSON)'):
        load_labels(path, 2)


def test_json_nested_too_deeply_is_a_labels_error(tmp_path: Path) -> None:
    path = tmp_path / 'labels.json'
    path.write_text('[' * 200_000 + ']' * 200_000)
    with pytest.raises(LabelsError, match=f'{path} is not a label list: its JSON is nested'):
        load_labels(path, 1000)


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

