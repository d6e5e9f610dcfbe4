"""The pip environment's vision_msgs equals upstream vision_msgs 4.1.1 on the wire."""

from __future__ import annotations

import importlib

import pytest
from shared import VISION_MSGS_DIR

rosbags_typesys = pytest.importorskip('rosbags.typesys')


# RIHS01 type hashes of upstream vision_msgs 4.1.1 (what Jazzy and newer check on matching).
UPSTREAM_HASHES = {
    'ObjectHypothesis': 'RIHS01_51da43cec11c01957a64d1e05a24acd18aae7745ec30b74348ad5f6d634f7f90',
    'Classification': 'RIHS01_f74db28d0eaef3afb78f48bf2161cd709a1383a0309d3454383b25be11345143',
    'VisionInfo': 'RIHS01_95d3116a17484ad91c9a2686e1d54890bbfc3ff6c6a2de137738c4950d45d284',
    'VisionClass': 'RIHS01_1e4a11f0fed50b5623cb8ff26ca0e37952a48a9c074d16f804b44e9164c2037a',
    'LabelInfo': 'RIHS01_3d37df4015cdf660cc851c51897f2acd957e1ca6205ba0a99aebffb9406b0783',
}

# Upstream field lists as rosidl's Python generator reports them (`get_fields_and_field_types`).
UPSTREAM_FIELDS = {
    'ObjectHypothesis': {'class_id': 'string', 'score': 'double'},
    'Classification': {
        'header': 'std_msgs/Header',
        'results': 'sequence<vision_msgs/ObjectHypothesis>',
    },
    'VisionInfo': {
        'header': 'std_msgs/Header',
        'method': 'string',
        'database_location': 'string',
        'database_version': 'int32',
    },
    'VisionClass': {'class_id': 'uint16', 'class_name': 'string'},
    'LabelInfo': {
        'header': 'std_msgs/Header',
        'class_map': 'sequence<vision_msgs/VisionClass>',
        'threshold': 'float',
    },
}


@pytest.fixture(scope='module')
def typestore():
    """A typestore with our own vision_msgs definitions registered from the .msg files."""
    store = rosbags_typesys.get_typestore(rosbags_typesys.Stores.LATEST)
    assert not any(name.startswith('vision_msgs/') for name in store.fielddefs), (
        'the base typestore already knows vision_msgs; the test would not check our files')
    types = {}
    for path in sorted(VISION_MSGS_DIR.glob('*.msg')):
        types.update(rosbags_typesys.get_types_from_msg(
            path.read_text(), f'vision_msgs/msg/{path.stem}'))
    store.register(types)
    return store


def test_msg_files_are_exactly_the_contract() -> None:
    assert sorted(path.stem for path in VISION_MSGS_DIR.glob('*.msg')) == sorted(UPSTREAM_HASHES)


@pytest.mark.parametrize('name', sorted(UPSTREAM_HASHES))
def test_type_hash_equals_upstream(typestore, name: str) -> None:
    assert typestore.hash_rihs01(f'vision_msgs/msg/{name}') == UPSTREAM_HASHES[name]


def test_vision_class_unlabeled_constant(typestore) -> None:
    consts = typestore.fielddefs['vision_msgs/msg/VisionClass'][0]
    assert consts == [('UNLABELED', 'uint16', 65535)]


@pytest.fixture(scope='module')
def generated():
    """The rosidl-generated Python module of the installed vision_msgs (the venv's build)."""
    pytest.importorskip('rclpy', reason='rclpy not importable: not in the ROS/pip environment')
    return importlib.import_module('vision_msgs.msg')


@pytest.mark.parametrize('name', sorted(UPSTREAM_FIELDS))
def test_generated_class_fields(generated, name: str) -> None:
    cls = getattr(generated, name)
    assert cls.get_fields_and_field_types() == UPSTREAM_FIELDS[name]


def test_generated_constant_and_defaults(generated) -> None:
    assert generated.VisionClass.UNLABELED == 65535
    msg = generated.Classification()
    assert msg.results == []
    hypothesis = generated.ObjectHypothesis(class_id='16', score=0.25)
    assert (hypothesis.class_id, hypothesis.score) == ('16', 0.25)


def test_rclpy_announces_upstream_type_hash(generated) -> None:
    """The type hash rclpy announces for our publishers (graph info) equals upstream's."""
    import rclpy

    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('vision_msgs_contract', context=context)
    try:
        for name, expected in UPSTREAM_HASHES.items():
            topic = f'/contract/{name.lower()}'
            node.create_publisher(getattr(generated, name), topic, 1)
            (info,) = node.get_publishers_info_by_topic(topic)
            assert info.topic_type == f'vision_msgs/msg/{name}'
            assert str(info.topic_type_hash) == expected, name
    finally:
        node.destroy_node()
        rclpy.try_shutdown(context=context)
