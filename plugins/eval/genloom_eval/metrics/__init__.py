"""Evaluation metrics, registered as ``metric`` components by the ``eval`` plugin."""
