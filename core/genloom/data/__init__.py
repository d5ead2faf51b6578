"""Data: the DataModule, any dataset as data, and the built-in datasets digits and toy2d
(text is in genloom-text; mnist and images are in genloom-eval)."""
