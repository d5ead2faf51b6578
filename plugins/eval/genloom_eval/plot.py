"""``genloom plot RUN_DIR``: a run's loss and metric curves as one PNG.

Why: ``metrics.csv`` holds every logged value, but whether a run still improves,
overfits (val rising while train falls) or diverges shows at a glance only on a plot.
One panel per metric name (``loss``, ``kl``, ``bpc`` ...), with its ``train/`` and
``val/`` curves against the optimizer step. For runs on 2-D points (toy2d) a last
panel scatters the model's samples (seeded with the run's seed) over the training
points.

matplotlib is an optional extra: ``pip install 'genloom-eval[plot]'``.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from genloom.errors import GenloomError

INSTALL_HINT = "genloom plot needs matplotlib: pip install 'genloom-eval[plot]'"
#: points drawn in the samples-versus-data panel
SCATTER_N = 1000


def read_curves(path: Path) -> dict[str, dict[str, tuple[list[float], list[float]]]]:
    """``{metric: {"train"|"val"|...: (steps, values)}}`` from a run's ``metrics.csv``.

    Columns are ``epoch``, ``step`` and ``PREFIX/NAME``; empty cells (a value not
    logged at that step) are skipped. A missing or empty file is a one-line error.
    """
    if not path.is_file():
        raise GenloomError(f"no '{path}': give a run directory written by genloom train")
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    curves: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
    for row in rows:
        step = row.get("step")
        if not step:
            continue
        for column, cell in row.items():
            if column in ("epoch", "step") or not cell or column is None:
                continue
            split, _, name = column.rpartition("/")
            try:
                value = float(cell)
            except ValueError:
                continue
            steps, values = curves.setdefault(name, {}).setdefault(split or "value", ([], []))
            steps.append(float(step))
            values.append(value)
    if not curves:
        raise GenloomError(f"'{path}' holds no logged values yet; train longer, then plot")
    return curves


def points_and_samples(run_dir: Path) -> tuple[Any, Any] | None:
    """``(training points, samples)`` as numpy arrays when the run models 2-D points
    and has a checkpoint; else None."""
    checkpoint = run_dir / "checkpoints" / "last.ckpt"
    if not checkpoint.is_file():
        return None
    import torch

    from genloom.build import build_dataset
    from genloom.checkpoints import load_checkpoint
    from genloom.data.splits import DataSplits
    from genloom_eval.metrics.heldout import all_examples

    model = load_checkpoint(str(checkpoint))
    if model.info.kind != "points":
        return None
    train = all_examples(DataSplits(build_dataset(model.run_cfg), model.run_cfg.data).split("train"))["x"]
    generator = torch.Generator().manual_seed(int(model.run_cfg.seed))
    with torch.no_grad():
        samples = model.sample(SCATTER_N, generator=generator).data
    return train.float().numpy(), samples.float().numpy()


#: what --out may name, and how each starts: an existing file is replaced only when it
#: already holds such an image (a plot written before), never a checkpoint or a CSV
FORMATS = {".png": (b"\x89PNG\r\n\x1a\n",), ".svg": (b"<?xml", b"<svg")}


def check_out(run: Path, path: Path) -> str:
    """The image format for ``path``, or a one-line error when writing there would
    destroy something: a file that is not a PNG/SVG image, or anything in the run's
    ``checkpoints/`` folder."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise GenloomError(f"--out '{path}': give a .png or .svg file")
    checkpoints = (run / "checkpoints").resolve()
    if checkpoints == path.resolve().parent or checkpoints in path.resolve().parents:
        raise GenloomError(f"--out '{path}' is in the run's checkpoints folder; write the plot elsewhere")
    if path.exists() or path.is_symlink():
        head = path.read_bytes()[:64] if path.is_file() else b""
        if not head.lstrip().startswith(FORMATS[suffix]):
            raise GenloomError(f"--out '{path}' exists and is not a plot ({suffix[1:].upper()} image); "
                               "pick another --out (nothing was replaced)")
    return suffix[1:]


def plot_run(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Draw ``run_dir``'s curves (and, for points, samples over data) to ``out``
    (default ``RUN_DIR/plot.png``, or a .svg); return the path written.

    An ``out`` that exists is replaced only when it is an image of the same format
    (an earlier plot): never a checkpoint, ``metrics.csv`` or ``config.yaml``.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise GenloomError(INSTALL_HINT) from None
    from genloom.atomic import write_atomic

    run = Path(run_dir)
    if not run.is_dir():
        raise GenloomError(f"'{run}' is not a run directory; give the folder genloom train wrote")
    path = Path(out) if out is not None else run / "plot.png"
    fmt = check_out(run, path)  # before the work: a bad --out fails fast, and replaces nothing
    curves = read_curves(run / "metrics.csv")
    scatter = points_and_samples(run)
    panels = len(curves) + (scatter is not None)
    cols = min(3, panels)
    rows = math.ceil(panels / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    flat = list(axes.flat)
    for ax, (name, splits) in zip(flat, curves.items()):
        for split, (steps, values) in sorted(splits.items()):
            style = {"marker": "o", "markersize": 3} if len(steps) < 20 else {}
            ax.plot(steps, values, label=split, **style)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
    if scatter is not None:
        ax = flat[len(curves)]
        data, samples = scatter
        ax.scatter(data[:, 0], data[:, 1], s=3, alpha=0.4, label="training data")
        ax.scatter(samples[:, 0], samples[:, 1], s=3, alpha=0.4, label=f"{len(samples)} samples")
        ax.set_title("samples over data")
        ax.set_aspect("equal", adjustable="datalim")
        ax.legend(fontsize="small", markerscale=3)
    for ax in flat[panels:]:
        ax.axis("off")
    fig.suptitle(run.name)
    fig.tight_layout()
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=100)
    plt.close(fig)
    return write_atomic(path, buffer.getvalue())
