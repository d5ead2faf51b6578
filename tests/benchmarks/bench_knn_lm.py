"""kNN-LM retrieval on the packaged transformer-pydoc recipe: held-out bits per character
and the invention rate of samples, with and without retrieval.

1. trains ``transformer-pydoc`` (the packaged recipe; ``--steps`` caps it) into ``--run``
   unless a checkpoint is already there;
2. builds the datastore over the training split (``genloom retrieve build``'s code);
3. test-split bits per character for ``knn_weight`` 0 (the model alone), 0.1, 0.25, 0.5
   (``knn_k`` 16), on ``--positions`` held-out positions;
4. ``invented_words`` / ``invented_identifiers`` of ``--n`` samples of 200 characters
   (top_p 0.9, the recipe's sampling) at weights 0 and 0.25, beside the held-out floor.

Run:  .venv/bin/python tests/benchmarks/bench_knn_lm.py [--run DIR] [--steps N]
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import torch

RECIPE = "transformer-pydoc"
DEFAULT_RUN = Path(os.environ.get("TMPDIR", "/tmp")) / "genloom-bench" / RECIPE


def trained_run(run: Path, steps: int | None = None) -> Path:
    """``run`` holding a trained ``transformer-pydoc`` (trained here unless an earlier call
    finished training it: the file ``bench-trained`` says so; a partial run is replaced)."""
    done = run / "bench-trained"
    if done.is_file():
        return run
    if run.exists():
        import shutil

        shutil.rmtree(run)
    from genloom.cli import main
    from genloom.config import config_file

    extra = [f"trainer.max_steps={steps}"] if steps else []
    started = time.monotonic()
    main(["train", str(config_file(RECIPE)), f"output_dir={run}", "trainer.enable_progress_bar=false",
          "sample.every_n_epochs=0", *extra])
    done.write_text(f"{time.monotonic() - started:.0f} s\n")
    print(f"trained {RECIPE} into {run} in {time.monotonic() - started:.0f} s")
    return run


def heldout_windows(model, positions: int) -> torch.Tensor:
    from genloom.build import build_dataset
    from genloom.data.base import adopt_saved_tokenizer
    from genloom.data.splits import DataSplits

    dataset = build_dataset(model.run_cfg)
    adopt_saved_tokenizer(dataset, model.info.tokenizer)
    splits = DataSplits(dataset, model.run_cfg.data)
    tokens = splits.split("test").tokens
    width = model.block_size
    count = max(1, min(positions // width, (len(tokens) - 1) // width))
    return torch.stack([tokens[i * width : i * width + width + 1] for i in range(count)]), splits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, default=DEFAULT_RUN)
    parser.add_argument("--steps", type=int, default=None, help="cap training (default: the recipe's 5 epochs)")
    parser.add_argument("--positions", type=int, default=4096, help="held-out positions scored")
    parser.add_argument("--max-positions", type=int, default=200_000, help="datastore size")
    parser.add_argument("--n", type=int, default=16, help="samples per setting for invention")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from genloom.checkpoints import load_checkpoint
    from genloom_text.invention import invention_rates
    from genloom_text.retrieval import STORE, build_datastore, hidden_generator, mix, save_datastore
    from genloom_text.retrieval_cli import training_tokens
    from genloom_text.tokenizers import tokenizer_from_state

    run = trained_run(args.run, args.steps)
    model = load_checkpoint(str(run))
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    store = build_datastore(model, training_tokens(model), max_positions=args.max_positions)
    build_s = time.monotonic() - started
    save_datastore(store, run / STORE)  # where knn_store=RUN looks
    x, splits = heldout_windows(model, args.positions)
    tok = tokenizer_from_state(model.info.tokenizer)
    chars = float(model.count_chars(x[:, 1:]).sum())
    gen = hidden_generator(model)
    started = time.monotonic()
    with torch.inference_mode():
        logits, hidden, _ = gen.step_hidden(x[:, :-1], None, None)
        flat = logits.reshape(-1, logits.shape[-1]).float()
        knn = store.log_probs(hidden.reshape(-1, hidden.shape[-1]), flat.shape[-1], 16)
    knn_s = time.monotonic() - started
    target = x[:, 1:].reshape(-1, 1)
    print(f"{RECIPE} ({run}), datastore {len(store):,} training positions (built in {build_s:.0f} s); "
          f"{target.numel():,} held-out positions; kNN search {knn_s:.1f} s; "
          f"load average {load_before:.2f}, {os.cpu_count()} CPUs")
    print()
    print("| knn_weight | held-out bpc | vs the model alone |")
    print("|---|---|---|")
    base = None
    for weight in (0.0, 0.1, 0.25, 0.5):
        logp = mix(flat, knn, weight) if weight else torch.log_softmax(flat, dim=-1)
        bpc = float(-logp.gather(1, target).sum()) / chars / math.log(2)
        base = bpc if base is None else base
        print(f"| {weight:g} | {bpc:.3f} | {bpc / base:.3f}x |")

    training = [tok.decode(training_tokens(model).tolist())]
    heldout = [tok.decode(row.tolist()) for row in x]
    floor = invention_rates(heldout, training)
    print()
    print("| knn_weight | invented_words | invented_identifiers |")
    print("|---|---|---|")
    print(f"| held-out text (floor) | {floor.get('words', float('nan')):.3f} | "
          f"{floor.get('identifiers', float('nan')):.3f} |")
    for weight in (0.0, 0.25):
        out = model.sample(args.n, sampler="multinomial", generator=torch.Generator().manual_seed(0),
                           prompt="\n", max_new_tokens=200, top_p=0.9, knn_weight=weight, knn_k=16,
                           knn_store=str(run) if weight else None)
        texts = [tok.decode(row.tolist()) for row in out.data]
        rates = invention_rates(texts, training)
        print(f"| {weight:g} | {rates.get('words', float('nan')):.3f} | {rates.get('identifiers', float('nan')):.3f} |")


if __name__ == "__main__":
    main()
