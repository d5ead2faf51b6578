"""Pre-train a ``text:chars`` encoder on the captions, for ``model.text_checkpoint``.

The issue asks for a text encoder trained jointly with the denoiser *or* pre-trained on the
captions and frozen. This module is the second: a denoising character model (as BERT's
masked model, but a masked character is replaced by a random character of the alphabet,
because the encoder has no mask id and treats id 0 as padding): ``mask_rate`` of each
caption's characters are corrupted and a linear head on the encoder's states must give the
originals back. Reading "sev?n" as "seven" needs the state at a character to know its word,
which is what the denoiser's cross-attention reads. ``objective="contrastive"`` trains the
pooled vector instead: the mean states of two phrasings of one image must find each other
among the batch's (InfoNCE, temperature 0.1), so the pooled vector keeps what the phrasings
share (the digit, always told) and drops how it was worded.

The encoder's weights are written as safetensors with its config in the metadata;
:func:`load_text_checkpoint` loads them into a model's encoder (shapes checked, one-line
:class:`~genloom.errors.ConfigError` on a mismatch, never code run from the file).

Run it as ``python -m genloom_t2i.text_pretrain --out chars.safetensors`` (``--help``).
The package ships one such file, named in a config as ``shipped:captions-contrastive``
(:data:`SHIPPED_TEXT`; its metadata records the arguments that made it).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from genloom.errors import ConfigError


def corrupt(ids: Tensor, vocab: int, rate: float, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``(corrupted ids, which positions)``: ``rate`` of the non-padding ids replaced by
    a random non-padding id in ``1..vocab-1``."""
    real = ids != 0
    which = (torch.rand(ids.shape, generator=generator) < rate) & real
    noise = torch.randint(1, vocab, ids.shape, generator=generator)
    return torch.where(which, noise, ids), which


OBJECTIVES = ("denoise", "contrastive")

#: ``model.text_checkpoint: shipped:NAME`` names one of these package files instead of a path
SHIPPED_PREFIX = "shipped:"
#: the text encoders this package ships (``weights/NAME.safetensors``), each made by
#: ``main`` with the arguments its metadata records
SHIPPED_TEXT: dict[str, Path] = {
    "captions-contrastive": Path(__file__).parent / "weights" / "captions-contrastive.safetensors",
}


def resolve_text_checkpoint(value: str) -> Path:
    """The file ``model.text_checkpoint`` names: ``shipped:NAME`` is a text encoder of
    :data:`SHIPPED_TEXT` (a one-line ConfigError listing them for an unknown name),
    anything else a path."""
    if not value.startswith(SHIPPED_PREFIX):
        return Path(value)
    name = value[len(SHIPPED_PREFIX):]
    if name not in SHIPPED_TEXT:
        raise ConfigError(f"model.text_checkpoint: no shipped text encoder {name!r}; shipped: "
                          + ", ".join(SHIPPED_PREFIX + n for n in sorted(SHIPPED_TEXT)))
    return SHIPPED_TEXT[name]


def contrastive_loss(encoder: nn.Module, ids: Tensor, batch_size: int, generator: torch.Generator) -> Tensor:
    """InfoNCE between the pooled states of two different phrasings of each of
    ``batch_size`` images (``ids``: ``(n, phrasings, context)``)."""
    from genloom_t2i.unet import pooled_states
    n, k = ids.shape[:2]
    rows = torch.randint(0, n, (batch_size,), generator=generator)
    a = torch.randint(0, k, (batch_size,), generator=generator)
    b = (a + torch.randint(1, k, (batch_size,), generator=generator)) % k
    z = []
    for pick in (a, b):
        states, mask = encoder(ids[rows, pick])
        z.append(nn.functional.normalize(pooled_states(states, mask), dim=1))
    logits = z[0] @ z[1].T / 0.1
    target = torch.arange(batch_size)
    return (nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.T, target)) / 2


