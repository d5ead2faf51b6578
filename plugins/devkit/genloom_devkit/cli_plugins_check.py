"""The body of ``genloom plugins check``, imported only when the command runs."""

from __future__ import annotations

import sys

import click

from genloom_devkit.plugin_check import check


def run_check(names: list[str]) -> None:
    """Print each problem on its own line (stderr) and exit 2, or a summary and return."""
    report = check(names)
    for problem in report.problems:
        click.echo(f"error: {problem}", err=True)
    if report.problems:
        n = len(report.problems)
        click.echo(f"{n} problem{'s' if n != 1 else ''} in {len(report.checked)} plugin(s)", err=True)
        sys.exit(2)  # click's Exit would be swallowed by main's standalone_mode=False
    click.echo(
        f"ok: {len(report.checked)} plugin(s), {report.components} component(s) checked: "
        + ", ".join(report.checked)
    )
