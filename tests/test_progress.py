"""genloom.progress: a bar on stderr where someone can see it, nothing elsewhere."""

import io
import subprocess
import sys

import genloom
from genloom import progress


def test_bar_only_when_forced_or_on_a_terminal(monkeypatch, capsys):
    monkeypatch.setenv("GENLOOM_PROGRESS", "1")
    assert list(progress(range(5), total=5, desc="counting")) == [0, 1, 2, 3, 4]
    assert "counting" in capsys.readouterr().err
    monkeypatch.setenv("GENLOOM_PROGRESS", "0")
    monkeypatch.setattr(sys, "stderr", type("Tty", (io.StringIO,), {"isatty": lambda self: True})())
    assert list(progress(range(3), desc="quiet")) == [0, 1, 2]
    assert sys.stderr.getvalue() == ""
    monkeypatch.delenv("GENLOOM_PROGRESS")
    assert list(progress(range(3), desc="on a terminal")) == [0, 1, 2]
    assert "on a terminal" in sys.stderr.getvalue()


def test_not_a_terminal_means_no_bar(monkeypatch, capsys):
    monkeypatch.delenv("GENLOOM_PROGRESS", raising=False)
    items = [1, 2]
    assert progress(items) is items  # not even wrapped
    assert capsys.readouterr().err == ""


def test_a_loop_left_early_closes_its_bar(monkeypatch, capsys):
    monkeypatch.setenv("GENLOOM_PROGRESS", "1")
    bar = progress(range(100), total=100, desc="early")
    for i in bar:
        if i == 3:
            break
    assert bar.disable  # tqdm.close() disables it: no bar is left running


def test_progress_is_the_function_whatever_is_imported_first():
    code = ("import genloom.progress, genloom, sys; from genloom import progress; "
            "assert callable(progress) and callable(genloom.progress); "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert callable(genloom.progress)
