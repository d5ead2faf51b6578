"""Generic samplers the core registers for every plugin's models."""
