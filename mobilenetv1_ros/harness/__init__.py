"""Everything that starts, drives and stops a classifier node from outside it.

The node child process, a peer that plays camera and robot over DDS, synthetic camera frames and
loopback isolation, for the demo, the performance tools and the tests.
"""
