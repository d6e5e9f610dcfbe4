"""The classifier node's parameters: the pipeline options plus the node's own, in one table."""

from __future__ import annotations

from mobilenetv1_ros.options import PIPELINE_OPTIONS, Option
from mobilenetv1_ros.procfs.thread_roles import INFERENCE_THREAD

__all__ = [
    'CLASS_LABELS',
    'HBM_PACKAGE',
    'HBM_TYPES',
    'HBM_TYPE_CHOICES',
    'INFERENCE_THREAD',
    'INPUT_MODES',
    'NODE_NAME',
    'NODE_OPTIONS',
    'PARAMETERS',
    'RELIABILITIES',
    'parameter',
]

#: Default name of the classifier node.
NODE_NAME = 'mobilenetv1_classifier'
INPUT_MODES = ('raw', 'compressed', 'hbmem')
RELIABILITIES = ('auto', 'reliable', 'best_effort')
#: The TROS shared-memory image interface package and the message types the node takes,
#: largest first (mipi_cam's default first).
HBM_PACKAGE = 'hbm_img_msgs'
HBM_TYPES = ('HbmMsg1080P', 'HbmMsg540P', 'HbmMsg480P')
#: Values of the hbmem_type parameter: auto takes the type the publishers on the topic have.
HBM_TYPE_CHOICES = ('auto', *HBM_TYPES)
#: Read-only string array the node publishes its class names in (VisionInfo points at it).
CLASS_LABELS = 'class_labels'

#: Parameters of the node that are not pipeline options.
NODE_OPTIONS: tuple[Option, ...] = (
    Option('input', '', 'raw',
           'raw: subscribe to `image` (sensor_msgs/Image); compressed: subscribe to '
           '`image/compressed` (sensor_msgs/CompressedImage, JPEG or PNG), resolved from '
           'the remapped `image` topic the way image_transport does; hbmem: subscribe to '
           '`image` as the TROS shared-memory image (hbm_img_msgs/HbmMsg*, what mipi_cam '
           'publishes on /hbmem_img by default).',
           choices=INPUT_MODES),
    Option('reliability', '', 'auto',
           'Image subscription reliability. auto: both a reliable and a best-effort '
           'subscription while the topic has no publisher (a camera starting later is heard '
           'from its first frame), then reliable when every publisher is reliable, best '
           'effort otherwise, re-checked twice a second and switched without losing frames. '
           'A qos_overrides.<topic>.subscription.reliability parameter other than auto takes '
           'precedence.',
           choices=RELIABILITIES),
    Option('publish_overlay', '', True,
           'Publish `overlay` (the frame with the top-k drawn) while it has subscribers.',
           live=True),
    Option('autostart', '', True,
           'Configure and activate at start-up; false leaves the node unconfigured for '
           'a lifecycle manager.'),
    Option('hbmem_type', '', 'auto',
           'Message type of input hbmem: HbmMsg1080P, HbmMsg540P or HbmMsg480P, or auto (the '
           'type of the publishers on the topic; HbmMsg1080P while there is none).',
           choices=HBM_TYPE_CHOICES),
    Option('hbmem_frame_id', '', 'camera',
           'header.frame_id of the results of input hbmem (the message carries no frame_id).'),
)

#: Every declared parameter, in declaration order.
PARAMETERS: tuple[Option, ...] = PIPELINE_OPTIONS + NODE_OPTIONS


def parameter(name: str) -> Option:
    """Return the spec of a parameter by name."""
    for spec in PARAMETERS:
        if spec.name == name:
            return spec
    raise KeyError(name)
