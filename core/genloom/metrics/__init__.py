"""Evaluation metrics, registered as ``metric`` components."""
