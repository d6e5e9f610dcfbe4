"""Labeled image sets: list files of `<path> <class index>` lines or folders of class folders."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mobilenetv1_ros.core.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from mobilenetv1_ros.core.labels import Labels

__all__ = [
    'IMAGE_SUFFIXES',
    'LIST_FILE_NAMES',
    'Dataset',
    'DatasetError',
    'LabeledImage',
    'load_dataset',
    'parse_list',
    'read_class_folders',
    'read_list_file',
]

#: File suffixes taken as images in class folders (lower case).
IMAGE_SUFFIXES = ('.jpeg', '.jpg', '.png', '.bmp', '.webp', '.tif', '.tiff', '.ppm', '.pgm')
#: List files looked for, in this order, when a dataset folder is given.
LIST_FILE_NAMES = ('val.txt', 'labels.txt', 'list.txt', 'ground_truth.txt', 'val.csv')

# The class index is the last field; the path is everything before the last separator run,
# so paths may hold spaces.
_LIST_LINE = re.compile(r'^(?P<path>.+?)\s*[\s,]\s*(?P<index>[+-]?\d+)\s*$')
_SYNSET = re.compile(r'^n\d{8}$')


class DatasetError(ConfigError):
    """A list file or an image folder cannot be read as a labeled image set."""


@dataclass(frozen=True)
class LabeledImage:
    """One image file and its ground-truth class index."""

    path: Path
    class_id: int


@dataclass(frozen=True)
class Dataset:
    """Labeled images and where they came from.

    Attributes:
        images: The images in the order they are evaluated.
        source: The list file or folder they were read from.
        kind: 'list' or 'folders'.
    """

    images: tuple[LabeledImage, ...]
    source: Path
    kind: str

    def __len__(self) -> int:
        return len(self.images)


def parse_list(lines: Iterable[str], origin: str = '<list>') -> list[tuple[str, int]]:
    """Parse list-file lines into (relative path, class index) pairs.

    Each line is `<path> <class index>`, separated by whitespace or a comma; a leading './' is
    dropped; blank lines and lines starting with '#' are skipped.

    Raises:
        DatasetError: A line has no class index or a negative one; the message names the line.
    """
    entries = []
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith('#'):
            continue
        match = _LIST_LINE.match(line)
        if match is None:
            raise DatasetError(f'{origin} line {number}: {line!r} is not "<path> <class index>"')
        index = int(match.group('index'))
        if index < 0:
            raise DatasetError(f'{origin} line {number}: class index {index} is negative')
        path = match.group('path').strip().strip('"\'')
        while path.startswith('./'):
            path = path[2:]
        entries.append((path, index))
    return entries


def _resolve(relative: str, roots: Sequence[Path]) -> Path:
    for root in roots:
        candidate = root / relative
        if candidate.is_file():
            return candidate
    return roots[0] / relative


def read_list_file(path: Path, images_root: Path | None = None) -> list[LabeledImage]:
    """Read a list file; relative paths are looked up beside it, then in its images/ folder.

    Args:
        path: The list file.
        images_root: Folder the paths are relative to (overrides the lookup).

    Raises:
        DatasetError: Unreadable file, bad line, or an image that does not exist.
    """
    try:
        text = path.read_text(encoding='utf-8')
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f'List file {path} cannot be read: {error}') from None
    roots = [images_root] if images_root is not None else [path.parent, path.parent / 'images']
    images = []
    for relative, index in parse_list(text.splitlines(), str(path)):
        image = _resolve(relative, roots)
        if not image.is_file():
            raise DatasetError(f'List file {path}: image {relative!r} does not exist under '
                               f'{", ".join(str(root) for root in roots)}')
        images.append(LabeledImage(image, index))
    if not images:
        raise DatasetError(f'List file {path} names no images')
    return images


def _name_index(labels: Labels) -> dict[str, int]:
    """Map every lower-cased full name and synonym to its class, leaving out ambiguous ones."""
    index: dict[str, int] = {}
    ambiguous: set[str] = set()
    for class_id, name in enumerate(labels.names):
        keys = {name.strip().lower()} | {part.strip().lower() for part in name.split(',')}
        for key in keys - {''}:
            if key in index and index[key] != class_id:
                ambiguous.add(key)
            index.setdefault(key, class_id)
    return {key: value for key, value in index.items() if key not in ambiguous}


def _folder_classes(names: Sequence[str], labels: Labels | None,
                    num_classes: int | None, root: Path) -> dict[str, int]:
    """Map class folder names to class indices."""
    synsets = {wnid: i for i, wnid in enumerate(labels.synsets)} if labels and labels.synsets \
        else None
    by_name = _name_index(labels) if labels is not None else {}
    all_synsets = all(_SYNSET.match(name) for name in names)
    sorted_synsets = None
    if all_synsets and synsets is None and num_classes is not None \
            and len(names) == num_classes:
        # Every class present: the standard order is the sorted WordNet ids (ImageFolder).
        sorted_synsets = {wnid: i for i, wnid in enumerate(sorted(names))}
    classes = {}
    for name in names:
        if name.isdigit():
            classes[name] = int(name)
        elif _SYNSET.match(name) and synsets is not None and name in synsets:
            classes[name] = synsets[name]
        elif sorted_synsets is not None:
            classes[name] = sorted_synsets[name]
        elif name.replace('_', ' ').lower() in by_name:
            classes[name] = by_name[name.replace('_', ' ').lower()]
        else:
            hint = (' (WordNet ids need a labels file with synsets, e.g. synset_words.txt, '
                    'or all classes present)' if _SYNSET.match(name) else '')
            raise DatasetError(f'Class folder {root / name} is not a class index, a known '
                               f'synset or a class name{hint}')
    return classes


def read_class_folders(root: Path, labels: Labels | None = None,
                       num_classes: int | None = None) -> list[LabeledImage]:
    """Read a folder of class folders (named by class index, WordNet id or class name).

    Args:
        root: The folder holding one subfolder per class.
        labels: Labels for synset and name lookup (a synset-words labels file maps WordNet ids).
        num_classes: The model's class count: with that many WordNet-id folders and no synsets
            in the labels, the sorted ids give the standard class order.

    Raises:
        DatasetError: No class folders, an unknown folder name or no images at all.
    """
    folders = sorted(entry for entry in root.iterdir() if entry.is_dir())
    if not folders:
        raise DatasetError(f'Folder {root} has no class folders and no list file '
                           f'({", ".join(LIST_FILE_NAMES)})')
    classes = _folder_classes([folder.name for folder in folders], labels, num_classes, root)
    images = [LabeledImage(path, classes[folder.name])
              for folder in folders
              for path in sorted(folder.rglob('*'))
              if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES]
    if not images:
        raise DatasetError(f'Class folders under {root} hold no images '
                           f'({", ".join(IMAGE_SUFFIXES)})')
    return images


def load_dataset(source: Path, labels: Labels | None = None, *, limit: int | None = None,
                 images_root: Path | None = None, num_classes: int | None = None) -> Dataset:
    """Read a labeled image set from a list file or a folder.

    A folder holding one of LIST_FILE_NAMES is read through that list; any other folder as
    class folders.

    Args:
        source: List file or folder.
        labels: Labels for class folders named by synset or class name.
        limit: Keep the first `limit` images (list order, or sorted folder order).
        images_root: Folder the list file's paths are relative to.
        num_classes: The model's class count; indices at or above it are rejected.

    Raises:
        DatasetError: As read_list_file and read_class_folders; a class index out of range.
    """
    if limit is not None and limit < 1:
        raise DatasetError(f'Image limit {limit} must be positive')
    if source.is_dir():
        lists = [source / name for name in LIST_FILE_NAMES if (source / name).is_file()]
        if lists:
            images, kind, origin = read_list_file(lists[0], images_root), 'list', lists[0]
        else:
            images, kind, origin = (read_class_folders(source, labels, num_classes),
                                    'folders', source)
    elif source.is_file():
        images, kind, origin = read_list_file(source, images_root), 'list', source
    else:
        raise DatasetError(f'Dataset {source} is neither a list file nor a folder')
    if num_classes is not None:
        for image in images:
            if image.class_id >= num_classes:
                raise DatasetError(f'Image {image.path} has class index {image.class_id}, '
                                   f'the model has {num_classes} classes')
    if limit is not None:
        images = images[:limit]
    return Dataset(tuple(images), origin, kind)
