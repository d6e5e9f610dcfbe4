"""The `mobilenetv1-ros` command: one entry point, one module per subcommand."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import TYPE_CHECKING

from mobilenetv1_ros.console.signals import stop_signals
from mobilenetv1_ros.core.errors import ClassifierError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ['SUBCOMMANDS', 'main']

#: Subcommand name -> module under mobilenetv1_ros.cli that defines
#: `add_arguments(parser)` and `run(args) -> int`, and whose docstring is its help.
SUBCOMMANDS = {
    'classify': 'classify',
    'export': 'export',
    'evaluate': 'evaluate',
    'benchmark': 'benchmark',
    'doctor': 'doctor',
    'bag': 'bag',
    'demo': 'demo',
    'load': 'load',
}


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog='mobilenetv1-ros',
        description='MobileNetV1 ImageNet classification on the RDK X5 BPU or the CPU.')
    subparsers = parser.add_subparsers(dest='command', metavar='COMMAND', required=True)
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(f'{__name__}.{module_name}')
        summary = (module.__doc__ or '').strip().splitlines()[0]
        sub = subparsers.add_parser(name, help=summary, description=module.__doc__,
                                    formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; return its exit code.

    2 for bad settings (as argparse does); 128 + N when signal N (SIGINT, SIGTERM or SIGHUP)
    stopped it: every stop signal unwinds the tool as Ctrl-C does, so child nodes are stopped
    and what was written is closed.
    """
    args = build_parser().parse_args(argv)
    with stop_signals() as signals:
        try:
            return int(args.run(args))
        except ClassifierError as error:
            print(f'mobilenetv1-ros {args.command}: error: {error}', file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return signals.exit_code or 130


if __name__ == '__main__':
    sys.exit(main())
