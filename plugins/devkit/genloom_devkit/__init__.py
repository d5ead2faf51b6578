"""genloom-devkit: the tools for writing a genloom plugin.

``genloom new-plugin`` (:mod:`genloom_devkit.scaffold`), ``genloom plugins check``
(:mod:`genloom_devkit.plugin_check`) and the test kit :mod:`genloom_devkit.testing`
(the conformance suite, and the pytest fixtures it installs). A distribution of its
own because only plugin authors need it: users of genloom never pay for it.
"""

__version__ = "0.1.0"