def pretrain_text_encoder(encoder: nn.Module, captions: Tensor, steps: int, batch_size: int = 64,
                          lr: float = 2e-3, mask_rate: float = 0.15, seed: int = 0,
                          progress: bool = False, objective: str = "denoise") -> list[float]:
    """Train ``encoder`` (a ``text:chars`` encoder) in place on ``captions`` (zero-padded
    bytes ``(n, length)`` or ``(n, phrasings, length)``; ``contrastive`` needs the latter
    with two phrasings or more); returns the loss of every step. Any head is thrown away."""
    if objective not in OBJECTIVES:
        raise ConfigError(f"unknown objective {objective!r}; use one of {', '.join(OBJECTIVES)}")
    if objective == "contrastive":
        if captions.dim() != 3 or captions.shape[1] < 2:
            raise ConfigError("the contrastive objective needs two phrasings or more per image")
        n, k, length = captions.shape
        pairs = encoder.tokenize_bytes(captions.reshape(-1, length)).view(n, k, -1)
    if captions.dim() == 3:
        captions = captions.reshape(-1, captions.shape[-1])
    captions = captions[(captions != 0).any(1)]
    if len(captions) == 0:
        raise ConfigError("text pre-training needs captions; the data has none")
    ids = encoder.tokenize_bytes(captions)
    torch.manual_seed(seed)
    head = nn.Linear(encoder.dim, encoder.vocab_size)
    params = list(encoder.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    g = torch.Generator().manual_seed(seed)
    encoder.train()
    losses: list[float] = []
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=steps, desc="pre-training text:chars", file=sys.stderr)
    for step in range(steps):
        if objective == "contrastive":
            loss = contrastive_loss(encoder, pairs, batch_size, g)
        else:
            batch = ids[torch.randint(0, len(ids), (batch_size,), generator=g)]
            noisy, which = corrupt(batch, encoder.vocab_size, mask_rate, g)
            states, _ = encoder(noisy)
            logits = head(states[:, 1:])  # state 0 is the start token
            width = logits.shape[1]
            loss = nn.functional.cross_entropy(logits[which[:, :width]], batch[:, :width][which[:, :width]])
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        for group in opt.param_groups:  # cosine decay to a tenth
            group["lr"] = lr * (0.1 + 0.9 * 0.5 * (1 + torch.cos(torch.tensor(step / steps * 3.14159265)).item()))
        opt.step()
        losses.append(float(loss.detach()))
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
    if bar is not None:
        bar.close()
    encoder.eval()
    return losses


def new_encoder(dim: int, layers: int, heads: int, seed: int) -> nn.Module:
    """A fresh ``text:chars`` encoder whose initial weights come from ``seed`` alone, so the
    script's ``--seed`` fixes the whole run (its weights and its batches)."""
    from genloom_text.encoder import CharEncoder
    torch.manual_seed(seed)
    return CharEncoder(CharEncoder.Config(dim=dim, layers=layers, heads=heads))


def encoder_config(encoder: nn.Module) -> dict[str, object]:
    """What the file's metadata records: enough to say which ``text_encoder`` it fits."""
    return {"alphabet": encoder.alphabet, "context": encoder.context, "dim": encoder.dim,
            "layers": len(encoder.layers.layers) if encoder.layers is not None else 0}


def save_text_checkpoint(encoder: nn.Module, path: str | Path, record: dict[str, object] | None = None) -> None:
    """Write the encoder's weights as safetensors, its config in the metadata and, under
    ``genloom_text_pretrain``, ``record`` (how it was made: script, objective, seed, steps)."""
    from safetensors.torch import save_file
    state = {k: v.detach().contiguous() for k, v in encoder.state_dict().items()}
    metadata = {"genloom_text_encoder": json.dumps(encoder_config(encoder))}
    if record is not None:
        metadata["genloom_text_pretrain"] = json.dumps(record)
    save_file(state, str(path), metadata=metadata)


