"""The core's tests need no fixtures of their own: ``cli``, ``plugin_dir``,
``fresh_plugins``, ``isolated_plugins`` and ``tiny_info`` come from the developer kit's
installed pytest plugin (``genloom_devkit.testing.plugin``), the automatic
``fresh_plugins`` from the repository's root ``conftest.py``, and helpers from
``tests/support.py``."""
