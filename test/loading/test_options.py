"""The option table: one spelling, default and set of choices per classifier option."""

from __future__ import annotations

import dataclasses

import pytest

from mobilenetv1_ros.core.backends import BACKENDS
from mobilenetv1_ros.core.errors import ConfigError
from mobilenetv1_ros.core.postprocess import ACTIVATIONS
from mobilenetv1_ros.core.preprocess import CROP_POLICIES, INTERPOLATIONS
from mobilenetv1_ros.export import CHROMA_UPSAMPLINGS, PRECISIONS
from mobilenetv1_ros.options import (
    BACKEND_CHOICES,
    PIPELINE_OPTIONS,
    ClassifierOptions,
    Option,
    option,
)

#: The node's options are the same on the board (`board`: test/conftest.py).
pytestmark = pytest.mark.board


def test_every_field_is_an_option_in_table_order() -> None:
    fields = [field.name for field in dataclasses.fields(ClassifierOptions)]
    names = [spec.name for spec in PIPELINE_OPTIONS]
    assert sorted(fields) == sorted([*names, 'backend_options'])
    assert names[:4] == ['backend', 'model_path', 'precision', 'chroma']
    assert len(set(names)) == len(names)
    flags = [spec.flag for spec in PIPELINE_OPTIONS]
    assert all(flag.startswith('--') for flag in flags) and len(set(flags)) == len(flags)


def test_defaults_are_the_table_defaults() -> None:
    defaults = ClassifierOptions()
    for spec in PIPELINE_OPTIONS:
        assert getattr(defaults, spec.name) == spec.default, spec.name
        assert type(getattr(defaults, spec.name)) is type(spec.default), spec.name
    assert defaults.backend_options == {}
    assert (defaults.backend, defaults.model_path, defaults.labels_path) == ('auto', '', '')
    assert defaults.precision == 'int8'
    assert defaults.check() is defaults


def test_choices_come_from_where_each_concept_is_defined() -> None:
    assert BACKEND_CHOICES == ('auto', *BACKENDS)
    assert option('backend').choices == BACKEND_CHOICES
    assert option('precision').choices == PRECISIONS
    assert option('chroma').choices == CHROMA_UPSAMPLINGS
    assert option('chroma').default in CHROMA_UPSAMPLINGS
    assert option('crop').choices == CROP_POLICIES
    assert option('interpolation').choices == tuple(INTERPOLATIONS)
    assert option('output_activation').choices == ACTIVATIONS
    with pytest.raises(KeyError):
        option('no_such_option')


def test_only_top_k_and_threshold_are_live() -> None:
    assert [spec.name for spec in PIPELINE_OPTIONS if spec.live] == ['top_k',
                                                                      'score_threshold']
    assert all(spec.read_only != spec.live for spec in PIPELINE_OPTIONS)


def test_from_values_checks_and_ignores_what_is_not_an_option() -> None:
    options = ClassifierOptions.from_values(
        {'backend': 'onnx', 'top_k': 3, 'score_threshold': 0.25, 'chroma': 'nearest',
         'crop': None, 'image_topic': '/camera', 'input': 'raw'},
        backend_options={'allow_spinning': True})
    assert (options.backend, options.top_k, options.score_threshold) == ('onnx', 3, 0.25)
    assert options.chroma == 'nearest'
    assert options.crop == option('crop').default
    assert options.backend_options == {'allow_spinning': True}


@pytest.mark.parametrize(('values', 'match'), [
    ({'backend': 'tpu'}, r"backend = 'tpu' is not one of: auto, bpu, onnx, openvino"),
    ({'precision': 'fp16'}, "precision = 'fp16'"),
    ({'chroma': 'linear'}, "chroma = 'linear'"),
    ({'top_k': 0}, r'top_k = 0 is not integer in \[1, 1000\]'),
    ({'top_k': True}, 'top_k = True'),
    ({'top_k': 2.5}, 'top_k = 2.5'),
    ({'score_threshold': 1.5}, r'score_threshold = 1.5 is not number in \[0.0, 1.0\]'),
    ({'num_threads': -1}, 'num_threads = -1'),
    ({'crop': 'zoom'}, "crop = 'zoom'"),
    ({'interpolation': 'lanczos9'}, "interpolation = 'lanczos9'"),
    ({'output_activation': 'sigmoid'}, "output_activation = 'sigmoid'"),
])
def test_bad_values_are_named(values: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ClassifierOptions.from_values(values)
    with pytest.raises(ConfigError, match=match):
        ClassifierOptions(**values).check()  # type: ignore[arg-type]


def test_an_option_describes_its_constraints() -> None:
    free = Option('labels_path', '--labels', '', 'Labels.')
    assert free.constraints == '' and free.check('anything') == 'anything'
    assert option('crop').constraints == 'one of: center_crop, stretch, letterbox'
    assert option('top_k').constraints == 'integer in [1, 1000]'
    assert option('score_threshold').check(1) == 1
