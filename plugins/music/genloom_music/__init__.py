"""genloom-music: symbolic music (ABC folk tunes, Bach chorale piano rolls) for genloom."""

__version__ = "0.1.0"