def load_text_checkpoint(encoder: nn.Module, path: str | Path) -> None:
    """Load weights written by :func:`save_text_checkpoint` (a path or ``shipped:NAME``,
    see :func:`resolve_text_checkpoint`) into ``encoder``; a
    ConfigError (one line) when the file is missing, unreadable or of another shape."""
    from safetensors import SafetensorError, safe_open
    path = resolve_text_checkpoint(str(path))
    if not path.is_file():
        raise ConfigError(f"model.text_checkpoint: no file {str(path)!r}; make one with "
                          "python -m genloom_t2i.text_pretrain --out FILE")
    own = encoder.state_dict()
    try:  # shapes first, from the header: nothing is read that the encoder cannot hold
        with safe_open(str(path), framework="pt") as f:
            keys = set(f.keys())
            fits = keys == set(own) and all(tuple(f.get_slice(k).get_shape()) == tuple(own[k].shape)
                                             for k in own)
            state = {k: f.get_tensor(k) for k in own} if fits else {}
    except (SafetensorError, OSError, ValueError) as err:
        raise ConfigError(f"model.text_checkpoint: {str(path)!r} is not a safetensors file "
                          f"({' '.join(str(err).split())})") from None
    if not fits:
        raise ConfigError(f"model.text_checkpoint: {str(path)!r} holds an encoder of another shape "
                          f"than model.text_encoder ({encoder_config(encoder)}); pre-train it with "
                          "the same dim, layers, heads and alphabet")
    encoder.load_state_dict(state)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m genloom_t2i.text_pretrain``: pre-train on captioned_mnist's train split."""
    parser = argparse.ArgumentParser(
        prog="python -m genloom_t2i.text_pretrain",
        description="Pre-train a text:chars encoder on the captioned digits' training captions "
                    "(denoising characters) and write it as safetensors for model.text_checkpoint.")
    parser.add_argument("--out", required=True, help="the .safetensors file to write")
    parser.add_argument("--steps", type=int, default=1000, help="optimizer steps (default 1000)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--objective", choices=OBJECTIVES, default="denoise",
                        help="denoise: restore corrupted characters; contrastive: match the pooled "
                             "vectors of two phrasings of one image (default denoise)")
    parser.add_argument("--mask-rate", type=float, default=0.15, help="share of characters corrupted")
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the first and last loss as JSON")
    args = parser.parse_args(argv)
    try:
        if args.steps < 1 or args.batch_size < 1 or not 0 < args.mask_rate < 1:
            raise ConfigError("--steps and --batch-size must be at least 1 and --mask-rate in (0, 1)")
        out = Path(args.out)
        if not out.parent.is_dir():
            raise ConfigError(f"--out: no folder {str(out.parent)!r}; create it first")
        from genloom_eval.data.captioned_mnist import CaptionedMNIST
        encoder = new_encoder(args.dim, args.layers, args.heads, args.seed)
        data = CaptionedMNIST(CaptionedMNIST.Config())
        captions = data.splits(0.1, 0.1, 0)["train"].captions
        losses = pretrain_text_encoder(encoder, captions, args.steps, args.batch_size, args.lr,
                                       args.mask_rate, args.seed, progress=not args.json,
                                       objective=args.objective)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    record = {"script": "python -m genloom_t2i.text_pretrain", "objective": args.objective,
              "seed": args.seed, "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr,
              "mask_rate": args.mask_rate,
              "data": "captioned_mnist (default config), train split of splits 0.1/0.1 seed 0",
              "first_loss": round(losses[0], 4), "last_loss": round(losses[-1], 4)}
    save_text_checkpoint(encoder, out, record)
    if args.json:
        print(json.dumps({"out": str(out), "first_loss": losses[0], "last_loss": losses[-1]}))
    else:
        print(f"wrote {out}: loss {losses[0]:.3f} -> {losses[-1]:.3f} after {args.steps} steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
