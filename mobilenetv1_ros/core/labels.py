"""Class names from the label files people have: JSON lists, text lists, synset words."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from mobilenetv1_ros.core.errors import LabelsError

__all__ = ['Labels', 'load_labels']

_SYNSET_LINE = re.compile(r'^(n\d{8})\s+(.+)$')
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


def _from_json(text: str, path: Path) -> tuple[list[str], list[str] | None]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise LabelsError(f'Labels file {path} is not valid JSON: {error}') from None
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
    for entry in data:
        if isinstance(entry, list) and len(entry) == 2:
            synsets.append(str(entry[0]))
            entry = entry[1]
        if not isinstance(entry, str):
            raise LabelsError(f'Labels file {path}: entry {entry!r} is not a name')
        names.append(entry)
    return names, (synsets if len(synsets) == len(names) and synsets else None)


def _from_text(text: str) -> tuple[list[str], list[str] | None]:
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    matches = [_SYNSET_LINE.match(line) for line in lines]
    if lines and all(matches):
        return ([m.group(2).strip() for m in matches if m],
                [m.group(1) for m in matches if m])
    return lines, None


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
        LabelsError: Missing, unreadable or empty file, or a count that does not match.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding='utf-8')
    except FileNotFoundError:
        raise LabelsError(f'Labels file {path} does not exist') from None
    except (OSError, UnicodeDecodeError) as error:
        raise LabelsError(f'Labels file {path} cannot be read: {error}') from None
    if path.suffix.lower() == '.json':
        names, synsets = _from_json(text, path)
    else:
        names, synsets = _from_text(text)
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
