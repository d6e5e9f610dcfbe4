"""What a long-running command-line tool needs from its terminal and process.

Progress bars and stop signals (SIGINT, SIGTERM, SIGHUP) for the bag tools, the evaluation, the
benchmarks and the demo. Imports nothing else of the package.
"""
