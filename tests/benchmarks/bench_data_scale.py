"""Data larger than memory, and the in-memory fast path: throughput and peak RSS.

    python tests/benchmarks/bench_data_scale.py --text-mb 2048 --images 100000

1. digits: one epoch of the VAE's loader over the in-memory digits (genloom's own
   batches, ``__getitems__``), seconds per epoch (compare with the same script's digits
   numbers at an older commit: the fast path must not slow down);
2. text: a generated ``--text-mb`` MB file, tokenised once (``genloom tokenize``'s
   function, bytes), then ``--steps`` training steps of a small transformer on the
   ``token-file`` dataset: MB/s tokenising, tokens/s training;
3. images: ``--images`` generated 32x32 PNGs read for an epoch by ``image-stream``
   with ``--workers`` loader workers: images/s.

Peak RSS (this process and, separately, its children: the loader workers) is printed
after each part: it stays bounded as the sizes grow. Files go to ``--dir`` (default: a
temporary folder, deleted after).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")


def rss() -> str:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return f"peak RSS {own:.0f} MB (largest child {kids:.0f} MB)"


def digits_epoch(repeats: int = 20) -> None:
    import genloom
    from genloom.build import build_dataset
    from genloom.data.splits import DataSplits

    cfg = genloom.load_config("vae-digits")
    loader = DataSplits(build_dataset(cfg), cfg.data).train_dataloader()
    sum(1 for _ in loader)  # warm
    start = time.perf_counter()
    for _ in range(repeats):
        for _ in loader:
            pass
    per = (time.perf_counter() - start) / repeats
    print(f"digits: loader epoch {per * 1e3:.2f} ms ({len(loader)} batches of {cfg.data.batch_size})")


def text(folder: Path, megabytes: int, steps: int) -> None:
    import genloom
    from genloom_text.tokenfile import write_token_file

    src = folder / "corpus.txt"
    line = ("the quick brown fox jumps over the lazy dog; " * 4 + "\n").encode()
    with src.open("wb") as f:
        for _ in range(megabytes * (1 << 20) // len(line)):
            f.write(line)
    start = time.perf_counter()
    header = write_token_file(src, folder / "corpus.bin", "byte")
    took = time.perf_counter() - start
    print(f"text: tokenised {src.stat().st_size / 2**20:,.0f} MB in {took:.1f} s "
          f"({src.stat().st_size / 2**20 / took:.0f} MB/s), {header['count']:,} ids; {rss()}")
    src.unlink()  # the text is no longer needed
    block, batch = 128, 16
    cfg = genloom.load_config(None, [
        "data.name=token-file", f"data.path={folder / 'corpus.bin'}", f"data.block_size={block}",
        f"data.batch_size={batch}", "data.num_workers=1", "model.name=transformer", "model.width=64",
        "model.layers=2", "model.heads=2", "trainer.max_epochs=1", f"trainer.max_steps={steps}",
        "trainer.limit_val_batches=2", "sample.n=0", "checkpoint.every_n_epochs=0", "trainer.logger=false",
        f"output_dir={folder / 'run'}"])
    start = time.perf_counter()
    genloom.train(cfg, echo=None)
    took = time.perf_counter() - start
    print(f"text: {steps} steps on the token file in {took:.1f} s "
          f"({steps * batch * block / took:,.0f} tokens/s, start-up included); {rss()}")


def images(folder: Path, n: int, workers: int) -> None:
    import numpy as np
    from PIL import Image

    from genloom.build import build_dataset
    from genloom.data.splits import DataSplits
    import genloom

    root = folder / "images"
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for i in range(n):
        sub = root / f"{i // 1000:03d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True)
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(sub / f"{i}.png")
    print(f"images: wrote {n:,} PNGs in {time.perf_counter() - start:.1f} s")
    cfg = genloom.load_config(None, [
        "data.name=image-stream", f"data.path={root}", "data.size=32", "data.crop=random", "data.flip=true",
        "data.resize=36", f"data.num_workers={workers}", "data.batch_size=256", "data.val_fraction=0",
        "data.test_fraction=0", f"data.max_files={n + 1000}", "model.name=vae"])
    loader = DataSplits(build_dataset(cfg), cfg.data).train_dataloader()
    start = time.perf_counter()
    seen = sum(len(b["x"]) for b in loader)
    took = time.perf_counter() - start
    print(f"images: one epoch, {seen:,} images in {took:.1f} s ({seen / took:,.0f} images/s, "
          f"{workers} workers); {rss()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text-mb", type=int, default=2048, help="size of the generated text (MB)")
    parser.add_argument("--steps", type=int, default=50, help="training steps on the token file")
    parser.add_argument("--images", type=int, default=100_000, help="PNGs in the generated folder")
    parser.add_argument("--workers", type=int, default=2, help="loader workers for the images")
    parser.add_argument("--dir", default=None, help="where to write the files (default: a temporary folder)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["digits", "text", "images"])
    args = parser.parse_args()
    folder = Path(args.dir or tempfile.mkdtemp(prefix="genloom-bench-data-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; files in {folder}")
    try:
        if "digits" not in args.skip:
            digits_epoch()
        if "text" not in args.skip:
            text(folder, args.text_mb, args.steps)
        if "images" not in args.skip:
            images(folder, args.images, args.workers)
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
