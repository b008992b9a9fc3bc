"""What users and developers run on top of the nodes: the ``ikrl`` CLI, demo, soak, goal runner, benchmarks.

May import every other layer; nothing imports it.
"""
