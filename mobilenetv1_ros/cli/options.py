"""Pipeline arguments shared by every subcommand that classifies, rendered from one table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mobilenetv1_ros.options import PIPELINE_OPTIONS, ClassifierOptions

if TYPE_CHECKING:
    import argparse
    from collections.abc import Collection

__all__ = ['add_pipeline_arguments', 'options_from_args']


def _metavar(name: str) -> str | None:
    if name.endswith('_path'):
        return 'PATH'
    return {'top_k': 'K', 'score_threshold': 'SCORE', 'num_threads': 'N'}.get(name)


def add_pipeline_arguments(parser: argparse.ArgumentParser, *, top_k: int | None = None,
                           names: Collection[str] | None = None) -> None:
    """Add --backend, --model, --labels, --crop, --interpolation, --top-k, ... to `parser`.

    Args:
        parser: The subcommand's parser.
        top_k: A default for --top-k other than the table's.
        names: Only these options (by name), for a command where the others are chosen
            another way; None: all of them.
    """
    group = parser.add_argument_group('pipeline')
    for spec in PIPELINE_OPTIONS:
        if names is not None and spec.name not in names:
            continue
        default = spec.default
        if spec.name == 'top_k' and top_k is not None:
            default = top_k
        # argparse %-formats help texts: a literal '%' of the table must be doubled.
        description = spec.description.replace('%', '%%')
        kwargs: dict[str, object] = {'dest': spec.name, 'default': default,
                                     'help': f'{description} (default: %(default)s)'}
        if spec.choices:
            kwargs['choices'] = spec.choices
        elif isinstance(spec.default, bool):
            kwargs['action'] = 'store_true'
        elif isinstance(spec.default, (int, float)):
            kwargs['type'] = type(spec.default)
        metavar = _metavar(spec.name)
        if metavar:
            kwargs['metavar'] = metavar
        group.add_argument(spec.flag, **kwargs)  # type: ignore[arg-type]


def options_from_args(args: argparse.Namespace) -> ClassifierOptions:
    """Build the pipeline options from parsed pipeline arguments (checked against the table)."""
    return ClassifierOptions.from_values(vars(args))
