"""genloom-video: moving digits made offline, a ``video`` sample kind, a space-time
diffusion model and video metrics. Imports nothing at package import (genloom imports
the entry module for every command)."""

__version__ = "0.1.0"
