"""Plain helpers behind the fixtures: CLI runners, throwaway plugins, tiny data shapes.

Usable without pytest (a script, a notebook) and importable without torch.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

#: tiny data descriptions for tests: shapes every in-repo model accepts at small sizes
TINY = {
    "points": {"kind": "points", "shape": (2,)},
    "image": {"kind": "image", "shape": (1, 8, 8), "num_classes": 10},
    "tokens": {"kind": "tokens", "shape": (16,), "vocab_size": 12},
}


def tiny_info(kind: str = "points", **changes: Any) -> Any:
    """A :class:`genloom.DataInfo` for tiny tests: ``points`` (2-D), ``image`` (1x8x8, 10
    classes) or ``tokens`` (length 16, 12 ids); ``changes`` override its fields."""
    from genloom.data.info import DataInfo

    if kind not in TINY:
        raise ValueError(f"unknown tiny data kind {kind!r}; use one of {', '.join(TINY)}")
    return DataInfo(**{**TINY[kind], **changes})


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: str | Path | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``python -m genloom ARGS`` in a fresh interpreter; return the CompletedProcess.

    A subprocess, not click's in-process runner: the CLI's exit codes, stderr lines and
    import costs are exactly what a user sees. ``GENLOOM_RUN_DIR`` is dropped so a
    launcher's setting cannot leak into the test.
    """
    full_env = {**os.environ, **(env or {})}
    full_env.pop("GENLOOM_RUN_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "genloom", *args],
        capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout,
    )


def run_cli_in_process(*args: str, env: dict[str, str] | None = None,
                       cwd: str | Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``genloom ARGS`` in this process; return a CompletedProcess like :func:`run_cli`'s.

    ``genloom.cli.main(ARGS)`` with what a new process would start from: ``env`` added
    to ``os.environ`` and ``cwd`` made current for the call only (``GENLOOM_RUN_DIR``
    dropped, as by :func:`run_cli`), the plugin host rebuilt (the commands plugins
    added in earlier calls dropped, so a plugin disabled through ``env`` has none) and
    a fresh interpreter's warning filters. Its stdout and stderr are captured, warnings
    and what logging handlers write to the console included. It saves what a new
    interpreter costs, torch and lightning imported again: seconds a call.

    Use :func:`run_cli` where the process itself is the point: the real entry point
    (which ends with ``os._exit`` after flushing), imports in a fresh interpreter,
    signals, a crash, several processes, anything written straight to file descriptors.
    """
    import warnings

    from genloom.cli import cli, main
    from genloom.plugins import reset_plugins

    saved_env, saved_cwd, saved_streams = dict(os.environ), os.getcwd(), (sys.stdout, sys.stderr)
    saved_commands = dict(cli.commands)
    out, err = _Captured("stdout"), _Captured("stderr")
    rebound = _rebind_console_handlers(saved_streams, out, err)
    code = 0
    try:
        os.environ.update(env or {})
        os.environ.pop("GENLOOM_RUN_DIR", None)
        if cwd is not None:
            os.chdir(cwd)
        reset_plugins()
        for name, command in saved_commands.items():  # a plugin's, from an earlier main() here
            if hasattr(command, "genloom_plugin"):
                del cli.commands[name]
        sys.stdout, sys.stderr = out, err
        with warnings.catch_warnings():
            warnings.resetwarnings()
            for action, category, module in _FRESH_WARNING_FILTERS:
                warnings.filterwarnings(action, category=category, module=module, append=True)
            warnings.showwarning = _show_warning
            try:
                main(list(args))
            except SystemExit as exc:  # as the interpreter ends: an int is the code, text goes to stderr
                if isinstance(exc.code, int) or exc.code is None:
                    code = exc.code or 0
                else:
                    print(exc.code, file=err)
                    code = 1
    finally:
        sys.stdout, sys.stderr = saved_streams
        for handler, stream in rebound:
            handler.setStream(stream)
        cli.commands.clear()
        cli.commands.update(saved_commands)
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        reset_plugins()
    return subprocess.CompletedProcess(["genloom", *args], code, out.text(), err.text())


class _Captured(io.TextIOWrapper):
    """stdout or stderr of one :func:`run_cli_in_process` call."""

    def __init__(self, role: str) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8", write_through=True)
        self.role = role

    def text(self) -> str:
        return self.buffer.getvalue().decode("utf-8", errors="replace")


#: the warning filters a new interpreter starts with (CPython's defaults, no -W)
_FRESH_WARNING_FILTERS = (
    ("default", DeprecationWarning, r"__main__\Z"),
    ("ignore", DeprecationWarning, ""),
    ("ignore", PendingDeprecationWarning, ""),
    ("ignore", ImportWarning, ""),
    ("ignore", ResourceWarning, ""),
)


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
                  line: str | None = None) -> None:
    """Print a warning as the interpreter does, to the ``sys.stderr`` of the moment."""
    import warnings

    (file or sys.stderr).write(warnings.formatwarning(message, category, filename, lineno, line))


def _rebind_console_handlers(console: tuple[Any, Any], out: _Captured, err: _Captured) -> list[tuple[Any, Any]]:
    """Point every logging handler that writes to the console (or to an earlier call's
    capture) at this call's ``out`` or ``err``; return (handler, old stream) pairs."""
    import logging

    loggers = [logging.getLogger(), *(logger for logger in logging.Logger.manager.loggerDict.values()
                                      if isinstance(logger, logging.Logger))]
    targets = {id(console[0]): out, id(sys.__stdout__): out, id(console[1]): err, id(sys.__stderr__): err}
    rebound = []
    for handler in {h for logger in loggers for h in logger.handlers}:
        if not isinstance(handler, logging.StreamHandler) or isinstance(handler, logging.FileHandler) \
                or isinstance(getattr(type(handler), "stream", None), property):  # the sys.stderr of each moment
            continue
        stream = handler.stream
        new = out if getattr(stream, "role", None) == "stdout" else err if isinstance(stream, _Captured) \
            else targets.get(id(stream))
        if new is not None:
            rebound.append((handler, handler.setStream(new)))
    return rebound


def make_plugin(
    root: Path, name: str, source: str, *, requires: str = "genloom", module: str | None = None,
    version: str = "0.1.0",
) -> Path:
    """Write an installed-looking distribution ``name`` into ``root`` (which must be on
    ``sys.path``, e.g. the ``plugin_dir`` fixture).

    It has a dist-info folder with METADATA (``Requires-Dist: requires``) and an entry
    point ``name`` in the ``genloom`` group pointing at module ``module`` (default
    ``gltest_<name>``) whose code is ``source`` (dedented). No pip, no build: a plugin
    in milliseconds, gone with the folder.
    """
    module = module or f"gltest_{name.replace('-', '_')}"
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Dist: {requires}\n"
    )
    (info / "entry_points.txt").write_text(f"[genloom]\n{name} = {module}\n")
    return root
