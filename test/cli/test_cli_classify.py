"""`mobilenetv1-ros classify` on the bundled photos: text, JSON, annotations, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from shared import IMAGES_DIR, PHOTO_CLASSES

from mobilenetv1_ros.cli import main

CPU = ['--backend', 'onnx', '--threads', '1']


def test_json_names_each_photo_s_class(capsys: pytest.CaptureFixture[str]) -> None:
    photos = [IMAGES_DIR / name for name in PHOTO_CLASSES]
    assert main(['classify', '--json', '--top-k', '3', *CPU, *map(str, photos)]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document['backend'].startswith('onnx (int8, 1 threads')
    assert [record['image'] for record in document['results']] == [str(p) for p in photos]
    for record, name in zip(document['results'], PHOTO_CLASSES):
        assert len(record['predictions']) == 3
        assert record['predictions'][0]['class_id'] == PHOTO_CLASSES[name]
        assert set(record['times_ms']) == {'convert', 'infer', 'postprocess'}


def test_text_output_and_annotated_copies(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    photo = IMAGES_DIR / 'parrot.jpg'
    assert main(['classify', '--annotate', str(tmp_path / 'out'), '--crop', 'stretch', *CPU,
                 str(photo)]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0] == f'{photo}:'
    assert len(lines) == 6 and lines[1].split()[:1] == ['1.'] and ' 88 ' in lines[1]
    assert captured.err.startswith('# onnx (int8')
    annotated = cv2.imread(str(tmp_path / 'out' / 'parrot_classified.jpg'))
    assert annotated is not None and annotated.shape == cv2.imread(str(photo)).shape


def test_unreadable_images_are_named_and_exit_1(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'not a jpeg')
    missing = tmp_path / 'missing.png'
    assert main(['classify', *CPU, str(broken), str(missing),
                 str(IMAGES_DIR / 'cat.bmp')]) == 1
    captured = capsys.readouterr()
    assert f'{broken}: error: Image file {broken} could not be decoded' in captured.err
    assert f'{missing}: error: Image file {missing} does not exist' in captured.err
    assert f'{IMAGES_DIR / "cat.bmp"}:' in captured.out


def test_bad_settings_exit_2_naming_the_value(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / 'absent.onnx'
    assert main(['classify', '--backend', 'onnx', '--model', str(model),
                 str(IMAGES_DIR / 'cat.bmp')]) == 2
    assert str(model) in capsys.readouterr().err
    with pytest.raises(SystemExit) as caught:
        main(['classify', '--chroma', 'linear', str(IMAGES_DIR / 'cat.bmp')])
    assert caught.value.code == 2
    assert "invalid choice: 'linear'" in capsys.readouterr().err
