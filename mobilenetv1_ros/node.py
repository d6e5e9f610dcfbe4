"""`python -m mobilenetv1_ros.node` runs the classifier node (mobilenetv1_ros.ros.node)."""

import sys

from mobilenetv1_ros.ros.node import main

if __name__ == '__main__':
    sys.exit(main())
