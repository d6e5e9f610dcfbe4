"""What ROS 2 Humble's rosbag2 (0.15.x) needs to open a bag, checked without Humble.

Written from reading the humble branch of ros2/rosbag2 (rosbag2_storage metadata_io.cpp,
the sqlite3 storage plugin and rosbag2_transport qos.cpp), not copied from it:
- metadata.yaml: `rosbag2_bagfile_information` with `version`, `storage_identifier`,
  `duration.nanoseconds`, `starting_time.nanoseconds_since_epoch`, `message_count`,
  `relative_file_paths`, `topics_with_message_count` (name, type, serialization_format and,
  from version 4, `offered_qos_profiles` read as a *string*), from version 3
  `compression_format`/`compression_mode` strings, from version 5 `files` (path, starting_time,
  duration, message_count). The version number itself is not checked against a maximum;
  unknown keys are ignored.
- The offered QoS string is YAML: a list of profiles with integer history, reliability,
  durability and liveliness (Humble's rmw enums) and sec/nsec durations.
- sqlite3: the `schema` table (schema_version, ros_distro), `topics` (name, type,
  serialization_format, offered_qos_profiles) and `messages` (id, topic_id, timestamp, data),
  read by name with a join on topics.id ordered by timestamp and id.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import yaml

__all__ = ['humble_problems']

#: Highest value of each QoS enum in Humble's rmw (no best_available, added in Iron).
_HUMBLE_ENUM_MAX = {'history': 3, 'reliability': 3, 'durability': 3, 'liveliness': 4}
_DURATIONS = ('deadline', 'lifespan', 'liveliness_lease_duration')


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _qos_problems(name: str, text: Any) -> list[str]:
    if not isinstance(text, str):
        return [f'{name}: offered_qos_profiles is {type(text).__name__}, Humble reads a string']
    if not text:
        return []
    profiles = yaml.safe_load(text)
    if not isinstance(profiles, list):
        return [f'{name}: offered_qos_profiles is not a YAML list']
    problems = []
    for profile in profiles:
        for key, highest in _HUMBLE_ENUM_MAX.items():
            if not _is_int(profile.get(key)) or profile[key] > highest:
                problems.append(f'{name}: QoS {key} {profile.get(key)!r} is not a Humble enum')
        for key in _DURATIONS:
            value = profile.get(key)
            if not (isinstance(value, dict) and _is_int(value.get('sec'))
                    and _is_int(value.get('nsec'))):
                problems.append(f'{name}: QoS {key} {value!r} is not {{sec, nsec}}')
        if not _is_int(profile.get('depth')):
            problems.append(f'{name}: QoS depth {profile.get("depth")!r} is not an integer')
        if not isinstance(profile.get('avoid_ros_namespace_conventions'), bool):
            problems.append(f'{name}: QoS avoid_ros_namespace_conventions is not a bool')
    return problems


def _metadata_problems(bag: Path, info: dict[str, Any]) -> list[str]:
    problems = []
    version = info.get('version')
    if not _is_int(version) or version < 5:
        problems.append(f'version {version!r}: expected an integer >= 5')
        return problems
    for key in ('storage_identifier', 'compression_format', 'compression_mode'):
        if not isinstance(info.get(key), str):
            problems.append(f'{key} {info.get(key)!r} is not a string')
    if info.get('storage_identifier') != 'sqlite3':
        problems.append(f'storage {info.get("storage_identifier")!r}: Humble reads sqlite3 '
                        'without the optional mcap plugin')
    if not _is_int((info.get('duration') or {}).get('nanoseconds')):
        problems.append('duration.nanoseconds is missing')
    if not _is_int((info.get('starting_time') or {}).get('nanoseconds_since_epoch')):
        problems.append('starting_time.nanoseconds_since_epoch is missing')
    paths = info.get('relative_file_paths')
    if not isinstance(paths, list) or not paths:
        problems.append('relative_file_paths is not a list of files')
    else:
        problems += [f'relative file {p!r} is not in the bag directory' for p in paths
                     if not isinstance(p, str) or not (bag / p).is_file()]
    files = info.get('files')
    if not isinstance(files, list) or not files:
        problems.append('files (version 5) is missing')
    else:
        for entry in files:
            if not (isinstance(entry.get('path'), str)
                    and _is_int(entry.get('starting_time', {}).get('nanoseconds_since_epoch'))
                    and _is_int(entry.get('duration', {}).get('nanoseconds'))
                    and _is_int(entry.get('message_count'))):
                problems.append(f'files entry {entry!r} lacks path/starting_time/duration/'
                                'message_count')
    total = 0
    for topic in info.get('topics_with_message_count') or []:
        meta = topic.get('topic_metadata') or {}
        name = meta.get('name', '?')
        for key in ('name', 'type', 'serialization_format'):
            if not isinstance(meta.get(key), str):
                problems.append(f'{name}: topic_metadata.{key} is not a string')
        if meta.get('serialization_format') != 'cdr':
            problems.append(f'{name}: serialization {meta.get("serialization_format")!r}')
        if isinstance(meta.get('type'), str) and meta['type'].count('/') != 2:
            problems.append(f'{name}: type {meta["type"]!r} is not <package>/msg/<Name>')
        problems += _qos_problems(name, meta.get('offered_qos_profiles'))
        if not _is_int(topic.get('message_count')):
            problems.append(f'{name}: message_count is not an integer')
        else:
            total += topic['message_count']
    if info.get('message_count') != total:
        problems.append(f'message_count {info.get("message_count")!r} != topic sum {total}')
    return problems


def _sqlite_problems(path: Path, expected_messages: int) -> list[str]:
    problems = []
    db = sqlite3.connect(f'file:{path}?mode=ro', uri=True)
    try:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE "
                                               "type='table'")}
        for table, columns in (('topics', {'id', 'name', 'type', 'serialization_format',
                                           'offered_qos_profiles'}),
                               ('messages', {'id', 'topic_id', 'timestamp', 'data'}),
                               ('schema', {'schema_version', 'ros_distro'})):
            if table not in tables:
                problems.append(f'{path.name}: table {table} is missing')
                continue
            have = {row[1] for row in db.execute(f'PRAGMA table_info({table})')}
            if not columns <= have:
                problems.append(f'{path.name}: {table} lacks {sorted(columns - have)}')
        if problems:
            return problems
        (schema_version,) = db.execute('SELECT schema_version FROM schema').fetchone()
        if not _is_int(schema_version) or schema_version < 3:
            problems.append(f'{path.name}: schema_version {schema_version!r} < 3')
        db.execute('SELECT name, type, serialization_format, offered_qos_profiles '
                   'FROM topics ORDER BY id').fetchall()
        rows = db.execute('SELECT data, timestamp, topics.name, messages.id FROM messages '
                          'JOIN topics ON messages.topic_id = topics.id '
                          'ORDER BY messages.timestamp, messages.id').fetchall()
        if len(rows) != expected_messages:
            problems.append(f'{path.name}: {len(rows)} messages join a topic, metadata says '
                            f'{expected_messages}')
    finally:
        db.close()
    return problems


def humble_problems(bag: str | Path) -> list[str]:
    """Return why Humble's rosbag2 would not open `bag` (empty when it would)."""
    bag = Path(bag)
    document = yaml.safe_load((bag / 'metadata.yaml').read_text(encoding='utf-8'))
    info = (document or {}).get('rosbag2_bagfile_information')
    if not isinstance(info, dict):
        return ['metadata.yaml has no rosbag2_bagfile_information mapping']
    problems = _metadata_problems(bag, info)
    if problems:
        return problems
    counts = {entry['path']: entry['message_count'] for entry in info['files']}
    for relative in info['relative_file_paths']:
        problems += _sqlite_problems(bag / relative, counts.get(relative, -1))
    return problems
