"""Data: the DataModule and the built-in datasets (digits, toy2d, text; mnist and images are in genloom-eval)."""
