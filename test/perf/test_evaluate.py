"""evaluation: list files and class folders of the real photos, through the node's path."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from shared import IMAGES_DIR, KNOWN_PHOTOS, LABELS_FILE, MISLABELED_PHOTO, class_folders

from mobilenetv1_ros.core.frames import bgr_frame, read_image
from mobilenetv1_ros.core.labels import load_labels
from mobilenetv1_ros.options import ClassifierOptions
from mobilenetv1_ros.perf.dataset import (
    DatasetError,
    LabeledImage,
    load_dataset,
    parse_list,
    read_class_folders,
)
from mobilenetv1_ros.perf.evaluation import Evaluation, evaluate, paired
from mobilenetv1_ros.perf.subjects import create_subject


@pytest.fixture(scope='module')
def int8() -> object:
    subject = create_subject('onnx:int8', ClassifierOptions(), 1)
    yield subject
    subject.close()


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
    shutil.copy(IMAGES_DIR / 'bulbul.JPEG', tmp_path / 'beside.jpg')
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
    missing.write_text(f'{IMAGES_DIR / "cat.bmp"} 1000\n')
    with pytest.raises(DatasetError, match='class index 1000, the model has 1000 classes'):
        load_dataset(missing, num_classes=1000)
    with pytest.raises(DatasetError, match='limit 0 must be positive'):
        load_dataset(missing, limit=0)


def test_class_folders_by_index_name_and_synset(tmp_path: Path) -> None:
    labels = load_labels(LABELS_FILE, 1000)
    class_folders(tmp_path / 'a', {'bulbul.JPEG': '16', 'cat.bmp': 'Egyptian_cat',
                                    'parrot.jpg': 'macaw'})
    found = read_class_folders(tmp_path / 'a', labels)
    assert sorted((p.path.name, p.class_id) for p in found) == [
        ('bulbul.JPEG', 16), ('cat.bmp', 285), ('parrot.jpg', 88)]
    # WordNet ids map through a synset-words labels file (ImageNet's own wnids for these).
    wnids = {16: 'n01560419', 285: 'n02124075', 88: 'n01818515'}
    synset_words = tmp_path / 'synset_words.txt'
    synset_words.write_text(''.join(f'{wnids.get(i, f"n9{i:07d}")} {name}\n'
                                    for i, name in enumerate(labels.names)))
    class_folders(tmp_path / 'b', {'bulbul.JPEG': 'n01560419', 'cat.bmp': 'n02124075'})
    found = read_class_folders(tmp_path / 'b', load_labels(synset_words, 1000))
    assert sorted((p.path.name, p.class_id) for p in found) == [('bulbul.JPEG', 16),
                                                                 ('cat.bmp', 285)]
    with pytest.raises(DatasetError, match='need a labels file with synsets'):
        read_class_folders(tmp_path / 'b', labels)
    class_folders(tmp_path / 'c', {'cat.bmp': 'not a class'})
    with pytest.raises(DatasetError, match="'not a class'|not a class index"):
        read_class_folders(tmp_path / 'c', labels)


def test_evaluation_counts_hits_misses_and_per_class(int8: object, photo_list: Path) -> None:
    result = evaluate(int8, load_dataset(photo_list), progress=False)
    assert result.images == len(KNOWN_PHOTOS) + 1 and not result.failures
    assert result.top1_correct == len(KNOWN_PHOTOS)
    assert result.top1 == pytest.approx(100 * len(KNOWN_PHOTOS) / (len(KNOWN_PHOTOS) + 1))
    assert result.top5_correct >= result.top1_correct
    [miss] = result.misses
    assert Path(miss.path).name == MISLABELED_PHOTO[0] and miss.class_id == MISLABELED_PHOTO[1]
    assert miss.predicted[0] == 285 and miss.rank != 1
    macaw = result.per_class[88]
    assert (macaw.images, macaw.top1) == (2, 1)
    record = result.as_dict(load_labels(LABELS_FILE, 1000))
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
    shutil.copy(IMAGES_DIR / 'bulbul.JPEG', tmp_path / 'bulbul.JPEG')
    (tmp_path / 'list.txt').write_text('broken.jpg 1\nbulbul.JPEG 16\n')
    result = evaluate(int8, load_dataset(tmp_path / 'list.txt'), progress=False)
    assert result.images == 1 and result.top1_correct == 1
    assert result.failures[0][0].endswith('broken.jpg')
    assert 'could not be decoded' in result.failures[0][1]


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
