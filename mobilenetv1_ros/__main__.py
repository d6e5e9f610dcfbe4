"""`python -m mobilenetv1_ros` runs the `mobilenetv1-ros` command."""

import sys

from mobilenetv1_ros.cli import main

sys.exit(main())
