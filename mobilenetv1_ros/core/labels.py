"""Class names from the label files people have: JSON lists, text lists, synset words.

Names go into every result, the label_info message, a node parameter and log lines, so a file
is read only when it is a regular file of at most MAX_LABELS_BYTES with at most MAX_NAMES names
(or one more than the model's classes), and each name must be non-empty, at most
MAX_NAME_CHARS long and free of control characters. A name that breaks
these rules is an error, never silently cleaned: it means the file is not the label list it
was taken for (a binary file, a wrong encoding, a damaged export), and a name changed behind
the user's back would be published as if it were right.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from mobilenetv1_ros.core.errors import LabelsError
from mobilenetv1_ros.core.files import read_regular_file

__all__ = ['MAX_LABELS_BYTES', 'MAX_NAMES', 'MAX_NAME_CHARS', 'Labels', 'load_labels']

MAX_LABELS_BYTES = 2 << 20
"""Largest labels file read. Room for the largest real label sets (ImageNet-21k's synset words)
with a wide margin, and no more: a parsed name costs tens of bytes of memory, and a file of
one-letter names holds one every two bytes."""

MAX_NAME_CHARS = 1024
"""Longest class name (or synset id) accepted, in characters."""

MAX_NAMES = 100_000
"""Most names a labels file may hold (ImageNet-21k has about 22 000)."""

_SYNSET_LINE = re.compile(r'^(n\d{8})\s+(.+)$')
# C0 and C1 controls but tab, and DEL (escape sequences reach terminals through the log, NUL
# cannot go into a ROS string), the Unicode line and paragraph separators (they break log
# lines) and lone surrogates (JSON escapes make them; they cannot be encoded as UTF-8).
_FORBIDDEN = re.compile('[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]')
_BACKGROUND_NAMES = ('background', '__background__', 'unlabeled', 'none', '???')


@dataclass(frozen=True)
class Labels:
    """Class names in model output order.

    Attributes:
        names: One name per class, as written in the file (e.g. 'tench, Tinca tinca').
        synsets: WordNet ids ('n01440764') when the file had them, else None.
        source: The file the names came from ('' when built in memory).
    """

    names: tuple[str, ...]
    synsets: tuple[str, ...] | None = None
    source: str = ''

    def __len__(self) -> int:
        return len(self.names)

    def name(self, index: int) -> str:
        """Return the full name of class `index`, or 'class <index>' when out of range."""
        return self.names[index] if 0 <= index < len(self.names) else f'class {index}'

    def short_name(self, index: int) -> str:
        """Return the first of the comma-separated synonyms of class `index`."""
        return self.name(index).split(',')[0].strip()

    def check_count(self, num_classes: int) -> None:
        """Raise LabelsError unless there is exactly one name per model output."""
        if len(self.names) != num_classes:
            raise LabelsError(
                f'Labels file {self.source or "<memory>"} has {len(self.names)} names but the '
                f'model has {num_classes} outputs')


class _TooManyNames(Exception):
    """Raised by a parser as soon as the file holds more names than the limit."""


def _preview(value: object) -> str:
    """Return repr(value), cut to a length a log line can carry."""
    text = repr(value)
    return text if len(text) <= 60 else f'{text[:57]}...'


def _check_name(name: str, path: Path, where: str) -> None:
    """Raise LabelsError unless `name` is non-blank, short enough and has no control character."""
    if not name.strip():
        raise LabelsError(f'Labels file {path}, {where}: the name is empty')
    if len(name) > MAX_NAME_CHARS:
        raise LabelsError(f'Labels file {path}, {where}: the name is {len(name)} characters '
                          f'long, more than the {MAX_NAME_CHARS} allowed')
    forbidden = _FORBIDDEN.search(name)
    if forbidden:
        raise LabelsError(f'Labels file {path}, {where}: the name {_preview(name)} contains the '
                          f'control character U+{ord(forbidden.group()):04X}')


def _from_json(text: str, path: Path, limit: int) -> tuple[list[str], list[str] | None]:
    try:
        data = json.loads(text)
    except ValueError as error:  # JSONDecodeError, or an integer of too many digits
        raise LabelsError(f'Labels file {path} is not valid JSON: {error}') from None
    except RecursionError:
        raise LabelsError(f'Labels file {path} is not a label list: its JSON is nested too '
                          'deeply') from None
    if isinstance(data, (dict, list)) and len(data) > limit:
        raise _TooManyNames
    if isinstance(data, dict):
        try:
            ordered = sorted(data.items(), key=lambda item: int(item[0]))
        except ValueError:
            raise LabelsError(f'Labels file {path}: JSON object keys must be class indices') \
                from None
        if [int(key) for key, _ in ordered] != list(range(len(ordered))):
            raise LabelsError(f'Labels file {path}: class indices are not 0..{len(ordered) - 1}')
        data = [value for _, value in ordered]
    if not isinstance(data, list):
        raise LabelsError(f'Labels file {path}: expected a JSON list of names')
    names, synsets = [], []
    for index, entry in enumerate(data):
        if isinstance(entry, list) and len(entry) == 2:
            synset = str(entry[0])
            _check_name(synset, path, f'synset of class {index}')
            synsets.append(synset)
            entry = entry[1]
        if not isinstance(entry, str):
            raise LabelsError(f'Labels file {path}: entry {_preview(entry)} is not a name')
        _check_name(entry, path, f'class {index}')
        names.append(entry)
    return names, (synsets if len(synsets) == len(names) and synsets else None)


def _from_text(text: str, path: Path, limit: int) -> tuple[list[str], list[str] | None]:
    names: list[str] = []
    # Lines end at \n, \r\n or \r only: str.splitlines also splits at separators such as
    # U+2028 and U+0085, which would shift every later class by one. Lazily, so that a file of
    # a million short lines is refused at name limit + 1, not after a million strings.
    for number, line in enumerate(io.StringIO(text, newline=None), 1):
        name = line.strip()
        if not name:
            continue
        if len(names) == limit:
            raise _TooManyNames
        _check_name(name, path, f'line {number}')
        names.append(name)
    matches = [_SYNSET_LINE.match(name) for name in names]
    if names and all(matches):
        return ([m.group(2).strip() for m in matches if m],
                [m.group(1) for m in matches if m])
    return names, None


def load_labels(path: str | Path, num_classes: int | None = None) -> Labels:
    """Read a labels file.

    Formats: a JSON list of names (the model zoo's ImageNet_1k.json) or an object of index to
    name; a text file with one name per line, optionally led by a background line; a
    synset-words file (`n01440764 tench, Tinca tinca`).

    Args:
        path: The labels file.
        num_classes: The model's output count. When given, a leading background line is
            dropped if the file has one name too many, and any other mismatch is an error.

    Raises:
        LabelsError: The path is not a readable regular file (it is missing, a directory, a
            FIFO, a device, ...), the file is over MAX_LABELS_BYTES, not UTF-8, empty, has a
            name that is empty, over MAX_NAME_CHARS or holds a control character, has more
            than MAX_NAMES names, or has a count that does not match.
    """
    path = Path(path)
    data = read_regular_file(path, 'Labels file', LabelsError, MAX_LABELS_BYTES)
    try:
        # utf-8-sig: a byte order mark (Windows editors write one) is not part of a name.
        text = data.decode('utf-8-sig')
    except UnicodeDecodeError as error:
        raise LabelsError(f'Labels file {path} is not UTF-8 text: {error}') from None
    # One name more than the model's outputs may be a background class.
    limit = MAX_NAMES if num_classes is None else min(num_classes + 1, MAX_NAMES)
    parse = _from_json if path.suffix.lower() == '.json' else _from_text
    try:
        names, synsets = parse(text, path, limit)
    except _TooManyNames:
        model = '' if num_classes is None else f' but the model has {num_classes} outputs'
        raise LabelsError(f'Labels file {path} has more than {limit} names{model}') from None
    if not names:
        raise LabelsError(f'Labels file {path} holds no names')
    if (num_classes is not None and len(names) == num_classes + 1
            and names[0].strip().lower() in _BACKGROUND_NAMES):
        names = names[1:]
        synsets = synsets[1:] if synsets else None
    labels = Labels(tuple(names), tuple(synsets) if synsets else None, str(path))
    if num_classes is not None:
        labels.check_count(num_classes)
    return labels
