"""``genloom bench``: every family on the same data under the same budget, each run
evaluated like ``genloom evaluate``, mean and spread over seeds in Markdown and JSON."""

import json
import statistics

import pytest
from omegaconf import OmegaConf

from genloom.cli import main
from genloom.errors import ConfigError

TINY = ["--set", "sample.every_n_epochs=0", "--set", "trainer.limit_val_batches=1"]


def _bench(capsys, *args):
    capsys.readouterr()
    main(["bench", *args])
    return capsys.readouterr()


@pytest.fixture(scope="module")
def toy2d(tmp_path_factory):
    """vae and gan on toy2d, 2 steps, seeds 0 and 1 (the capsys of one test cannot be
    shared, so the module fixture captures by hand)."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("bench") / "toy2d"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        main(["bench", "--data", "toy2d", "--models", "vae,gan", "--steps", "2", "--seeds", "2",
              "--n", "20", "--out", str(out), "--set", "data.n=400", *TINY])
    return out, stdout.getvalue(), stderr.getvalue()


def test_bench_trains_every_family_and_seed_for_the_same_steps(toy2d):
    out, stdout, stderr = toy2d
    report = json.loads((out / "bench.json").read_text())
    assert [(r["family"], r["seed"]) for r in report["runs"]] == [("vae", 0), ("vae", 1), ("gan", 0), ("gan", 1)]
    # --steps counts batches for every family: the GAN's two players make 4 optimizer steps
    assert all(r["batches"] == 2 and r["wall_s"] > 0 and r["params"] > 1000 for r in report["runs"])
    assert [r["steps"] for r in report["runs"]] == [2, 2, 4, 4]
    assert len([line for line in stderr.splitlines() if line.startswith("bench [")]) == 4
    # one dataset for all: gan-toy2d.yaml draws eight Gaussians, vae-toy2d.yaml moons
    shapes = {OmegaConf.load(out / "runs" / f"{f}-seed0" / "config.yaml").data.shape for f in ("vae", "gan")}
    assert shapes == {"moons"}


def test_bench_summary_is_mean_and_spread_of_the_runs(toy2d):
    out, stdout, _ = toy2d
    report = json.loads((out / "bench.json").read_text())
    vae = [r["metrics"]["test/mmd"] for r in report["runs"] if r["family"] == "vae"]
    stat = report["summary"]["vae"]["metrics"]["test/mmd"]
    assert stat["mean"] == pytest.approx(statistics.fmean(vae))
    assert stat["std"] == pytest.approx(statistics.stdev(vae)) and stat["std"] > 0
    assert "test/mmd_floor" in report["summary"]["gan"]["metrics"]
    table = (out / "bench.md").read_text()
    assert stdout == table
    row = next(line for line in table.splitlines() if line.startswith("| test/mmd |"))
    assert f"{stat['mean']:.4g} ± " in row
    assert "| metric | floor | vae | gan |" in table and "| batches | | 2 ± 0 | 2 ± 0 |" in table


def test_bench_numbers_are_those_of_genloom_evaluate(toy2d, capsys):
    out, _, _ = toy2d
    report = json.loads((out / "bench.json").read_text())
    run = report["runs"][2]
    capsys.readouterr()
    main(["evaluate", run["run_dir"], "--json", "--n", "20"])
    assert json.loads(capsys.readouterr().out) == run["metrics"]


def test_bench_refuses_to_replace_an_earlier_bench_without_force(toy2d, capsys):
    out, _, _ = toy2d
    before = (out / "bench.json").read_text()
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--data", "toy2d", "--models", "vae", "--steps", "1", "--seeds", "1", "--out", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "already holds a bench" in err and "--force" in err
    assert (out / "bench.json").read_text() == before


def test_bench_with_a_wall_clock_budget_stops_on_time(tmp_path, capsys):
    import torch

    _bench(capsys, "--data", "toy2d", "--models", "vae", "--budget", "1s", "--seeds", "1", "--n", "20",
           "--out", str(tmp_path), "--set", "data.n=400", "--set", "trainer.max_epochs=100000", *TINY)
    (run,) = json.loads((tmp_path / "bench.json").read_text())["runs"]
    # 320 training points make one batch of 256 an epoch: the clock stopped it, not the epochs
    assert run["steps"] > 2 and 1.0 <= run["wall_s"] < 30
    # the schedule keeps the config's horizon: cosine has barely moved (with no horizon
    # Lightning reports one step in all, and the rate would be at its floor)
    ckpt = torch.load(f"{run['run_dir']}/checkpoints/last.ckpt", weights_only=False)
    assert ckpt["lr_schedulers"][0]["_last_lr"][0] > 0.9 * 2e-3


def test_bench_with_a_wall_clock_budget_also_ends_at_the_configs_epochs(tmp_path, capsys):
    _bench(capsys, "--data", "toy2d", "--models", "vae", "--budget", "60s", "--seeds", "1", "--n", "20",
           "--out", str(tmp_path), "--set", "data.n=400", "--set", "trainer.max_epochs=1", *TINY)
    (run,) = json.loads((tmp_path / "bench.json").read_text())["runs"]
    assert run["steps"] == 1 and run["wall_s"] < 60  # one epoch of one batch


def test_bench_text_with_per_family_overrides(tmp_path, capsys):
    result = _bench(
        capsys, "--data", "text", "--models", "transformer,lstm", "--steps", "2", "--seeds", "1",
        "--n", "4", "--out", str(tmp_path), "--set", "data.block_size=16", "--set", "transformer:model.width=16",
        "--set", "transformer:model.layers=1", "--set", "transformer:model.heads=2",
        "--set", "lstm:model.hidden=16", "--set", "lstm:model.layers=1", *TINY,
    )
    report = json.loads((tmp_path / "bench.json").read_text())
    assert [r["family"] for r in report["runs"]] == ["transformer", "lstm"]
    assert all({"test/bpc", "test/copy_8", "test/copy_8_floor"} <= set(r["metrics"]) for r in report["runs"])
    assert all(r["params"] < 20_000 for r in report["runs"])  # the overrides reached each family
    assert "| test/bpc |" in result.out


def test_bench_digits_reports_image_metrics_with_floors(tmp_path, capsys):
    result = _bench(capsys, "--data", "digits", "--models", "vae,gan", "--steps", "1", "--seeds", "1",
                    "--n", "20", "--out", str(tmp_path), *TINY)
    fid = next(line for line in result.out.splitlines() if line.startswith("| test/fid |"))
    floor, vae, gan = (cell.strip() for cell in fid.split("|")[2:5])
    assert float(floor) < float(vae) and float(floor) < float(gan)


@pytest.mark.parametrize("args, message", [
    (["--data", "toy2d", "--models", "lstm", "--steps", "1"],
     "no config for --models lstm on --data toy2d (no lstm-toy2d in the installed plugins' recipes); "
     "for --data toy2d there are: diffusion, ebm, flow, gan, vae"),
    (["--data", "nope", "--models", "vae", "--steps", "1"],
     "no configs for --data nope in the installed plugins' recipes"),
    (["--data", "toy2d", "--models", "vae"], "give exactly one budget"),
    (["--data", "toy2d", "--models", "vae", "--steps", "1", "--budget", "5s"], "give exactly one budget"),
    (["--data", "toy2d", "--models", "vae", "--budget", "soon"], "--budget 'soon': give a positive duration"),
    (["--data", "toy2d", "--models", "vae,gan", "--steps", "1", "--set", "gan:data.n=10"],
     "every family trains on the same data; set it for all with --set data.n=10"),
    (["--data", "toy2d", "--models", "vae", "--steps", "1", "--set", "gan:model.x=1"],
     "'gan' is not among --models vae"),
    (["--data", "toy2d", "--models", "vae", "--steps", "1", "--set", "model.nope=1"], "nope"),
])
def test_bench_bad_input_is_one_line_exit_2(args, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", *args, "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "b").exists()


def test_bench_mnist_keeps_each_familys_padding(tmp_path, capsys):
    """gan-mnist pads the 28x28 digits to 32x32 (dcgan needs a power of two); the VAE's
    data section, given to every family, must not take that away."""
    pytest.importorskip("genloom_eval.data.mnist").mnist_file() or pytest.skip("pip install 'genloom-eval[mnist]'")
    _bench(capsys, "--data", "mnist", "--models", "vae,gan", "--steps", "1", "--seeds", "1", "--n", "20",
           "--out", str(tmp_path), "--set", "gan:model.generator.channels=8",
           "--set", "gan:model.discriminator.channels=8", *TINY)
    report = json.loads((tmp_path / "bench.json").read_text())
    assert [r["family"] for r in report["runs"]] == ["vae", "gan"]
    pads = {f: OmegaConf.load(tmp_path / "runs" / f"{f}-seed0" / "config.yaml").data.pad for f in ("vae", "gan")}
    assert pads == {"vae": 0, "gan": 2}
    assert all("test/fid" in r["metrics"] for r in report["runs"])


def test_bench_finds_the_packaged_recipes_from_any_folder(tmp_path, monkeypatch):
    """A pip user has no examples/configs: the recipes the plugins ship are the default."""
    from genloom.config import config_file
    from genloom_eval.bench import available, config_path

    monkeypatch.chdir(tmp_path)
    assert config_path(None, "vae", "digits") == config_file("vae-digits")
    assert config_path(None, "transformer", "text") == config_file("transformer-pydoc")
    assert {"vae", "gan", "diffusion"} <= set(available(None)["mnist"])


def test_a_recipe_of_a_plugin_not_installed_names_its_distribution(monkeypatch):
    """A pip user with only genloom-vae who runs the README's --models vae,gan,diffusion
    learns what to install, as for any unknown component."""
    from genloom.config import config_file
    from genloom_eval import bench

    only_vae = {"vae-digits": config_file("vae-digits"), "vae-mnist": config_file("vae-mnist")}
    monkeypatch.setattr(bench, "_recipes", lambda configs: only_vae)
    with pytest.raises(ConfigError, match=r"no gan-digits in the installed plugins' recipes\) "
                                          r"\(it comes with genloom-gan: pip install genloom-gan\); "
                                          r"for --data digits there are: vae$"):
        bench.config_path(None, "gan", "digits")
    with pytest.raises(ConfigError, match=r"pip install genloom-transformer"):
        bench.config_path(None, "transformer", "text")
    with pytest.raises(ConfigError) as unknown:
        bench.config_path(None, "nope", "digits")
    assert "pip install" not in str(unknown.value)


def test_bench_rows_report_training_energy_and_co2_with_the_method(toy2d):
    out, stdout, _ = toy2d
    report = json.loads((out / "bench.json").read_text())
    for run in report["runs"]:
        assert run["energy"]["wh"] > 0 and run["energy"]["co2_g"] > 0
        assert run["energy"]["method"].startswith(("cpu-time", "rapl"))
    table = (out / "bench.md").read_text()
    assert "| training energy (Wh) |" in table and "| training CO2 (g) |" in table
    assert "Energy: " in table and "gCO2/kWh" in table
