"""evaluate: list files and class folders of the real test photos, through the node's path."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from mobilenetv1_ros.cli import main
from mobilenetv1_ros.cli.classify import bgr_frame, read_image
from mobilenetv1_ros.core.labels import load_labels
from mobilenetv1_ros.core.pipeline import ClassifierOptions
from mobilenetv1_ros.perf.dataset import (
    DatasetError,
    LabeledImage,
    load_dataset,
    parse_list,
    read_class_folders,
)
from mobilenetv1_ros.perf.evaluation import Evaluation, evaluate, paired
from mobilenetv1_ros.perf.subjects import create_subject

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / 'test' / 'resources' / 'images'
LABELS = ROOT / 'models' / 'ImageNet_1k.json'
#: The bundled photos and their ImageNet classes (test/resources/images/PROVENANCE.md).
KNOWN = {'bulbul.JPEG': 16, 'bird.bmp': 19, 'cat.bmp': 285, 'parrot.jpg': 88,
         'hot_dog.jpg': 934}
#: A photo given a wrong label on purpose: the cat is not a macaw.
MISLABELED = ('cat_720p.jpg', 88)


@pytest.fixture(scope='module')
def int8() -> object:
    subject = create_subject('onnx:int8', ClassifierOptions(), 1)
    yield subject
    subject.close()


@pytest.fixture
def photo_list(tmp_path: Path) -> Path:
    """A list file with './' and comma variants; images in the images/ folder beside it."""
    images = tmp_path / 'images'
    images.mkdir()
    for name in [*KNOWN, MISLABELED[0]]:
        shutil.copy(IMAGES / name, images / name)
    lines = ['# name class', *(f'./{name} {index}' for name, index in KNOWN.items()), '',
             f'{MISLABELED[0]},{MISLABELED[1]}']
    path = tmp_path / 'val.txt'
    path.write_text('\n'.join(lines) + '\n')
    return path


@pytest.mark.board
@pytest.mark.parametrize(('line', 'expected'), [
    ('a.jpg 3', ('a.jpg', 3)),
    ('./a.jpg\t3', ('a.jpg', 3)),
    ('dir/a b.jpg  12', ('dir/a b.jpg', 12)),
    ('a.jpg,3', ('a.jpg', 3)),
    ('./sub/a.jpg , 999', ('sub/a.jpg', 999)),
    ('"quoted.jpg" 5', ('quoted.jpg', 5)),
    ('img10.png 10', ('img10.png', 10)),
])
def test_list_line_formats(line: str, expected: tuple[str, int]) -> None:
    assert parse_list(['# comment', '', line]) == [expected]


@pytest.mark.board
@pytest.mark.parametrize(('line', 'match'), [
    ('only_a_path.jpg', r'line 1: .* is not "<path> <class index>"'),
    ('a.jpg -1', 'class index -1 is negative'),
    ('a.jpg cat', 'is not "<path> <class index>"'),
])
def test_bad_list_lines(line: str, match: str) -> None:
    with pytest.raises(DatasetError, match=match):
        parse_list([line], 'list.txt')


@pytest.mark.board
def test_list_file_resolves_beside_and_in_images(photo_list: Path, tmp_path: Path) -> None:
    shutil.copy(IMAGES / 'bulbul.JPEG', tmp_path / 'beside.jpg')
    mixed = tmp_path / 'mixed.txt'
    mixed.write_text('beside.jpg 16\nparrot.jpg 88\n')
    dataset = load_dataset(mixed)
    assert [(image.path, image.class_id) for image in dataset.images] == [
        (tmp_path / 'beside.jpg', 16), (tmp_path / 'images' / 'parrot.jpg', 88)]
    assert load_dataset(tmp_path).source == photo_list
    assert len(load_dataset(photo_list, limit=2)) == 2


@pytest.mark.board
def test_list_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / 'val.txt'
    missing.write_text('nowhere.jpg 1\n')
    with pytest.raises(DatasetError, match=r"image 'nowhere.jpg' does not exist"):
        load_dataset(missing)
    with pytest.raises(DatasetError, match='is neither a list file nor a folder'):
        load_dataset(tmp_path / 'absent')
    missing.write_text(f'{IMAGES / "cat.bmp"} 1000\n')
    with pytest.raises(DatasetError, match='class index 1000, the model has 1000 classes'):
        load_dataset(missing, num_classes=1000)
    with pytest.raises(DatasetError, match='limit 0 must be positive'):
        load_dataset(missing, limit=0)


def _class_folders(root: Path, names: dict[str, str]) -> None:
    for photo, folder in names.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(IMAGES / photo, root / folder / photo)


@pytest.mark.board
def test_class_folders_by_index_name_and_synset(tmp_path: Path) -> None:
    labels = load_labels(LABELS, 1000)
    _class_folders(tmp_path / 'a', {'bulbul.JPEG': '16', 'cat.bmp': 'Egyptian_cat',
                                    'parrot.jpg': 'macaw'})
    found = read_class_folders(tmp_path / 'a', labels)
    assert sorted((p.path.name, p.class_id) for p in found) == [
        ('bulbul.JPEG', 16), ('cat.bmp', 285), ('parrot.jpg', 88)]
    # WordNet ids map through a synset-words labels file (ImageNet's own wnids for these).
    wnids = {16: 'n01560419', 285: 'n02124075', 88: 'n01818515'}
    synset_words = tmp_path / 'synset_words.txt'
    synset_words.write_text(''.join(f'{wnids.get(i, f"n9{i:07d}")} {name}\n'
                                    for i, name in enumerate(labels.names)))
    _class_folders(tmp_path / 'b', {'bulbul.JPEG': 'n01560419', 'cat.bmp': 'n02124075'})
    found = read_class_folders(tmp_path / 'b', load_labels(synset_words, 1000))
    assert sorted((p.path.name, p.class_id) for p in found) == [('bulbul.JPEG', 16),
                                                                 ('cat.bmp', 285)]
    with pytest.raises(DatasetError, match='need a labels file with synsets'):
        read_class_folders(tmp_path / 'b', labels)
    _class_folders(tmp_path / 'c', {'cat.bmp': 'not a class'})
    with pytest.raises(DatasetError, match="'not a class'|not a class index"):
        read_class_folders(tmp_path / 'c', labels)


def test_evaluation_counts_hits_misses_and_per_class(int8: object, photo_list: Path) -> None:
    result = evaluate(int8, load_dataset(photo_list), progress=False)
    assert result.images == len(KNOWN) + 1 and not result.failures
    assert result.top1_correct == len(KNOWN)
    assert result.top1 == pytest.approx(100 * len(KNOWN) / (len(KNOWN) + 1))
    assert result.top5_correct >= result.top1_correct
    [miss] = result.misses
    assert Path(miss.path).name == MISLABELED[0] and miss.class_id == MISLABELED[1]
    assert miss.predicted[0] == 285 and miss.rank != 1
    macaw = result.per_class[88]
    assert (macaw.images, macaw.top1) == (2, 1)
    record = result.as_dict(load_labels(LABELS, 1000))
    assert record['errors'][0]['predicted_label'] == 'Egyptian cat'
    assert {row['class_id']: row['top1_errors'] for row in record['per_class']}[88] == 1


def test_evaluation_matches_classifier_classify(int8: object, photo_list: Path) -> None:
    """The evaluation's ranking is what Classifier.classify gives the node for a bgr8 frame."""
    classifier = int8.classifier  # type: ignore[attr-defined]
    result = evaluate(int8, load_dataset(photo_list), progress=False, decode_workers=3)
    miss = result.misses[0]
    classified = classifier.classify(bgr_frame(read_image(Path(miss.path))))
    assert tuple(p.class_id for p in classified.predictions) == miss.predicted
    assert classified.predictions[0].score == pytest.approx(miss.score)


