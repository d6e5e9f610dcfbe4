"""The package's own vision_msgs definitions equal the interface files and upstream hashes."""

from __future__ import annotations


import pytest
from shared import VISION_MSGS_DIR

from mobilenetv1_ros.bag.messages import typestore
from mobilenetv1_ros.bag.vision_msgs_types import VISION_MSGS, VISION_MSGS_RIHS01



def _fields(text: str) -> list[str]:
    """Definition lines without comments, blank lines and repeated spaces."""
    lines = (line.split('#', 1)[0].strip() for line in text.splitlines())
    return [' '.join(line.split()) for line in lines if line]


@pytest.mark.parametrize('msgtype', sorted(VISION_MSGS))
def test_definition_equals_interface_file(msgtype: str) -> None:
    msg_file = VISION_MSGS_DIR / f'{msgtype.rsplit("/", 1)[1]}.msg'
    assert _fields(VISION_MSGS[msgtype]) == _fields(msg_file.read_text(encoding='utf-8'))


def test_every_interface_file_has_a_definition() -> None:
    files = {f'vision_msgs/msg/{path.stem}' for path in VISION_MSGS_DIR.glob('*.msg')}
    assert files == set(VISION_MSGS)


@pytest.mark.parametrize('msgtype', sorted(VISION_MSGS_RIHS01))
def test_type_hash_equals_upstream(msgtype: str) -> None:
    assert typestore().hash_rihs01(msgtype) == VISION_MSGS_RIHS01[msgtype]


def test_fields_equal_the_built_interface_package() -> None:
    vision_msgs = pytest.importorskip('vision_msgs.msg', reason='vision_msgs is not built here')
    for msgtype, text in VISION_MSGS.items():
        cls = getattr(vision_msgs, msgtype.rsplit('/', 1)[1])
        ours = {line.split()[1]: line.split()[0] for line in _fields(text) if '=' not in line}
        assert list(ours) == list(cls.get_fields_and_field_types()), msgtype
