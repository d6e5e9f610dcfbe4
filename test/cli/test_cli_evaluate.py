"""`mobilenetv1-ros evaluate`: several models in one JSON, text table, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shared import KNOWN_PHOTOS, MISLABELED_PHOTO, class_folders

from mobilenetv1_ros.cli import main


def test_cli_compares_models_in_one_json(photo_list: Path, capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    saved = tmp_path / 'out' / 'eval.json'
    code = main(['evaluate', str(photo_list), '--models', 'onnx:int8', 'onnx:float32', 'litert',
                 '--json', '--save', str(saved), '--threads', '1', '--no-progress'])
    assert code == 0
    document = json.loads(capsys.readouterr().out)
    assert document == json.loads(saved.read_text())
    assert document['dataset']['images'] == len(KNOWN_PHOTOS) + 1
    assert len(document['machine']['loadavg']) == 3
    results = {r['name']: r for r in document['results']}
    assert list(results) == ['onnx:int8', 'onnx:float32', 'litert']
    assert results['litert']['peer'] and results['litert']['precision'] == 'uint8'
    assert 'paired' not in results['onnx:int8']
    for name in ('onnx:float32', 'litert'):
        assert results[name]['paired'] == {'baseline': 'onnx:int8',
                                           'images': len(KNOWN_PHOTOS) + 1,
                                           'gained': 0, 'lost': 0, 'p_value': 1.0}
    for record in results.values():
        assert record['top1_correct'] == len(KNOWN_PHOTOS)
        assert [e['image'].endswith(MISLABELED_PHOTO[0]) for e in record['errors']] == [True]
        assert sum(row['images'] for row in record['per_class']) == len(KNOWN_PHOTOS) + 1


def test_cli_text_table_and_folder_dataset(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    # Sorted folders: 16, hotdog, macaw; the limit leaves out the mislabeled cat.
    class_folders(tmp_path / 'set', {'bulbul.JPEG': '16', 'hot_dog.jpg': 'hotdog',
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
