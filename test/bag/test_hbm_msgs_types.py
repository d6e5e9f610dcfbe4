"""The pip environment's hbm_img_msgs equal the TROS camera's messages (hbm_img_msgs 2.0.0).

The expected layout is the one of D-Robotics/hobot_msgs (hbm_img_msgs/msg/HbmMsg*.msg), as
recorded in the shared board notes: a subscriber decodes the camera's bytes by it, so names,
types, order and array sizes must be exactly these.
"""

from __future__ import annotations

import json
from pathlib import Path
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DIR = REPO_ROOT / 'pip_env' / 'hbm_img_msgs'

#: Array size (and MAX_SIZE) of each message: 3 bytes per pixel of its resolution.
ARRAY_SIZES = {'HbmMsg1080P': 1920 * 1080 * 3, 'HbmMsg540P': 960 * 540 * 3,
               'HbmMsg480P': 640 * 480 * 3}

ENCODING_BYTES = 12


def _fields(array_size: int) -> dict[str, str]:
    """Fields of every HbmMsg type in order, as rclpy names their types."""
    return {
        'index': 'int32',
        'time_stamp': 'builtin_interfaces/Time',
        'height': 'uint32',
        'width': 'uint32',
        'data_size': 'uint32',
        'step': 'uint32',
        'encoding': f'uint8[{ENCODING_BYTES}]',
        'data': f'uint8[{array_size}]',
    }


def _msg_class(name: str) -> type:
    msg = pytest.importorskip('hbm_img_msgs.msg', reason='hbm_img_msgs is not built here')
    return getattr(msg, name)


def _nv12(photo: Path, width: int, height: int) -> np.ndarray:
    """A real photo resized to width x height, as NV12 bytes (luma plane, then UV pairs)."""
    bgr = cv2.imread(str(photo), cv2.IMREAD_COLOR)
    assert bgr is not None, photo
    i420 = cv2.cvtColor(cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA),
                        cv2.COLOR_BGR2YUV_I420).reshape(-1)
    luma = width * height
    quarter = luma // 4
    uv = np.empty(2 * quarter, dtype=np.uint8)
    uv[0::2] = i420[luma:luma + quarter]
    uv[1::2] = i420[luma + quarter:]
    return np.concatenate([i420[:luma], uv])


@pytest.mark.parametrize('name', sorted(ARRAY_SIZES))
def test_fields_names_types_and_order(name: str) -> None:
    cls = _msg_class(name)
    fields = cls.get_fields_and_field_types()
    assert list(fields.items()) == list(_fields(ARRAY_SIZES[name]).items())


@pytest.mark.parametrize('name', sorted(ARRAY_SIZES))
def test_max_size_constant_equals_array_size(name: str) -> None:
    cls = _msg_class(name)
    assert cls.MAX_SIZE == ARRAY_SIZES[name]
    msg = cls()
    assert len(msg.data) == cls.MAX_SIZE
    assert len(msg.encoding) == ENCODING_BYTES


@pytest.mark.parametrize('name', sorted(ARRAY_SIZES))
def test_type_hash_equals_the_documented_definition(name: str) -> None:
    """The built type's RIHS01 hash equals the one computed from the documented fields.

    Distributions with type hashes (Iron and later) exchange it in discovery; Humble has none.
    """
    cls = _msg_class(name)
    from ament_index_python.packages import get_package_share_directory
    from rosbags.typesys import get_types_from_msg, get_typestore, Stores

    described = Path(get_package_share_directory('hbm_img_msgs')) / 'msg' / f'{name}.json'
    if not described.is_file():
        pytest.skip(f'{described} does not exist: this ROS distribution has no type hashes')
    built = {entry['type_name']: entry['hash_string']
             for entry in json.loads(described.read_text(encoding='utf-8'))['type_hashes']}
    msgtype = f'hbm_img_msgs/msg/{name}'
    definition = '\n'.join(f'{kind} {field}' for field, kind in _fields(ARRAY_SIZES[name]).items())
    store = get_typestore(Stores.LATEST)
    store.register(get_types_from_msg(f'{definition}\nuint32 MAX_SIZE={cls.MAX_SIZE}\n', msgtype))
    assert built[msgtype] == store.hash_rihs01(msgtype)


@pytest.mark.parametrize(('name', 'width', 'height', 'photo'), [
    ('HbmMsg1080P', 960, 544, 'cat_720p.jpg'),
    ('HbmMsg1080P', 1920, 1080, 'cat_1080p.jpg'),
    ('HbmMsg540P', 960, 540, 'parrot.jpg'),
    ('HbmMsg480P', 640, 480, 'hot_dog.jpg'),
])
def test_serialization_round_trip_keeps_the_frame(
        name: str, width: int, height: int, photo: str, images_dir: Path) -> None:
    from rclpy.serialization import deserialize_message, serialize_message

    cls = _msg_class(name)
    frame = _nv12(images_dir / photo, width, height)
    msg = cls()
    msg.index = 41
    msg.time_stamp.sec = 1_700_000_000
    msg.time_stamp.nanosec = 123_456_789
    msg.width = width
    msg.height = height
    msg.step = width
    msg.data_size = frame.size
    msg.encoding = np.frombuffer(b'nv12'.ljust(ENCODING_BYTES, b'\0'), dtype=np.uint8)
    data = np.zeros(cls.MAX_SIZE, dtype=np.uint8)
    data[:frame.size] = frame
    # Bytes after data_size are padding; a recognisable pattern shows they travel too.
    data[frame.size:] = 0xA5
    msg.data = data

    wire = serialize_message(msg)
    # CDR: 4-byte encapsulation header, then every field at its natural alignment, which the
    # field order keeps without padding: the wire size is fixed, whatever data_size says.
    fixed = 4 + 4 + 8 + 4 * 4 + ENCODING_BYTES
    assert len(wire) == fixed + cls.MAX_SIZE
    back = deserialize_message(wire, cls)

    assert (back.index, back.width, back.height, back.step, back.data_size) == (
        41, width, height, width, frame.size)
    assert (back.time_stamp.sec, back.time_stamp.nanosec) == (1_700_000_000, 123_456_789)
    assert bytes(back.encoding).rstrip(b'\0').decode('ascii') == 'nv12'
    assert np.array_equal(np.asarray(back.data[:back.data_size]), frame)
    assert np.all(np.asarray(back.data[back.data_size:]) == 0xA5)


def test_package_is_hidden_from_colcon_and_versioned_as_upstream() -> None:
    # colcon skips every directory below one that holds COLCON_IGNORE: on a ROS install the
    # board's own hbm_img_msgs must be the only one.
    ignored = [path for path in (PACKAGE_DIR, *PACKAGE_DIR.parents)
               if path.is_relative_to(REPO_ROOT) and path != REPO_ROOT
               and (path / 'COLCON_IGNORE').is_file()]
    assert ignored, 'no COLCON_IGNORE between the repository root and pip_env/hbm_img_msgs'
    root = ET.parse(PACKAGE_DIR / 'package.xml').getroot()
    assert (root.findtext('name'), root.findtext('version')) == ('hbm_img_msgs', '2.0.0')
    msg_files = sorted(path.stem for path in (PACKAGE_DIR / 'msg').glob('*.msg'))
    assert msg_files == sorted(ARRAY_SIZES)
