"""Energy and carbon: positive, growing with the work, always with the method; a RAPL
counter is read where one is given; every training run writes energy.json."""

import json

import pytest

from genloom.errors import ConfigError
from genloom_eval.energy import EnergyMeter, grid_intensity, write_run_energy


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def test_cpu_time_estimate_is_positive_grows_with_work_and_names_its_method(tmp_path):
    meter = EnergyMeter(powercap=tmp_path, watts=10, grid="fr")
    with meter:
        _spin(200_000)
    small = meter.result
    with meter:
        _spin(2_000_000)
    large = meter.result
    assert small.joules > 0 and small.co2_g > 0
    assert large.joules > 4 * small.joules  # ten times the work
    assert small.method.startswith("cpu-time") and "10 W per busy core" in small.method
    assert large.co2_g == pytest.approx(large.joules / 3.6e6 * 55.0)
    doubled = EnergyMeter(powercap=tmp_path, watts=20, grid=110).start()
    _spin(500_000)
    e = doubled.stop()
    assert e.grid == "110 g/kWh given" and e.co2_g == pytest.approx(e.kwh * 110)


def _zone(root, name, uj, top=None):
    zone = root / name
    zone.mkdir(parents=True)
    (zone / "energy_uj").write_text(f"{uj}\n")
    if top is not None:
        (zone / "max_energy_range_uj").write_text(f"{top}\n")
    return zone


def test_rapl_counters_are_read_when_a_powercap_folder_has_them(tmp_path):
    root = tmp_path / "powercap"
    pkg0 = _zone(root, "intel-rapl:0", 1_000_000, top=10_000_000)
    pkg1 = _zone(root, "intel-rapl:1", 9_500_000, top=10_000_000)
    _zone(root, "intel-rapl:0:0", 5)  # a sub-zone: counted inside its package, not again
    meter = EnergyMeter(powercap=root, grid="world").start()
    (pkg0 / "energy_uj").write_text("4000000\n")  # +3 J
    (pkg1 / "energy_uj").write_text("500000\n")  # wrapped: +1 J
    e = meter.stop()
    assert e.joules == pytest.approx(4.0)
    assert e.method.startswith("rapl") and "2 package(s)" in e.method
    assert e.co2_g == pytest.approx(4.0 / 3.6e6 * 480.0)


def test_an_unreadable_counter_falls_back_to_the_estimate(tmp_path):
    (tmp_path / "intel-rapl:0").mkdir()
    (tmp_path / "intel-rapl:0" / "energy_uj").mkdir()  # unreadable as a file
    assert EnergyMeter(powercap=tmp_path).method.startswith("cpu-time")


def test_bad_grid_and_watts_are_one_line_errors(monkeypatch):
    with pytest.raises(ConfigError, match="region"):
        grid_intensity("mars")
    monkeypatch.setenv("GENLOOM_CPU_WATTS", "lots")
    with pytest.raises(ConfigError, match="GENLOOM_CPU_WATTS"):
        EnergyMeter()
    assert grid_intensity("230") == (230.0, "230 g/kWh given")


def test_a_resumed_run_adds_a_segment(tmp_path):
    meter = EnergyMeter(powercap=tmp_path).start()
    _spin(100_000)
    e = meter.stop()
    write_run_energy(tmp_path, e)
    content = write_run_energy(tmp_path, e)
    assert len(content["segments"]) == 2 and content["joules"] == pytest.approx(2 * e.joules)


def test_training_writes_energy_json(tmp_path, monkeypatch):
    from genloom import load_config
    from genloom.training import train

    monkeypatch.setenv("GENLOOM_GRID", "de")
    cfg = load_config(None, [
        "model.name=vae", "data.name=toy2d", "data.n=200", "trainer.max_steps=3", "trainer.max_epochs=1",
        "sample.every_n_epochs=0", "trainer.enable_progress_bar=false", f"output_dir={tmp_path}",
    ])
    from lightning.pytorch.callbacks import Callback

    class Probe(Callback):  # the caller's callbacks run beside the plugins' (they were lost once)
        ran = False

        def on_train_end(self, trainer, pl_module):
            Probe.ran = True

    result = train(cfg, name="e", echo=None, callbacks=[Probe()])
    assert Probe.ran
    energy = json.loads((result.run_dir / "energy.json").read_text())
    assert energy["wh"] > 0 and energy["co2_g"] > 0 and energy["grid"] == "de"
    assert energy["method"].startswith(("cpu-time", "rapl"))
    assert energy["segments"][0]["seconds"] > 0


def test_a_bad_grid_stops_training_before_it_starts(tmp_path, monkeypatch, capsys):
    from genloom.cli import main

    monkeypatch.setenv("GENLOOM_GRID", "mars")
    with pytest.raises(SystemExit) as exit_:
        main(["train", "vae-toy2d", f"output_dir={tmp_path / 'run'}", "trainer.max_steps=1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1 and "GENLOOM_GRID='mars'" in err[0]
    assert not (tmp_path / "run").exists()
