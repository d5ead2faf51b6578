"""genloom-gan: adversarial training on the core's multi-player loop."""

__version__ = "0.1.0"
