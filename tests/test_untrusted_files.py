"""A checkpoint or export someone else made is untrusted input (docs/security.md).

Two holes this file keeps closed: a ``last.ckpt`` whose checkpoint-callback state names
paths outside the run made ``--resume`` delete them (Lightning restores the list of
"best" files and removes the overflow recursively); and a class path in a saved or
downloaded config was imported (``optim.name: venv.__main__.X`` built a virtualenv).

A command that could import a module from its working folder runs as its own process
(``python -m genloom`` puts that folder on ``sys.path``); the others run in this one
(``run_cli_in_process``: no new interpreter importing torch each time).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from genloom_devkit.testing import run_cli_in_process

ROOT = Path(__file__).resolve().parents[1]
CONFIG = str(ROOT / "examples" / "configs" / "vae-toy2d.yaml")
TINY = ["data.n=128", "trainer.enable_progress_bar=false", "sample.n=0",
        "checkpoint.every_n_epochs=1", "checkpoint.keep=1", "checkpoint.last_every_seconds=0"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("untrusted") / "run"
    result = run_cli_in_process("train", CONFIG, "trainer.max_epochs=2", f"output_dir={run}", *TINY)
    assert result.returncode == 0, result.stderr
    return run


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def _poison(last: Path, victims: list[str]) -> None:
    """Rewrite ``last.ckpt``'s checkpoint-callback state as an attacker would: every
    "best" path climbs out of the run, and ``dirpath`` is left out."""
    ckpt = torch.load(last, map_location="cpu", weights_only=True)
    keys = [k for k in ckpt["callbacks"] if k.startswith("ModelCheckpoint")]
    assert keys, list(ckpt["callbacks"])
    for key in keys:
        state = ckpt["callbacks"][key]
        state.pop("dirpath", None)
        state["best_k_models"] = {v: torch.tensor(1e9) for v in victims}
        state["kth_best_model_path"] = victims[0]
        state["kth_value"] = torch.tensor(-1.0)
        state["best_model_path"] = victims[-1]
        state["last_model_path"] = victims[0]
    torch.save(ckpt, last)


def test_resume_never_deletes_a_path_the_checkpoint_names(trained, tmp_path):
    run = _copy(trained, tmp_path / "work" / "run")
    victim_dir = tmp_path / "victim"
    (victim_dir / "inner").mkdir(parents=True)
    (victim_dir / "inner" / "precious.txt").write_text("keep me")
    victim_file = tmp_path / "precious.ckpt"
    victim_file.write_text("keep me too")
    ckpt_dir = run / "checkpoints"
    # relative paths climbing out of the checkpoint folder, and an absolute one
    victims = [str(ckpt_dir / ".." / ".." / ".." / "victim"), str(ckpt_dir / ".." / ".." / ".." /
               "precious.ckpt"), str(victim_dir / "inner")]
    _poison(ckpt_dir / "last.ckpt", victims)
    result = run_cli_in_process("train", CONFIG, "trainer.max_epochs=5", f"output_dir={run}", "--resume", *TINY)
    assert result.returncode == 0, result.stderr
    assert (victim_dir / "inner" / "precious.txt").read_text() == "keep me"
    assert victim_file.read_text() == "keep me too"
    # the run's own pruning still works: checkpoint.keep=1 periodic file, and last.ckpt
    periodic = sorted(p.name for p in ckpt_dir.glob("epoch=*.ckpt"))
    assert len(periodic) == 1 and periodic[0].startswith("epoch=004-"), periodic


def test_checkpoint_io_never_removes_a_folder(tmp_path):
    from genloom.run_files import AtomicCheckpointIO

    folder = tmp_path / "tree"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "f").write_text("x")
    AtomicCheckpointIO().remove_checkpoint(folder)
    assert (folder / "sub" / "f").exists()
    link = tmp_path / "link.ckpt"
    link.symlink_to(folder / "sub" / "f")
    AtomicCheckpointIO().remove_checkpoint(link)
    assert link.is_symlink() and (folder / "sub" / "f").exists()


def test_periodic_checkpoints_remove_only_their_own_files(tmp_path):
    from genloom.run_files import RunModelCheckpoint

    ckpt_dir = tmp_path / "run" / "checkpoints"
    ckpt_dir.mkdir(parents=True)
    own = ckpt_dir / "epoch=001-step=4.ckpt"
    own.write_text("x")
    other = ckpt_dir / "notes.txt"
    other.write_text("x")
    outside = tmp_path / "epoch=001-step=4.ckpt"
    outside.write_text("x")
    callback = RunModelCheckpoint(dirpath=str(ckpt_dir), filename="epoch={epoch:03d}-step={step}")
    assert callback.owns(own)
    assert not callback.owns(other)
    assert not callback.owns(outside)
    assert not callback.owns(ckpt_dir / ".." / ".." / outside.name)
    assert not callback.owns("s3://bucket/epoch=001-step=4.ckpt")
    assert not callback.owns(ckpt_dir)


def _checkpoint_with(cfg_changes: dict, source: Path, dest: Path) -> Path:
    ckpt = torch.load(source, map_location="cpu", weights_only=True)
    config = ckpt["genloom"]["config"]
    for dotted, value in cfg_changes.items():
        node = config
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    torch.save(ckpt, dest)
    return dest


@pytest.mark.parametrize("payload", [
    "venv.__main__.X", "evil_module.Optimizer", "evil_module:Optimizer", "os.system",
    "torch.optim.SGD.__init__.__globals__.os",
])
def test_a_saved_config_never_imports_a_class_path(trained, tmp_path, cli, payload):
    (tmp_path / "evil_module.py").write_text(
        "import pathlib\npathlib.Path('IMPORTED').write_text('ran')\nclass Optimizer: pass\n")
    ckpt = _checkpoint_with({"optim.name": payload}, trained / "checkpoints" / "last.ckpt",
                            tmp_path / "evil.ckpt")
    result = cli("sample", str(ckpt), "--n", "4", "--out", str(tmp_path / "s.png"), cwd=tmp_path)
    assert not (tmp_path / "IMPORTED").exists()
    assert not (tmp_path / "venv").exists() and not (tmp_path / "pyvenv.cfg").exists()
    assert "Traceback" not in result.stderr
    # sampling needs no optimizer: a well-formed path is kept as text, a malformed one refused
    assert result.returncode in (0, 2), result.stderr


def test_python_m_genloom_does_not_import_a_py_beside_the_checkpoint(trained, tmp_path):
    import subprocess
    import sys

    (tmp_path / "evil_module.py").write_text(
        "import pathlib\npathlib.Path('IMPORTED').write_text('ran')\nclass Optimizer: pass\n")
    ckpt = _checkpoint_with({"optim.name": "evil_module.Optimizer"},
                            trained / "checkpoints" / "last.ckpt", tmp_path / "model.ckpt")
    result = subprocess.run([sys.executable, "-m", "genloom", "sample", str(ckpt), "--n", "4",
                             "--out", str(tmp_path / "s.png")], cwd=tmp_path, capture_output=True,
                            text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "IMPORTED").exists()


def test_an_exported_config_never_imports_a_class_path(trained, tmp_path, cli):
    (tmp_path / "evil_module.py").write_text(
        "import pathlib\npathlib.Path('IMPORTED').write_text('ran')\nclass Optimizer: pass\n")
    out = tmp_path / "export"
    assert run_cli_in_process("export", str(trained), str(out)).returncode == 0
    meta = json.loads((out / "genloom.json").read_text())
    meta["config"]["optim"]["name"] = "evil_module.Optimizer"
    (out / "genloom.json").write_text(json.dumps(meta))
    result = cli("sample", str(out), "--n", "4", "--out", str(tmp_path / "s.png"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "IMPORTED").exists()


def test_an_oversized_export_metadata_file_is_refused_before_it_is_read(trained, tmp_path, monkeypatch):
    """genloom.json was read whole, whatever its size: a huge one allocated without bound."""
    import genloom.checkpoints
    from genloom import CheckpointError, load

    out = tmp_path / "export"
    assert run_cli_in_process("export", str(trained), str(out)).returncode == 0
    meta = (out / "genloom.json").read_text()
    (out / "genloom.json").write_text(meta[:-1] + ', "pad": "' + "x" * 4096 + '"}')
    monkeypatch.setattr(genloom.checkpoints, "MAX_METADATA_BYTES", len(meta) + 1024)
    with pytest.raises(CheckpointError, match="over .* bytes"):
        load(out)
    (out / "genloom.json").write_text(meta)
    assert load(out) is not None


def test_config_show_imports_no_class_path(tmp_path, cli):
    (tmp_path / "evil_module.py").write_text(
        "import pathlib\npathlib.Path('IMPORTED').write_text('ran')\nclass Optimizer: pass\n")
    downloaded = tmp_path / "downloaded.yaml"
    downloaded.write_text("model: {name: vae}\ndata: {name: toy2d}\noptim: {name: evil_module.Optimizer}\n"
                          "trainer:\n  callbacks:\n    - {class_path: evil_module.Optimizer}\n")
    result = cli("config", "show", str(downloaded), cwd=tmp_path)
    assert not (tmp_path / "IMPORTED").exists()
    assert result.returncode == 2
    assert "GENLOOM_ALLOW_CLASS_PATHS=evil_module" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_yaml_config_imports_only_allowlisted_class_paths(tmp_path, cli, monkeypatch):
    from genloom.config import load_config
    from genloom.errors import ConfigError

    (tmp_path / "evil_module.py").write_text(
        "import pathlib\npathlib.Path('IMPORTED').write_text('ran')\n"
        "import torch\nclass Optimizer(torch.optim.SGD): pass\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for overrides in (["optim.name=evil_module.Optimizer"],
                      ["trainer.callbacks=[{class_path: evil_module.Optimizer}]"],
                      ["trainer.logger={class_path: evil_module.Optimizer}"],
                      ["trainer.profiler={class_path: evil_module.Optimizer}"]):
        with pytest.raises(ConfigError, match="GENLOOM_ALLOW_CLASS_PATHS=evil_module"):
            load_config(None, ["model.name=vae", "data.name=toy2d", *overrides])
    assert not (tmp_path / "IMPORTED").exists()
    # the documented opt-in imports it
    monkeypatch.setenv("GENLOOM_ALLOW_CLASS_PATHS", "evil_module")
    cfg = load_config(None, ["model.name=vae", "data.name=toy2d", "optim.name=evil_module.Optimizer"])
    assert cfg.optim.name == "evil_module.Optimizer" and (tmp_path / "IMPORTED").exists()


def test_a_saved_config_does_not_resolve_environment_variables(trained, tmp_path, monkeypatch):
    from genloom.config import load_config
    from genloom.errors import ConfigError

    monkeypatch.setenv("GENLOOM_TEST_SECRET", "s3cr3t")
    saved = {"model": {"name": "vae"}, "data": {"name": "toy2d"},
             "sample": {"options": {"stop": "${oc.env:GENLOOM_TEST_SECRET}"}}}
    with pytest.raises(ConfigError, match=r"sample\.options\.stop: the base config holds the "
                       r"interpolation '\$\{oc\.env:GENLOOM_TEST_SECRET\}'"):
        load_config(base=saved, check_trainer=False)
    for key, value in [("output_dir", "${oc.env:GENLOOM_TEST_SECRET}"), ("seed", "${oc.env:NOPE}")]:
        ckpt = _checkpoint_with({key: value}, trained / "checkpoints" / "last.ckpt", tmp_path / "env.ckpt")
        result = run_cli_in_process("sample", str(ckpt), "--n", "4", "--out", str(tmp_path / "s.png"),
                                    env={"GENLOOM_TEST_SECRET": "s3cr3t"})
        assert result.returncode == 2, result.stderr
        assert "s3cr3t" not in result.stdout + result.stderr
        assert result.stderr.count("\n") == 1 and f"{key}: the config saved in" in result.stderr


@pytest.mark.parametrize("change, message", [
    ({"model.encoder.hidden": 2_000_000, "model.decoder.hidden": 2_000_000},
     "its config describes a model of"),
])
def test_an_edited_config_cannot_make_loading_allocate_without_bound(trained, tmp_path, change, message):
    """A 2,000,000-wide MLP is terabytes of float32: refused from the shapes alone."""
    out = tmp_path / "export"
    assert run_cli_in_process("export", str(trained), str(out)).returncode == 0
    meta = json.loads((out / "genloom.json").read_text())
    for dotted, value in change.items():
        node = meta["config"]
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node[p]
        node[leaf] = value
    (out / "genloom.json").write_text(json.dumps(meta))
    result = run_cli_in_process("sample", str(out), "--n", "4", "--out", str(tmp_path / "s.png"))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize("info, message", [
    ({"shape": [3, 1_000_000, 1_000_000]}, "is not a shape genloom samples"),
    ({"shape": [2, -1]}, "is not a shape genloom samples"),
    ({"num_classes": 10**12}, "num_classes"),
])
def test_an_edited_data_description_is_refused(trained, tmp_path, info, message):
    out = tmp_path / "export"
    assert run_cli_in_process("export", str(trained), str(out)).returncode == 0
    meta = json.loads((out / "genloom.json").read_text())
    meta["info"].update(info)
    (out / "genloom.json").write_text(json.dumps(meta))
    result = run_cli_in_process("sample", str(out), "--n", "4", "--out", str(tmp_path / "s.png"))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and result.stderr.count("\n") == 1


def _tree(folder: Path) -> dict:
    return {p: (p.is_dir() or p.read_bytes()) for p in sorted(folder.rglob("*"))}


def test_resume_ignores_dotdot_paths_in_every_path_field(trained, tmp_path):
    """Every path-like field of the Lightning state (each key of ModelCheckpoint's state,
    a second ModelCheckpoint entry, loop state, hyper_parameters) climbs out of the run
    with ``..``: the resume completes, and the folder beside the run is untouched."""
    run = _copy(trained, tmp_path / "work" / "run")
    sibling = tmp_path / "work" / "sibling"
    (sibling / "inner").mkdir(parents=True)
    for name in ("precious.txt", "epoch=001-step=2.ckpt", "inner/last.ckpt"):
        (sibling / name).write_text("keep")
    before = _tree(sibling)
    ckpt_dir = run / "checkpoints"
    up = str(ckpt_dir / ".." / ".." / "sibling")
    last = ckpt_dir / "last.ckpt"
    ckpt = torch.load(last, map_location="cpu", weights_only=True)
    key = next(k for k in ckpt["callbacks"] if k.startswith("ModelCheckpoint"))
    state = ckpt["callbacks"][key]
    state.update(dirpath=up, best_model_path=f"{up}/epoch=001-step=2.ckpt", last_model_path=f"{up}/precious.txt",
                 kth_best_model_path=f"{up}/inner", kth_value=torch.tensor(-1.0),
                 best_k_models={f"{up}/inner": torch.tensor(1e9), "../../sibling": torch.tensor(1e9),
                                f"{up}/epoch=001-step=2.ckpt": torch.tensor(1e9)})
    ckpt["callbacks"][f"ModelCheckpoint{{'monitor': None, 'dirpath': {up!r}}}"] = dict(state)
    ckpt["loops"]["fit_loop"]["state_dict"]["dirpath"] = up
    ckpt["hyper_parameters"] = {"dirpath": up, "ckpt_path": f"{up}/precious.txt", "output_dir": ".."}
    torch.save(ckpt, last)
    result = run_cli_in_process("train", CONFIG, "trainer.max_epochs=5", f"output_dir={run}", "--resume", *TINY,
                                cwd=ckpt_dir)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert _tree(sibling) == before
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["run", "sibling"]


@pytest.mark.parametrize("counter", ["..", float("nan")])
def test_resume_refuses_a_damaged_step_counter(trained, tmp_path, counter):
    """A path (or anything but a whole number) where Lightning's step counter was made
    ``--resume`` fail mid-fit with a TypeError, exit 1."""
    run = _copy(trained, tmp_path / "run")
    last = run / "checkpoints" / "last.ckpt"
    ckpt = torch.load(last, map_location="cpu", weights_only=True)
    ckpt["loops"]["fit_loop"]["epoch_loop.state_dict"]["_batches_that_stepped"] = counter
    torch.save(ckpt, last)
    before = _tree(run)
    result = run_cli_in_process("train", CONFIG, "trainer.max_epochs=5", f"output_dir={run}", "--resume", *TINY)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "its training state is damaged (its counter loops." in result.stderr
    assert _tree(run) == before
