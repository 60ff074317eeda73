"""Synthetic department data and local department servers for the demo, tests and benchmarks.

``trust.demo.generate`` writes the data; ``trust.demo.servers`` serves it, each department on
its own loopback port. Submodules are imported directly so that using one does not pull in
the other's dependencies.
"""
