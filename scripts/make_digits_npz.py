"""Write ``core/genloom/data/digits.npz``, the built-in ``digits`` dataset, from scikit-learn.

The core ships the 1,797 8x8 handwritten digits (UCI's optical recognition set, as
scikit-learn bundles them) as package data, so loading them needs neither
scikit-learn nor the network. This script made the committed file once; rerun it only
to rebuild it (``tests/test_data.py`` checks the file equals ``load_digits()``):

    .venv/bin/python scripts/make_digits_npz.py

Arrays: ``images`` (1797, 8, 8) uint8 with values 0-16 and ``labels`` (1797,) uint8
with values 0-9, in scikit-learn's order, compressed (about 45 KB).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "core" / "genloom" / "data" / "digits.npz"


def main() -> int:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = bunch.images.astype(np.uint8)
    labels = bunch.target.astype(np.uint8)
    assert (images == bunch.images).all() and (labels == bunch.target).all()  # exact integers
    np.savez_compressed(OUT, images=images, labels=labels)
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes, {len(images)} digits)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
