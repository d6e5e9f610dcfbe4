"""The kernel's accounting of a process, its threads and the machine, read from /proc.

Per-thread CPU time split by the node's thread roles, for the node's own /diagnostics and for
the measurement tools. Linux only; imports nothing else of the package.
"""
