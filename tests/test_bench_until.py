"""``genloom bench --until``: each run checked while it trains, stopped at the target,
and the training time and steps to reach it reported."""

import json

import pytest

from genloom.cli import main

TINY = ["--set", "sample.every_n_epochs=0", "--set", "trainer.limit_val_batches=1", "--set", "data.n=400",
        "--set", "trainer.max_epochs=1000"]


def _bench(capsys, tmp_path, *args):
    capsys.readouterr()
    main(["bench", "--data", "toy2d", "--models", "vae", "--seeds", "1", "--n", "20",
          "--out", str(tmp_path), *TINY, *args])
    out = capsys.readouterr()
    (run,) = json.loads((tmp_path / "bench.json").read_text())["runs"]
    return run, out


def test_a_met_target_stops_the_run_and_says_when(tmp_path, capsys):
    run, out = _bench(capsys, tmp_path, "--steps", "40", "--until", "mmd<=1e9", "--every", "0.001s")
    log = run["until"]
    assert log["reached_step"] == run["steps"] < 40  # stopped at the first check, not the budget
    assert log["reached_s"] is not None and log["checks"][0]["floor"] is not None
    assert "| reached mmd<=1e9 | | 1/1 |" in out.out
    assert "| steps to mmd<=1e9 |" in out.out
    assert "mmd<=1e9 at" in out.err


def test_an_unmet_target_trains_the_whole_budget_and_reports_the_best(tmp_path, capsys):
    run, out = _bench(capsys, tmp_path, "--steps", "6", "--until", "mmd<=0", "--every", "0.001s")
    log = run["until"]
    assert run["steps"] == 6 and log["reached_s"] is None
    values = [c["value"] for c in log["checks"]]
    assert len(values) >= 2 and log["best"] == min(values)
    assert log["checks"][-1]["step"] == 6  # the end of the budget is always checked
    assert "| reached mmd<=0 | | 0/1 |" in out.out and "not reached" in out.err


def test_checking_does_not_change_what_the_run_learns(tmp_path, capsys):
    """The checks draw samples with their own seeds; training's random state is put back,
    so a checked run ends with the same weights and metrics as an unchecked one."""
    checked, _ = _bench(capsys, tmp_path / "a", "--steps", "5", "--until", "mmd<=0", "--every", "0.001s")
    plain, _ = _bench(capsys, tmp_path / "b", "--steps", "5")
    assert len(checked["until"]["checks"]) >= 2
    assert checked["metrics"] == plain["metrics"]


def test_a_relative_target_multiplies_the_floor(tmp_path, capsys):
    run, _ = _bench(capsys, tmp_path, "--steps", "3", "--until", "mmd<=1e9x", "--every", "0.001s")
    first = run["until"]["checks"][0]
    assert first["floor"] > 0 and run["until"]["reached_step"] == first["step"]


def test_a_logged_metric_is_read_after_each_validation(tmp_path, capsys):
    run, _ = _bench(capsys, tmp_path, "--steps", "40", "--until", "val/loss<=1e9")
    log = run["until"]
    assert log["reached_step"] == run["steps"] == 1  # one batch per epoch, validated after it
    assert log["checks"][0]["check_s"] == 0.0  # read from the run's logs: nothing evaluated


@pytest.mark.parametrize("args, message", [
    (["--until", "fid"], "--until 'fid': give METRIC<=VALUE or METRIC>=VALUE"),
    (["--until", "fid<=abc"], "--until 'fid<=abc': give METRIC<=VALUE"),
    (["--until", "val/bpc<=2x"], "a logged metric has no real-data floor"),
    (["--until", "mmd<=1", "--every", "never"], "--every 'never': give a positive duration"),
])
def test_bad_targets_are_one_line_exit_2(args, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--data", "toy2d", "--models", "vae", "--steps", "1", "--out", str(tmp_path / "b"), *args])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "b").exists()


def test_the_time_budget_is_training_time_the_checks_do_not_use_it(tmp_path, capsys, monkeypatch):
    """--budget with --until: each check's seconds are given back to the run, so checks
    that take longer than the budget itself still leave it the whole budget to train."""
    import time

    import genloom_eval.evaluation as evaluation

    real = evaluation.evaluate_model

    def slow(*args, **kwargs):
        time.sleep(0.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluation, "evaluate_model", slow)
    run, _ = _bench(capsys, tmp_path, "--budget", "1s", "--until", "mmd<=0", "--every", "0.25s")
    checks = run["until"]["checks"]
    assert sum(c["check_s"] for c in checks) > 1.0  # the checks alone took more than the budget
    assert checks[-1]["train_s"] >= 0.9  # and training still had (nearly) all of its second
    assert checks[-1]["train_s"] < 1.9  # and stopped at its end, checks not counted


def test_with_until_the_callback_keeps_the_time_budget_not_lightnings_timer():
    """Lightning's Timer cannot be paused, so with --until the time budget is the
    callback's own clock: no trainer.max_time, and the callback stops the run."""
    from types import SimpleNamespace

    from genloom_eval.bench import Budget
    from genloom_eval.bench_target import parse_target, until_callback

    budget = Budget(seconds=2.0)
    assert any("max_time" in o for o in budget.overrides())
    assert not any("max_time" in o for o in budget.overrides(timed_by_callback=True))
    trainer = SimpleNamespace(should_stop=False, sanity_checking=False, callback_metrics={})
    watch = until_callback(parse_target("val/loss<=0"), 1e9, None, budget_s=0.0)
    watch.on_train_start(trainer, None)
    watch.on_train_batch_end(trainer, None)
    assert trainer.should_stop
    unbounded = until_callback(parse_target("val/loss<=0"), 1e9, None)
    trainer.should_stop = False
    unbounded.on_train_start(trainer, None)
    unbounded.on_train_batch_end(trainer, None)
    assert not trainer.should_stop
