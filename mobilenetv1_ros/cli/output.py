"""Output of the commands that report a JSON document: --json, --save, the repeating command."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Mapping, Sequence

__all__ = ['add_output_arguments', 'command_line', 'emit', 'record_options']

#: Where record_options() keeps the options in the parsed arguments.
_RECORDED = 'recorded_options'
#: Options that choose where the output goes, not what is measured.
_OUTPUT_OPTIONS = frozenset({'help', 'json', 'save', 'markdown', 'no_progress'})


def add_output_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup,
                         document: str = 'report', json_help: str | None = None) -> None:
    """Add --json (print the document as JSON) and --save FILE (also write it there).

    Args:
        parser: The subcommand's parser or one of its argument groups.
        document: What the command reports, for the help texts.
        json_help: Help of --json other than 'print the <document> as JSON'.
    """
    parser.add_argument('--json', action='store_true',
                        help=json_help or f'print the {document} as JSON')
    parser.add_argument('--save', type=Path, default=None, metavar='FILE',
                        help=f'also write the {document} as JSON to FILE')


def emit(args: argparse.Namespace, document: Mapping[str, Any],
         show_text: Callable[[], None]) -> None:
    """Write the document to --save, then print it as JSON (--json) or call show_text()."""
    if args.save is not None:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps(document, indent=2) + '\n', encoding='utf-8')
    if args.json:
        json.dump(document, sys.stdout, indent=2)
        print()
    else:
        show_text()


def record_options(parser: argparse.ArgumentParser) -> None:
    """Keep the parser's options (flag, default, takes no value) for command_line().

    Call it after every option is added.
    """
    options = {action.dest: (action.option_strings[0], action.default, action.nargs == 0)
               for action in parser._actions  # noqa: SLF001 - argparse has no public list
               if action.option_strings and action.dest not in _OUTPUT_OPTIONS}
    parser.set_defaults(**{_RECORDED: options})


def command_line(words: Sequence[str], args: argparse.Namespace) -> str:
    """Return `words` plus every recorded option whose value is not its default, quoted.

    The command line a report records so that its figures can be reproduced.
    """
    line = list(words)
    for dest, (flag, default, no_value) in getattr(args, _RECORDED, {}).items():
        value = getattr(args, dest, default)
        if value == default:
            continue
        if no_value:
            line.append(flag)
        elif isinstance(value, (list, tuple)):
            line += [flag, *(str(item) for item in value)]
        elif value is not None:
            line += [flag, str(value)]
    return shlex.join(line)
