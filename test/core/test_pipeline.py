"""The one Classifier: prepare, infer, rank and finish, each stage timed, on real photos."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import pytest
from shared import IMAGES_DIR, LABELS_FILE, PHOTO_CLASSES

from mobilenetv1_ros.core.backends.onnx import OnnxBackend
from mobilenetv1_ros.core.errors import (
    BackendError,
    ConfigError,
    ImageError,
    ImageTooLargeError,
    LabelsError,
)
from mobilenetv1_ros.core.frames import CompressedFrame, RawFrame, bgr_frame, read_image
from mobilenetv1_ros.core.labels import load_labels
from mobilenetv1_ros.core.pipeline import Classifier, Prepared, Result
from mobilenetv1_ros.core.preprocess import Preprocessor


@pytest.fixture
def classifier(exported: dict[str, Path]) -> Iterator[Classifier]:
    instance = Classifier(OnnxBackend(exported['int8'], num_threads=1),
                          load_labels(LABELS_FILE, 1000))
    yield instance
    instance.close()


@pytest.mark.parametrize('name', sorted(PHOTO_CLASSES))
def test_classify_finds_the_class_and_times_every_stage(classifier: Classifier,
                                                        name: str) -> None:
    result = classifier.classify(bgr_frame(read_image(IMAGES_DIR / name)))
    assert isinstance(result, Result)
    assert result.top is not None and result.top.class_id == PHOTO_CLASSES[name]
    assert result.top.label == classifier.labels.name(PHOTO_CLASSES[name])
    assert [p.score for p in result.predictions] == sorted(
        (p.score for p in result.predictions), reverse=True)
    assert len(result.predictions) == 5
    assert result.probabilities.shape == (1000,)
    assert result.probabilities.sum() == pytest.approx(1.0, abs=1e-4)
    times = result.times
    assert min(times.convert_ms, times.infer_ms, times.postprocess_ms) >= 0.0
    assert times.infer_ms > 0.0
    assert times.total_ms == pytest.approx(times.convert_ms + times.infer_ms
                                           + times.postprocess_ms)


def test_prepare_and_finish_are_classify_in_two_steps(classifier: Classifier) -> None:
    image = read_image(IMAGES_DIR / 'parrot.jpg')
    frame = bgr_frame(image)
    prepared = classifier.prepare(frame)
    assert isinstance(prepared, Prepared) and prepared.convert_ms >= 0.0
    np.testing.assert_array_equal(prepared.nv12, Preprocessor(224, 224).from_bgr(image))
    finished = classifier.finish(prepared)
    assert finished.times.convert_ms == prepared.convert_ms
    whole = classifier.classify(frame)
    assert finished.predictions == whole.predictions
    np.testing.assert_array_equal(finished.probabilities, whole.probabilities)


def test_infer_and_rank_are_the_backend_and_the_postprocessing(classifier: Classifier) -> None:
    nv12 = classifier.prepare(bgr_frame(read_image(IMAGES_DIR / 'cat.bmp'))).nv12
    scores = classifier.infer(nv12)
    np.testing.assert_array_equal(scores, classifier.backend.infer(nv12))
    predictions, probabilities = classifier.rank(scores)
    assert predictions[0].class_id == PHOTO_CLASSES['cat.bmp']
    np.testing.assert_array_equal(probabilities, scores)  # the model outputs probabilities
    logits = np.log(np.maximum(scores, 1e-12))
    ranked, softmax = classifier.rank(logits)
    assert [p.class_id for p in ranked] == [p.class_id for p in predictions]
    np.testing.assert_allclose(softmax, scores, atol=1e-5)


def test_top_k_and_threshold_change_between_calls(classifier: Classifier) -> None:
    frame = bgr_frame(read_image(IMAGES_DIR / 'bulbul.JPEG'))
    classifier.top_k = 2
    assert len(classifier.classify(frame).predictions) == 2
    classifier.top_k = 10
    classifier.score_threshold = 0.5
    kept = classifier.classify(frame).predictions
    assert 1 <= len(kept) < 10 and all(p.score >= 0.5 for p in kept)
    classifier.score_threshold = 1.0
    empty = classifier.classify(frame)
    assert empty.predictions == [] and empty.top is None


@pytest.mark.parametrize('crop', ['center_crop', 'stretch', 'letterbox'])
def test_settings_reach_the_preprocessor(exported: dict[str, Path], crop: str) -> None:
    backend = OnnxBackend(exported['int8'], num_threads=1)
    classifier = Classifier(backend, load_labels(LABELS_FILE, 1000), crop=crop,
                            interpolation='area', top_k=3)
    try:
        image = read_image(IMAGES_DIR / 'cat_720p.jpg')
        expected = Preprocessor(224, 224, crop, 'area').from_bgr(image)
        np.testing.assert_array_equal(classifier.prepare(bgr_frame(image)).nv12, expected)
        assert len(classifier.classify(bgr_frame(image)).predictions) == 3
    finally:
        classifier.close()


def test_compressed_frames_classify_like_raw_ones(classifier: Classifier) -> None:
    image = read_image(IMAGES_DIR / 'parrot.jpg')
    ok, png = cv2.imencode('.png', image)
    assert ok
    compressed = classifier.classify(CompressedFrame('png', png.tobytes()))
    raw = classifier.classify(bgr_frame(image))
    assert compressed.predictions == raw.predictions


def test_the_pixel_cap_reaches_the_preprocessor(exported: dict[str, Path]) -> None:
    image = read_image(IMAGES_DIR / 'cat_720p.jpg')
    height, width = image.shape[:2]
    ok, data = cv2.imencode('.jpg', image)
    assert ok
    frame = CompressedFrame('jpeg', data.tobytes())
    below = Classifier(OnnxBackend(exported['int8'], num_threads=1),
                       load_labels(LABELS_FILE, 1000), max_pixels=width * height - 1)
    try:
        assert below.preprocessor.max_pixels == width * height - 1
        with pytest.raises(ImageTooLargeError, match=rf'{width}x{height} .*cap of '
                                                     rf'{width * height - 1} pixels'):
            below.prepare(frame)
        # The cap is on compressed frames' declared size: the same picture raw still passes.
        assert below.classify(bgr_frame(image)).top is not None
    finally:
        below.close()
    at = Classifier(OnnxBackend(exported['int8'], num_threads=1),
                    load_labels(LABELS_FILE, 1000), max_pixels=width * height)
    try:
        prepared = at.prepare(frame)
        assert prepared.picture is not None and prepared.picture.shape[2] == 3
    finally:
        at.close()


def test_bad_frames_fail_in_the_convert_stage(classifier: Classifier) -> None:
    with pytest.raises(ImageError, match='Data length 5'):
        classifier.prepare(RawFrame('bgr8', 4, 4, 12, bytes(5)))
    with pytest.raises(ImageError, match='10 bytes'):
        classifier.classify(CompressedFrame('jpeg', b'not a jpeg'))


def test_describe_names_backend_and_labels(classifier: Classifier,
                                           exported: dict[str, Path]) -> None:
    line = classifier.describe()
    assert line.startswith(classifier.backend.describe())
    assert str(exported['int8']) in line
    assert f'1000 classes from {LABELS_FILE}' in line


def test_bad_settings_are_config_errors(exported: dict[str, Path]) -> None:
    labels = load_labels(LABELS_FILE, 1000)
    backend = OnnxBackend(exported['int8'], num_threads=1)
    try:
        for kwargs, match in [({'top_k': 0}, 'top_k 0'),
                              ({'score_threshold': 1.5}, 'score_threshold 1.5'),
                              ({'output_activation': 'sigmoid'}, "'sigmoid'"),
                              ({'crop': 'zoom'}, "'zoom'"),
                              ({'interpolation': 'lanczos9'}, "'lanczos9'"),
                              ({'max_pixels': 0}, 'pixel cap 0')]:
            with pytest.raises(ConfigError, match=match):
                Classifier(backend, labels, **kwargs)
    finally:
        backend.close()


def test_labels_must_match_the_model(exported: dict[str, Path], tmp_path: Path) -> None:
    short = tmp_path / 'three.txt'
    short.write_text('a\nb\nc\n')
    backend = OnnxBackend(exported['int8'], num_threads=1)
    try:
        with pytest.raises(LabelsError, match='has 3 names but the model has 1000 outputs'):
            Classifier(backend, load_labels(short))
    finally:
        backend.close()


def test_close_releases_the_backend(classifier: Classifier) -> None:
    frame = bgr_frame(read_image(IMAGES_DIR / 'cat.bmp'))
    classifier.classify(frame)
    classifier.close()
    with pytest.raises(BackendError, match='closed'):
        classifier.classify(frame)
