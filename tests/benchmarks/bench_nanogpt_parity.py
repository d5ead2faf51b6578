"""genloom's pydoc transformer recipe vs nanoGPT's baby recipe, trained side by side.

Both train at equal steps on genloom's own pydoc split (the ``text`` dataset's train
part, char tokenizer) with batches of 12 windows of 64 characters, a 4-layer, 4-head,
width-128 network, then are scored on the same held-out text (the test split, fixed
non-overlapping 64-character windows) in bits per character.

* ``nanoGPT``: a reference loop written here after nanoGPT's ``train.py`` with its
  ``shakespeare_char`` ("baby GPT") config as nanoGPT's README runs it on a CPU
  (``--block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128
  --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0``): learned positions,
  ``bias=False``, no dropout, tied embeddings, AdamW (lr 1e-3, betas 0.9/0.99, weight decay 0.1 on
  parameters of 2+ dimensions), 100 warm-up steps then cosine decay to 1e-4, gradient
  clipping at 1.0, batches at random offsets (``get_batch``).
* ``genloom``: ``genloom.train`` on ``examples/configs/transformer-pydoc.yaml`` with
  the data shape and step count above (the recipe's own model and optimizer options).

Prints held-out bpc and training throughput (tokens/s, the loop alone) of each, and
the ratios. Seeds 0.. for ``--seeds`` runs; the mean is printed.

Run:  .venv/bin/python tests/benchmarks/bench_nanogpt_parity.py [--steps 2000] [--seeds 1]
--steps 50 checks that it runs. Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from genloom import load_config, train
from genloom.build import build_dataset

RECIPE = str(Path(__file__).resolve().parents[2] / "examples" / "configs" / "transformer-pydoc.yaml")
BATCH, BLOCK, WIDTH, LAYERS, HEADS = 12, 64, 128, 4, 4
LN2 = math.log(2)


# -- the reference: nanoGPT's model and loop, rewritten ---------------------------------


class RefBlock(nn.Module):
    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.ln1 = nn.LayerNorm(width, bias=False)
        self.qkv = nn.Linear(width, 3 * width, bias=False)
        self.proj = nn.Linear(width, width, bias=False)
        self.ln2 = nn.LayerNorm(width, bias=False)
        self.fc = nn.Linear(width, 4 * width, bias=False)
        self.out = nn.Linear(4 * width, width, bias=False)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(n, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(n, t, c)))
        return x + self.drop(self.out(F.gelu(self.fc(self.ln2(x)))))


class RefGPT(nn.Module):
    def __init__(self, vocab: int, block: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab, WIDTH)
        self.pos = nn.Embedding(block, WIDTH)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(RefBlock(WIDTH, HEADS, dropout) for _ in range(LAYERS))
        self.ln_f = nn.LayerNorm(WIDTH, bias=False)
        self.head = nn.Linear(WIDTH, vocab, bias=False)
        self.head.weight = self.tok.weight
        for name, p in self.named_parameters():
            if p.ndim >= 2:
                std = 0.02 / math.sqrt(2 * LAYERS) if name.endswith(("proj.weight", "out.weight")) else 0.02
                nn.init.normal_(p, std=std)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.tok(idx) + self.pos(torch.arange(idx.shape[1])))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


def nanogpt_lr(step: int, steps: int, lr: float = 1e-3, min_lr: float = 1e-4, warmup: int = 100) -> float:
    if step < warmup:
        return lr * (step + 1) / (warmup + 1)
    ratio = min(1.0, (step - warmup) / max(1, steps - warmup))
    return min_lr + 0.5 * (1 + math.cos(math.pi * ratio)) * (lr - min_lr)


def train_reference(train_ids: torch.Tensor, vocab: int, steps: int, seed: int) -> tuple[nn.Module, float]:
    torch.manual_seed(seed)
    model = RefGPT(vocab, BLOCK).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW([{"params": [p for p in params if p.ndim >= 2], "weight_decay": 0.1},
                             {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.99))
    offsets = torch.arange(BLOCK + 1)
    start = time.perf_counter()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = nanogpt_lr(step, steps)
        starts = torch.randint(len(train_ids) - BLOCK - 1, (BATCH,))
        x = train_ids[starts[:, None] + offsets]
        logits = model(x[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), x[:, 1:].flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    return model.eval(), time.perf_counter() - start


# -- genloom ---------------------------------------------------------------------------


def train_genloom(steps: int, seed: int, extra: list[str]) -> tuple[nn.Module, float]:
    with tempfile.TemporaryDirectory() as out:
        cfg = load_config(RECIPE, [f"seed={seed}", f"data.batch_size={BATCH}", f"data.block_size={BLOCK}",
                                   f"model.width={WIDTH}", f"model.layers={LAYERS}", f"model.heads={HEADS}",
                                   f"trainer.max_steps={steps}", "trainer.max_epochs=-1",
                                   "trainer.limit_val_batches=0", "trainer.enable_progress_bar=false",
                                   "sample.every_n_epochs=0", "checkpoint.every_n_epochs=0",
                                   f"output_dir={out}/run", *extra])
        start = time.perf_counter()
        model = train(cfg, echo=None).model
        seconds = time.perf_counter() - start
    return model.eval(), seconds


def held_out_bpc(logits_of, test_ids: torch.Tensor, block: int = BLOCK) -> float:
    n = (len(test_ids) - 1) // block
    x = test_ids[: n * block + 1]
    windows = torch.stack([x[i * block : i * block + block + 1] for i in range(n)])
    nats = 0.0
    with torch.no_grad():
        for chunk in windows.split(256):
            logits = logits_of(chunk[:, :-1])
            nats += F.cross_entropy(logits.flatten(0, 1), chunk[:, 1:].flatten(), reduction="sum").item()
    return nats / (n * block) / LN2  # char tokenizer: one token per character


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("overrides", nargs="*", help="extra genloom overrides (model.positions=rotary)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(RECIPE, [f"data.block_size={BLOCK}"], check_trainer=False)
    dataset = build_dataset(cfg)
    splits = dataset.splits(cfg.data.val_fraction, cfg.data.test_fraction, cfg.data.split_seed)
    train_ids, test_ids = splits["train"].tokens, splits["test"].tokens
    vocab = dataset.info.vocab_size
    tokens = args.steps * BATCH * BLOCK
    rows = {"nanoGPT": [], "genloom": []}
    for seed in range(args.seeds):
        ref, ref_s = train_reference(train_ids, vocab, args.steps, seed)
        rows["nanoGPT"].append((held_out_bpc(ref, test_ids), tokens / ref_s))
        ours, ours_s = train_genloom(args.steps, seed, args.overrides)
        rows["genloom"].append((held_out_bpc(lambda x: ours.net.step(x)[0], test_ids), tokens / ours_s))
        print(f"seed {seed}: nanoGPT {rows['nanoGPT'][-1][0]:.4f} bpc, genloom {rows['genloom'][-1][0]:.4f} bpc")
    print(f"{args.steps} steps of {BATCH} x {BLOCK} characters, {LAYERS} layers, {HEADS} heads, width {WIDTH}, "
          f"{args.seeds} seed(s), {torch.get_num_threads()} thread(s)")
    mean = {k: [sum(v[i] for v in rs) / len(rs) for i in range(2)] for k, rs in rows.items()}
    for name, (bpc, speed) in mean.items():
        print(f"  {name:<8} held-out bpc {bpc:.4f}   {speed:>8.0f} tokens/s (training loop, incl. setup for genloom)")
    print(f"  bpc genloom - nanoGPT: {mean['genloom'][0] - mean['nanoGPT'][0]:+.4f}")
    print(f"  throughput genloom / nanoGPT: {mean['genloom'][1] / mean['nanoGPT'][1]:.2f}x")


if __name__ == "__main__":
    main()
