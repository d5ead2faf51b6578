"""genloom-eval: metrics, ``genloom evaluate``, ``bench``, ``plot`` and ``interpolate``.

A library distribution beside the core: it registers its metrics and datasets, and
adds its commands, through the same hooks any third-party plugin uses.
"""

__version__ = "0.1.0"
