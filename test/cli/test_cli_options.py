"""Every classifying command renders the one option table (mobilenetv1_ros/options.py)."""

from __future__ import annotations

import argparse

import pytest

from mobilenetv1_ros.cli import build_parser
from mobilenetv1_ros.cli.options import options_from_args
from mobilenetv1_ros.options import (
    BACKEND_CHOICES,
    PIPELINE_OPTIONS,
    ClassifierOptions,
    Option,
)

#: The command-line options are the same on the board (`board`: test/conftest.py).
pytestmark = pytest.mark.board

#: Commands that build a classifier -> their positional arguments.
CLASSIFYING = {
    'classify': ['x.jpg'],
    'evaluate': ['list.txt'],
    'bag classify': ['in.bag', '-o', 'out.bag'],
    'bag benchmark': ['in.bag'],
    'benchmark': [],
}


def _argv(command: str, *flags: str) -> list[str]:
    return [*command.split(), *CLASSIFYING[command], *flags]


def _actions(command: str) -> dict[str, argparse.Action]:
    """The actions of a (sub)subcommand's parser, by destination."""
    parser = build_parser()
    for word in command.split():
        (subparsers,) = [action for action in parser._actions  # noqa: SLF001 - no public walk
                         if isinstance(action, argparse._SubParsersAction)]  # noqa: SLF001
        parser = subparsers.choices[word]
    return {action.dest: action for action in parser._actions}  # noqa: SLF001


def _check_rendered(command: str, spec: Option, action: argparse.Action) -> None:
    assert spec.flag in action.option_strings, (command, spec.name, action.option_strings)
    assert action.default == spec.default, (command, spec.name, action.default)
    assert (action.help or '').startswith(spec.description.replace('%', '%%')), (
        command, spec.name, action.help)
    if spec.choices:
        assert tuple(action.choices or ()) == spec.choices, (command, spec.name)


@pytest.mark.parametrize('command', [name for name in CLASSIFYING if name != 'benchmark'])
def test_every_pipeline_option_is_rendered_from_the_table(command: str) -> None:
    actions = _actions(command)
    for spec in PIPELINE_OPTIONS:
        assert spec.name in actions, f'{command}: no {spec.flag}'
        _check_rendered(command, spec, actions[spec.name])


def test_the_benchmark_s_pipeline_options_come_from_the_table() -> None:
    """Framing and labels are the table's options (backends and models come as --models)."""
    actions = _actions('benchmark')
    declared = [spec for spec in PIPELINE_OPTIONS if spec.name in actions]
    assert {'crop', 'interpolation', 'labels_path'} <= {spec.name for spec in declared}
    for spec in declared:
        _check_rendered('benchmark', spec, actions[spec.name])


@pytest.mark.parametrize('command', ['classify', 'evaluate', 'bag classify', 'bag benchmark'])
def test_parsed_flags_become_classifier_options(command: str) -> None:
    argv = _argv(command, '--backend', 'onnx', '--precision', 'float32', '--chroma', 'nearest',
                 '--crop', 'letterbox', '--interpolation', 'area', '--top-k', '3',
                 '--threshold', '0.2', '--threads', '2', '--activation', 'softmax', '--labels',
                 'names.txt', '--model', 'm.onnx')
    options = options_from_args(build_parser().parse_args(argv))
    assert options == ClassifierOptions(
        backend='onnx', model_path='m.onnx', precision='float32', chroma='nearest',
        labels_path='names.txt', crop='letterbox', interpolation='area', top_k=3,
        score_threshold=0.2, output_activation='softmax', num_threads=2)
    assert options_from_args(build_parser().parse_args(_argv(command))) == ClassifierOptions()


def test_the_demo_offers_the_registered_backends() -> None:
    assert tuple(_actions('demo')['backend'].choices) == BACKEND_CHOICES


@pytest.mark.parametrize('command', [*CLASSIFYING, 'demo'])
def test_the_help_of_every_command_with_pipeline_options_renders(
        command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args([*command.split(), '--help'])
    assert stopped.value.code == 0
    help_text = ' '.join(capsys.readouterr().out.split())
    if command != 'demo':
        assert 'central 87.5% of the shorter side' in help_text  # a literal % of the table
    assert '(default: auto)' in help_text  # --backend, or --activation for the benchmark
