"""genloom serve: trained models behind an HTTP API and a web page.

``create_app(runs)`` builds the FastAPI application ``genloom serve`` runs under
uvicorn; see docs/serving.md.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "Limits"]


def __getattr__(name: str) -> Any:  # torch and FastAPI load only when used
    if name == "create_app":
        from genloom_serve.app import create_app

        return create_app
    if name == "Limits":
        from genloom_serve.limits import Limits

        return Limits
    raise AttributeError(name)
