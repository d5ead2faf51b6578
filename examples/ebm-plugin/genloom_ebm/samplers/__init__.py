"""The plugin's samplers, one per module (imported by path through the registry)."""
