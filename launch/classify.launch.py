"""Launch the MobileNetV1 classifier node: a camera topic in, vision_msgs/Classification out.

Examples:
  ros2 launch mobilenetv1_ros classify.launch.py
  ros2 launch mobilenetv1_ros classify.launch.py image_topic:=/camera/image_raw backend:=onnx
  ros2 launch mobilenetv1_ros classify.launch.py namespace:=front params_file:=/path/my.yaml
  ros2 launch mobilenetv1_ros classify.launch.py input:=hbmem     # mipi_cam's /hbmem_img
  ros2 launch mobilenetv1_ros classify.launch.py dds_profile:=none   # no Fast DDS profile of ours

backend, model_path, labels_path and input override the params file only when given.
image_topic defaults to the topic the board's mipi_cam publishes for the input: /hbmem_img for
input:=hbmem, /image_raw otherwise.
dds_profile sets the Fast DDS profile of the node's process only (mobilenetv1_ros.ros.dds_profile
decides; the launch log says what it chose): auto (default) gives it the package's large-frames
profile unless the environment already names one (FASTDDS_/FASTRTPS_DEFAULT_PROFILES_FILE, e.g.
set by TROS's hobot_shm launch file), which it then keeps.
"""

from __future__ import annotations

from pathlib import Path

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, LogInfo, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from mobilenetv1_ros.ros.dds_profile import LARGE_FRAMES_FILE, choose_profile

PACKAGE = 'mobilenetv1_ros'
EXECUTABLE = 'classifier'
NODE_NAME = 'mobilenetv1_classifier'
#: Launch arguments that override the parameter of the same name when not empty.
PARAMETER_ARGUMENTS = ('backend', 'model_path', 'labels_path', 'input')
#: Default image topic per input launch argument (mipi_cam's topics); any other: DEFAULT_TOPIC.
INPUT_TOPICS = {'hbmem': '/hbmem_img'}
DEFAULT_TOPIC = '/image_raw'


def _classifier_node(context: LaunchContext) -> list[LogInfo | Node]:
    large_frames = Path(FindPackageShare(PACKAGE).perform(context)) / 'config' / LARGE_FRAMES_FILE
    profile = choose_profile(LaunchConfiguration('dds_profile').perform(context),
                             context.environment, large_frames)
    overrides = {}
    for name in PARAMETER_ARGUMENTS:
        value = LaunchConfiguration(name).perform(context)
        if value:
            overrides[name] = value
    image_topic = (LaunchConfiguration('image_topic').perform(context)
                   or INPUT_TOPICS.get(overrides.get('input', ''), DEFAULT_TOPIC))
    return [LogInfo(msg=profile.description), Node(
        package=PACKAGE,
        executable=EXECUTABLE,
        name=NODE_NAME,
        namespace=LaunchConfiguration('namespace'),
        parameters=[LaunchConfiguration('params_file'), overrides],
        remappings=[('image', image_topic)],
        arguments=['--ros-args', '--log-level', LaunchConfiguration('log_level')],
        additional_env=profile.env,
        output='screen',
        emulate_tty=True,
    )]


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments and the classifier node."""
    return LaunchDescription([
        DeclareLaunchArgument(
            'image_topic', default_value='',
            description='Camera topic to classify (remaps the node input `image`); empty: '
                        '/hbmem_img with input:=hbmem (mipi_cam in its default shared_mem '
                        'mode), else /image_raw (mipi_cam with mipi_io_method:=ros, nv12). With '
                        'input compressed, <image_topic>/compressed is used.'),
        DeclareLaunchArgument(
            'input', default_value='',
            description='raw, compressed or hbmem (hbm_img_msgs/HbmMsg*, the TROS shared-memory '
                        'image); empty: the params file value'),
        DeclareLaunchArgument(
            'backend', default_value='',
            description='auto, bpu, onnx or openvino (opt-in, needs the openvino package); '
                        'empty: the params file value (auto: bpu on the RDK X5, onnx with the '
                        'bundled CPU model elsewhere; never openvino)'),
        DeclareLaunchArgument(
            'model_path', default_value='',
            description='Model file (.bin for bpu, .onnx for onnx and openvino); empty: the '
                        'params file value (default model of the backend)'),
        DeclareLaunchArgument(
            'labels_path', default_value='',
            description='Labels file; empty: the params file value (bundled ImageNet_1k.json)'),
        DeclareLaunchArgument(
            'params_file',
            default_value=PathJoinSubstitution([FindPackageShare(PACKAGE), 'config',
                                                'classifier.yaml']),
            description='Parameters file of the node'),
        DeclareLaunchArgument(
            'namespace', default_value='',
            description='Namespace of the node and of its relative topics'),
        DeclareLaunchArgument(
            'dds_profile', default_value='auto',
            description="Fast DDS profile of the node process only: auto (the package's "
                        'config/fastdds_large_frames.xml, 32 MiB shared-memory segments, unless '
                        'FASTDDS_DEFAULT_PROFILES_FILE or FASTRTPS_DEFAULT_PROFILES_FILE is set, '
                        'e.g. by TROS hobot_shm: then that one), large_frames (ours, over the '
                        "environment's), none (nothing of ours: the environment's) or a path "
                        'to an XML profile file'),
        DeclareLaunchArgument(
            'log_level', default_value='info',
            description='Logging level: debug, info, warn, error or fatal'),
        OpaqueFunction(function=_classifier_node),
    ])
