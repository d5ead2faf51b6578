"""Human judgement from ``genloom serve``'s ratings file (docs/serving.md).

* pairwise: per pair of models, wins, losses and ties, and the win rate among decisive
  answers with its 95% Wilson interval; a Bradley-Terry ranking across models (ties
  count half a win each way; fitted by Hunter's MM iterations);
* real or generated (HYPE, Zhou et al. 2019): per model, the realism score (the share
  of generated items people took for real, with its Wilson interval: 50% means people
  cannot tell), the share of real items taken for real (the raters' own baseline), and
  HYPE-infinity (the error rate over real and generated items together).

Pure Python: no torch.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from genloom.errors import ConfigError

Z95 = 1.959963984540054


def wilson(successes: float, n: float, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a proportion; (0, 1) with no trials."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def read_ratings(path: str | Path) -> list[dict[str, Any]]:
    """The records of a ratings file; a torn last line (a crash mid-write) is skipped."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"ratings file '{p}' does not exist; collect ratings with genloom serve RUN --ratings FILE")
    records = []
    lines = p.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):
                continue
            raise ConfigError(f"{p}:{number}: not valid JSON; a ratings file holds one record per line") from None
        if isinstance(obj, dict) and obj.get("type") in ("pairwise", "real_or_generated"):
            records.append(obj)
    return records


def bradley_terry(wins: dict[tuple[str, str], float], iterations: int = 1000) -> dict[str, float]:
    """Strengths (geometric mean 1) from ``wins[(i, j)]``, the wins of i over j."""
    models = sorted({m for pair in wins for m in pair})
    strength = {m: 1.0 for m in models}
    for _ in range(iterations):
        new = {}
        for i in models:
            w = sum(wins.get((i, j), 0.0) for j in models if j != i) + 0.1  # a small prior keeps it finite
            d = sum((wins.get((i, j), 0.0) + wins.get((j, i), 0.0) + 0.2) / (strength[i] + strength[j])
                    for j in models if j != i)
            new[i] = w / d if d else 1.0
        mean = math.exp(sum(math.log(v) for v in new.values()) / len(new)) if new else 1.0
        new = {m: v / mean for m, v in new.items()}
        if all(abs(new[m] - strength[m]) < 1e-10 for m in models):
            strength = new
            break
        strength = new
    return strength


def human_report(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Win rates, a Bradley-Terry ranking and realism scores from ratings records."""
    counts: dict[tuple[str, str], dict[str, int]] = {}
    wins: dict[tuple[str, str], float] = {}
    same_model = 0
    for r in (r for r in records if r["type"] == "pairwise"):
        a, b = r["a"]["model"], r["b"]["model"]
        if a == b:
            same_model += 1
            continue
        key = tuple(sorted((a, b)))
        c = counts.setdefault(key, {"wins": 0, "losses": 0, "ties": 0})
        if r["choice"] == "tie":
            c["ties"] += 1
            wins[(a, b)] = wins.get((a, b), 0.0) + 0.5
            wins[(b, a)] = wins.get((b, a), 0.0) + 0.5
            continue
        winner, loser = (a, b) if r["choice"] == "A" else (b, a)
        c["wins" if winner == key[0] else "losses"] += 1
        wins[(winner, loser)] = wins.get((winner, loser), 0.0) + 1
    pairs = []
    for (first, second), c in sorted(counts.items()):
        decisive = c["wins"] + c["losses"]
        low, high = wilson(c["wins"], decisive)
        pairs.append({"model": first, "over": second, **c,
                      "win_rate": c["wins"] / decisive if decisive else None, "low": low, "high": high})
    strength = bradley_terry(wins) if wins else {}
    ranking = [{"model": m, "strength": s} for m, s in sorted(strength.items(), key=lambda kv: -kv[1])]
    realism = []
    by_model: dict[str, list[dict[str, Any]]] = {}
    for r in (r for r in records if r["type"] == "real_or_generated"):
        by_model.setdefault(r["model"], []).append(r)
    for model, rs in sorted(by_model.items()):
        fake = [r for r in rs if r["source"] == "generated"]
        real = [r for r in rs if r["source"] == "real"]
        fooled = sum(r["answer"] == "real" for r in fake)
        real_ok = sum(r["answer"] == "real" for r in real)
        errors = fooled + sum(r["answer"] != "real" for r in real)
        low, high = wilson(fooled, len(fake))
        realism.append({"model": model, "generated": len(fake), "realism": fooled / len(fake) if fake else None,
                        "low": low, "high": high, "real": len(real),
                        "real_judged_real": real_ok / len(real) if real else None,
                        "hype_inf": errors / len(rs) if rs else None})
    return {"pairwise": pairs, "same_model_pairs": same_model, "bradley_terry": ranking, "realism": realism}


def format_report(report: dict[str, Any]) -> str:
    """The report as the lines ``genloom evaluate --human`` prints."""
    pct = lambda v: "   -  " if v is None else f"{100 * v:5.1f}%"  # noqa: E731
    lines = []
    if report["pairwise"]:
        lines.append("pairwise                         W    L    T   win rate  95% interval")
        for p in report["pairwise"]:
            lines.append(f"{p['model'] + ' vs ' + p['over']:<30} {p['wins']:>4} {p['losses']:>4} {p['ties']:>4}"
                         f"    {pct(p['win_rate'])}  {pct(p['low'])}-{pct(p['high']).strip()}")
    if report["bradley_terry"]:
        lines.append("Bradley-Terry ranking            strength")
        lines += [f"{i}. {r['model']:<28} {r['strength']:8.3f}" for i, r in enumerate(report["bradley_terry"], 1)]
    if report["realism"]:
        lines.append("real or generated    generated  realism  95% interval   real judged real  HYPE-inf")
        for r in report["realism"]:
            lines.append(f"{r['model']:<20} {r['generated']:>9}   {pct(r['realism'])} {pct(r['low'])}-"
                         f"{pct(r['high']).strip():<8} {pct(r['real_judged_real']):>12}    {pct(r['hype_inf'])}")
    return "\n".join(lines) if lines else "no ratings yet"
