"""Thin rclpy shells: the bridge, the reach controller and the training node convert messages to and from
numpy and leave every decision to ``core`` and ``rl``. Never imports ``tools``.
"""
