"""Build script of the mobilenetv1_ros ament_python package."""

from glob import glob
import os

from setuptools import find_packages, setup

PACKAGE = 'mobilenetv1_ros'


def _files(pattern: str) -> list[str]:
    return sorted(path for path in glob(pattern) if os.path.isfile(path))


setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(include=[PACKAGE, f'{PACKAGE}.*']),
    data_files=[
        ('share/ament_index/resource_index/packages', [f'resource/{PACKAGE}']),
        (f'share/{PACKAGE}', ['package.xml']),
        (f'share/{PACKAGE}/launch', _files('launch/*.launch.py')),
        # Every config file: the node's parameters (*.yaml) and the Fast DDS profile (*.xml).
        (f'share/{PACKAGE}/config', _files('config/*')),
        (f'share/{PACKAGE}/models', _files('models/*.tflite') + _files('models/*.json')
         + _files('models/LICENSE*') + _files('models/*.md')),
        (f'share/{PACKAGE}/images', _files('images/*')),
    ],
    install_requires=['setuptools', 'numpy', 'opencv-python-headless', 'onnx', 'onnxruntime',
                      'tflite', 'rosbags', 'tqdm'],
    zip_safe=True,
    maintainer='mobilenetv1_ros maintainers',
    maintainer_email='maintainers@mobilenetv1-ros.invalid',
    description='MobileNetV1 image classification node for ROS 2 (RDK X5 BPU and CPU).',
    license='Apache-2.0',
    extras_require={'test': ['pytest', 'hypothesis']},
    entry_points={
        'console_scripts': [
            'classifier = mobilenetv1_ros.ros.node:main',
            'mobilenetv1-classifier = mobilenetv1_ros.ros.node:main',
            'mobilenetv1-ros = mobilenetv1_ros.cli:main',
        ],
    },
)
