"""genloom evaluate --human: win rates with Wilson intervals, Bradley-Terry, realism (HYPE)."""

from __future__ import annotations

import json

import pytest

from genloom_eval.human import bradley_terry, human_report, read_ratings, wilson


def _pair(a, b, choice):
    return {"type": "pairwise", "a": {"model": a}, "b": {"model": b}, "choice": choice}


def test_wilson_matches_the_textbook_values():
    low, high = wilson(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4) and high == pytest.approx(0.9433, abs=1e-4)
    assert wilson(0, 0) == (0.0, 1.0)


def test_bradley_terry_orders_models_and_recovers_odds():
    s = bradley_terry({("x", "y"): 300, ("y", "x"): 100, ("y", "z"): 300, ("z", "y"): 100})
    assert s["x"] > s["y"] > s["z"]
    assert s["x"] / s["y"] == pytest.approx(3.0, rel=0.02)


def test_report_counts_pairs_ties_and_realism():
    records = [_pair("m1", "m2", "A")] * 6 + [_pair("m2", "m1", "A")] * 2 + [_pair("m1", "m2", "tie")]
    records += [_pair("m1", "m1", "A")]
    records += [{"type": "real_or_generated", "model": "m1", "source": "generated", "answer": a}
                for a in ["real"] * 3 + ["generated"] * 7]
    records += [{"type": "real_or_generated", "model": "m1", "source": "real", "answer": a}
                for a in ["real"] * 8 + ["generated"] * 2]
    r = human_report(records)
    (p,) = r["pairwise"]
    assert (p["model"], p["wins"], p["losses"], p["ties"]) == ("m1", 6, 2, 1) and p["win_rate"] == 0.75
    assert r["same_model_pairs"] == 1 and r["bradley_terry"][0]["model"] == "m1"
    (real,) = r["realism"]
    assert real["realism"] == 0.3 and real["real_judged_real"] == 0.8 and real["hype_inf"] == 0.25
    assert real["low"] < 0.3 < real["high"]


def test_cli(tmp_path, cli):
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(_pair("a", "b", c)) + "\n" for c in "AAB") + '{"torn', encoding="utf-8")
    assert len(read_ratings(path)) == 3
    result = cli("evaluate", "--human", str(path), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["pairwise"][0]["wins"] == 2
    result = cli("evaluate", "--human", str(tmp_path / "none.jsonl"))
    assert result.returncode == 2 and "does not exist" in result.stderr
    result = cli("evaluate")
    assert result.returncode == 2 and "--human" in result.stderr