def test_unreadable_image_is_a_failure_not_a_crash(tmp_path: Path, int8: object) -> None:
    (tmp_path / 'broken.jpg').write_bytes(b'not a jpeg')
    shutil.copy(IMAGES / 'bulbul.JPEG', tmp_path / 'bulbul.JPEG')
    (tmp_path / 'list.txt').write_text('broken.jpg 1\nbulbul.JPEG 16\n')
    result = evaluate(int8, load_dataset(tmp_path / 'list.txt'), progress=False)
    assert result.images == 1 and result.top1_correct == 1
    assert result.failures[0][0].endswith('broken.jpg')
    assert 'could not be decoded' in result.failures[0][1]


def test_cli_compares_models_in_one_json(photo_list: Path, capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    saved = tmp_path / 'out' / 'eval.json'
    code = main(['evaluate', str(photo_list), '--models', 'onnx:int8', 'onnx:float32', 'litert',
                 '--json', '--save', str(saved), '--threads', '1', '--no-progress'])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert document == json.loads(saved.read_text())
    assert document['dataset']['images'] == len(KNOWN) + 1
    assert len(document['machine']['loadavg']) == 3
    results = {r['name']: r for r in document['results']}
    assert list(results) == ['onnx:int8', 'onnx:float32', 'litert']
    assert results['litert']['peer'] and results['litert']['precision'] == 'uint8'
    assert 'paired' not in results['onnx:int8']
    for name in ('onnx:float32', 'litert'):
        assert results[name]['paired'] == {'baseline': 'onnx:int8', 'images': len(KNOWN) + 1,
                                           'gained': 0, 'lost': 0, 'p_value': 1.0}
    for record in results.values():
        assert record['top1_correct'] == len(KNOWN)
        assert [e['image'].endswith(MISLABELED[0]) for e in record['errors']] == [True]
        assert sum(row['images'] for row in record['per_class']) == len(KNOWN) + 1


def test_cli_text_table_and_folder_dataset(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    # Sorted folders: 16, hotdog, macaw; the limit leaves out the mislabeled cat.
    _class_folders(tmp_path / 'set', {'bulbul.JPEG': '16', 'hot_dog.jpg': 'hotdog',
                                      'cat_720p.jpg': 'macaw'})
    code = main(['evaluate', str(tmp_path / 'set'), '--backend', 'onnx', '--precision', 'int8',
                 '--limit', '2', '--no-progress'])
    out = capsys.readouterr().out
    assert code == 0
    assert '| onnx:int8 | int8 | 2 | 100.00 |' in out
    assert '(folders, 2 images)' in out


def test_cli_exit_code_for_failures_and_bad_spec(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / 'broken.jpg').write_bytes(b'\xff\xd8 truncated')
    (tmp_path / 'list.txt').write_text('broken.jpg 3\n')
    assert main(['evaluate', str(tmp_path / 'list.txt'), '--no-progress']) == 1
    assert 'failed:' in capsys.readouterr().out
    assert main(['evaluate', str(tmp_path / 'list.txt'), '--models', 'tensorflow']) == 2
    assert "'tensorflow' is not one of" in capsys.readouterr().err


@pytest.mark.board
def test_evaluation_module_does_not_import_rclpy() -> None:
    import subprocess

    code = ('import sys; import mobilenetv1_ros.perf.evaluation, mobilenetv1_ros.perf.suite, '
            'mobilenetv1_ros.perf.endtoend, mobilenetv1_ros.cli.evaluate, '
            'mobilenetv1_ros.cli.benchmark; assert "rclpy" not in sys.modules')
    subprocess.run([sys.executable, '-c', code], check=True)


def _recorded(name: str, hits: dict[str, bool]) -> Evaluation:
    """An evaluation of images a.jpg, b.jpg, ... of class 1: a hit ranks 1 first, a miss 2."""
    result = Evaluation(name, name, 'int8', False)
    for path, hit in hits.items():
        ranked = [1, 2, 3, 4, 5] if hit else [2, 1, 3, 4, 5]
        result.record(LabeledImage(Path(path), 1), ranked, 0.9)
    return result


@pytest.mark.board
@pytest.mark.parametrize(('gained', 'lost', 'p_value'), [
    (9, 5, 2 * (1 + 14 + 91 + 364 + 1001 + 2002) / 2 ** 14),
    (10, 0, 2 / 2 ** 10),
    (3, 3, 1.0),
    (0, 0, 1.0),
])
def test_paired_comparison_counts_discordant_images(gained: int, lost: int,
                                                    p_value: float) -> None:
    """Images only one side gets right, and the exact McNemar p-value of that split."""
    both = {f'both{i}.jpg': True for i in range(20)}
    neither = {f'neither{i}.jpg': False for i in range(4)}
    only_new = {f'new{i}.jpg': True for i in range(gained)}
    only_old = {f'old{i}.jpg': True for i in range(lost)}
    baseline = _recorded('old', {**both, **neither, **only_old,
                                 **{path: False for path in only_new}})
    other = _recorded('new', {**both, **neither, **only_new,
                              **{path: False for path in only_old}})
    pair = paired(baseline, other)
    assert (pair.baseline, pair.images, pair.gained, pair.lost) == (
        'old', 24 + gained + lost, gained, lost)
    assert pair.p_value == pytest.approx(p_value)
    reverse = paired(other, baseline)
    assert (reverse.gained, reverse.lost, reverse.p_value) == (lost, gained, pair.p_value)


@pytest.mark.board
def test_ties_at_the_top_are_counted_and_split() -> None:
    result = Evaluation('peer', 'peer', 'uint8', True)
    result.record(LabeledImage(Path('a.jpg'), 7), [3, 7, 9, 1, 2], 0.5, best=[3, 7])
    result.record(LabeledImage(Path('b.jpg'), 9), [3, 7, 9, 1, 2], 0.3, best=[3, 7, 9])
    result.record(LabeledImage(Path('c.jpg'), 4), [4, 7, 9, 1, 2], 0.9)
    assert (result.top1_correct, result.top1_ties) == (1, 2)
    assert result.top1_split == pytest.approx(100 * (1 / 2 + 1 / 3 + 1) / 3)
    record = result.as_dict()
    assert (record['top1_ties'], record['top1_ties_split']) == (2, 61.11)


def test_a_uint8_peer_tie_is_found_on_a_real_image(tmp_path: Path) -> None:
    """LiteRT's 8-bit softmax gives a white frame the same top score for two classes."""
    cv2.imwrite(str(tmp_path / 'white.png'), np.full((240, 320, 3), 255, np.uint8))
    peer = create_subject('litert', ClassifierOptions(), 1)
    try:
        probabilities = peer.probabilities(peer.infer(peer.prepare(
            read_image(tmp_path / 'white.png'))))
        best = np.flatnonzero(probabilities == probabilities.max()).tolist()
        assert len(best) == 2
        (tmp_path / 'list.txt').write_text(f'white.png {best[1]}\n')
        result = evaluate(peer, load_dataset(tmp_path / 'list.txt'), progress=False)
    finally:
        peer.close()
    assert (result.top1_correct, result.top1_ties) == (0, 1)
    assert result.misses[0].predicted[0] == best[0]
    assert result.top1_split == pytest.approx(50.0)
