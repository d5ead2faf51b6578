"""``genloom env``: versions, plugins and devices for a bug report, as text and JSON;
it works without a GPU, with a broken torch, and never imports Lightning."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import genloom


def test_text_report_names_versions_plugins_and_devices(cli):
    result = cli("env")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"- genloom: {genloom.__version__}" in lines
    assert f"- torch: {metadata.version('torch')}" in lines
    assert f"- lightning: {metadata.version('lightning')}" in lines
    assert any(line.startswith("- CUDA available: ") for line in lines)
    assert any(line.startswith("- MPS available: ") for line in lines)
    assert "    vae 0.1.0 (genloom-vae): ok" in lines


def test_json_report_and_a_broken_plugin(cli, plugin_dir):
    from genloom_devkit.testing import make_plugin

    make_plugin(plugin_dir, "shaky", "raise RuntimeError('no luck')\n")
    report = json.loads(cli("env", "--json").stdout)
    assert report["genloom"] == genloom.__version__
    assert report["python"] == ".".join(map(str, sys.version_info[:3]))
    assert report["libraries"]["torch"] == metadata.version("torch")
    assert isinstance(report["cpu_count"], int) and isinstance(report["devices"]["cuda"], bool)
    plugins = {p["name"]: p for p in report["plugins"]}
    assert plugins["vae"]["status"] == "ok"
    assert plugins["shaky"]["status"] == "broken" and "no luck" in plugins["shaky"]["error"]


def test_a_broken_torch_is_reported_not_raised(cli, tmp_path):
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "torch.py").write_text("raise ImportError('libtorch_cpu.so: cannot open shared object file')\n")
    result = cli("env", env={"PYTHONPATH": str(fake)})
    assert result.returncode == 0, result.stderr
    assert "- devices: torch cannot be imported: ImportError: libtorch_cpu.so" in result.stdout


def test_env_does_not_import_lightning():
    code = ("import sys; from genloom.cli import main\n"
            "try:\n    main(['env', '--json'])\nexcept SystemExit:\n    pass\n"
            "print('LIGHTNING' if 'lightning' in sys.modules else 'LIGHT')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "LIGHT"
