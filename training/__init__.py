"""Offline tooling for crossinfonet_ros: data, augmentation, training, evaluation, export.

Run from the checkout (``python -m training.<tool>``); never installed, never imported by the node.
"""
