"""``genloom env``: what a bug report needs to know about this installation (versions,
plugins, OS, accelerators). Missing pieces are reported, never raised: the command must
work on a broken installation, since that is when it is asked for.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

#: the distributions whose versions matter for a report, in the order shown
LIBRARIES = ("torch", "lightning", "pluggy", "omegaconf", "click", "numpy", "safetensors")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _devices() -> dict[str, Any]:
    """CUDA and MPS availability (with device names); torch missing or failing says so."""
    try:
        import torch
    except Exception as exc:  # a broken torch is exactly what a report must show
        return {"error": f"torch cannot be imported: {type(exc).__name__}: {exc}"}
    out: dict[str, Any] = {"cuda": False, "cuda_version": torch.version.cuda, "gpus": [], "mps": False}
    try:
        if torch.cuda.is_available():
            out["cuda"] = True
            out["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception as exc:
        out["cuda_error"] = f"{type(exc).__name__}: {exc}"
    mps = getattr(torch.backends, "mps", None)
    out["mps"] = bool(mps is not None and mps.is_available())
    return out


def collect() -> dict[str, Any]:
    """The report as plain data (what ``genloom env --json`` prints)."""
    from genloom import __version__
    from genloom.plugins import PluginHost

    host = PluginHost({**os.environ, "GENLOOM_STRICT_PLUGINS": ""}).load()
    return {
        "genloom": __version__,
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "libraries": {name: _version(name) for name in LIBRARIES},
        "plugins": [
            {"name": p.name, "distribution": p.distribution, "version": p.version,
             "status": p.status, **({"error": p.error} if p.error else {})}
            for p in host.plugins.values()
        ],
        "devices": _devices(),
    }


def format_report(report: dict[str, Any]) -> str:
    """The report as ``- key: value`` lines, ready to paste into an issue."""
    dev = report["devices"]
    if "error" in dev:
        devices = [f"- devices: {dev['error']}"]
    else:
        gpus = ", ".join(dev["gpus"]) or "none"
        devices = [
            f"- CUDA available: {'yes' if dev['cuda'] else 'no'} (torch built with CUDA {dev['cuda_version'] or 'none'})",
            f"- GPUs: {gpus}",
            f"- MPS available: {'yes' if dev['mps'] else 'no'}",
        ]
        if "cuda_error" in dev:
            devices.append(f"- CUDA error: {dev['cuda_error']}")
    lines = [
        f"- genloom: {report['genloom']}",
        f"- Python: {report['python']} ({report['python_executable']})",
        f"- Platform: {report['platform']}",
        f"- CPUs: {report['cpu_count']}",
        *(f"- {name}: {version}" for name, version in report["libraries"].items()),
        *devices,
        "- plugins:",
        *(
            f"    {p['name']} {p['version']} ({p['distribution']}): {p['status']}"
            + (f": {p['error']}" if p.get("error") else "")
            for p in report["plugins"]
        ),
    ]
    return "\n".join(lines)
