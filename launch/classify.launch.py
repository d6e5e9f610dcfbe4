"""Launch the MobileNetV1 classifier node: a camera topic in, vision_msgs/Classification out.

Examples:
  ros2 launch mobilenetv1_ros classify.launch.py
  ros2 launch mobilenetv1_ros classify.launch.py image_topic:=/camera/image_raw backend:=onnx
  ros2 launch mobilenetv1_ros classify.launch.py namespace:=front params_file:=/path/my.yaml

backend, model_path and labels_path override the params file only when given.
"""

from __future__ import annotations

from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

PACKAGE = 'mobilenetv1_ros'
EXECUTABLE = 'classifier'
NODE_NAME = 'mobilenetv1_classifier'
#: Launch arguments that override the parameter of the same name when not empty.
PARAMETER_ARGUMENTS = ('backend', 'model_path', 'labels_path')


def _classifier_node(context: LaunchContext) -> list[Node]:
    overrides = {}
    for name in PARAMETER_ARGUMENTS:
        value = LaunchConfiguration(name).perform(context)
        if value:
            overrides[name] = value
    return [Node(
        package=PACKAGE,
        executable=EXECUTABLE,
        name=NODE_NAME,
        namespace=LaunchConfiguration('namespace'),
        parameters=[LaunchConfiguration('params_file'), overrides],
        remappings=[('image', LaunchConfiguration('image_topic'))],
        arguments=['--ros-args', '--log-level', LaunchConfiguration('log_level')],
        output='screen',
        emulate_tty=True,
    )]


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments and the classifier node."""
    return LaunchDescription([
        DeclareLaunchArgument(
            'image_topic', default_value='/image_raw',
            description='Camera topic to classify (remaps the node input `image`). The RDK X5 '
                        'mipi_cam publishes /image_raw (nv12). With input:=compressed in the '
                        'params file, <image_topic>/compressed is used.'),
        DeclareLaunchArgument(
            'backend', default_value='',
            description='auto, bpu or onnx; empty: the params file value (auto: bpu on the '
                        'RDK X5, the bundled CPU model elsewhere)'),
        DeclareLaunchArgument(
            'model_path', default_value='',
            description='Model file (.bin for bpu, .onnx for onnx); empty: the params file '
                        'value (default model of the backend)'),
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
            'log_level', default_value='info',
            description='Logging level: debug, info, warn, error or fatal'),
        OpaqueFunction(function=_classifier_node),
    ])
