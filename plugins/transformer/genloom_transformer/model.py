"""``transformer``: a decoder-only transformer trained by the core's LanguageModel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from genloom import ConfigError, DataInfo
from genloom_text import LanguageModel
from genloom_text.muon import adam_only
from genloom_transformer.network import Transformer


class TransformerLM(LanguageModel):
    """Next-token cross-entropy on a :class:`Transformer`; sampled by the core's decoders."""

    @dataclass
    class Config:
        width: int = 128
        layers: int = 4
        heads: int = 4
        dropout: float = 0.0
        #: "learned" (a position embedding) or "rotary" (RoPE on queries and keys)
        positions: str = "learned"
        #: longest sequence the model attends over; 0: the data's block_size
        context_length: int = 0
        #: condition on the data's class labels (``batch["y"]``, ``--cond``): a learned
        #: class embedding is added to the token embedding at every position
        conditional: bool = False
        #: biases in the linear layers and LayerNorms (false: none, as nanoGPT's bias=False)
        bias: bool = True
        #: key/value heads (grouped-query attention); 0: as many as ``heads``
        kv_heads: int = 0
        #: "layernorm" (GPT-2) or "rmsnorm" (Llama)
        norm: str = "layernorm"
        norm_eps: float = 1e-5
        #: "gelu", "gelu_tanh" (GPT-2's approximation), "swiglu" (Llama's gated MLP) or
        #: "relu2" (squared ReLU, the nanoGPT speed-runs')
        activation: str = "gelu"
        #: hidden width of the MLP; 0: 4 x width
        mlp_width: int = 0
        #: the output layer shares the token embedding's weights
        tied: bool = True
        #: base of the rotary angles (Llama's rope_theta)
        rope_base: float = 10000.0
        #: RMS-normalise queries and keys per head before attention (speed-runs' QK-norm)
        qk_norm: bool = False
        #: start every block's output projections at zero (each block as the identity)
        zero_init: bool = False
        #: squash logits to (-cap, cap) by cap * tanh(logits / cap); 0: off
        logit_softcap: float = 0.0

    def __init__(self, cfg: Any, info: DataInfo) -> None:
        super().__init__(cfg, info)
        if cfg.conditional and info.num_classes <= 0:
            raise ConfigError(
                "model.conditional=true needs token data with class labels (num_classes > 0)"
            )
        context = cfg.context_length or self.block_size
        if context < self.block_size:
            raise ValueError(
                f"model.context_length={context} is shorter than data.block_size={self.block_size}"
            )
        self.net = Transformer(
            info.vocab_size, context, width=cfg.width, layers=cfg.layers, heads=cfg.heads,
            dropout=cfg.dropout, positions=cfg.positions,
            num_classes=info.num_classes if cfg.conditional else 0, bias=cfg.bias,
            kv_heads=cfg.kv_heads, norm=cfg.norm, norm_eps=cfg.norm_eps,
            activation=cfg.activation, mlp_width=cfg.mlp_width, tied=cfg.tied,
            rope_base=cfg.rope_base, qk_norm=cfg.qk_norm, zero_init=cfg.zero_init,
            logit_softcap=cfg.logit_softcap,
        )
        # embeddings and the output layer are not hidden matrices: optim.name=muon
        # steps them with AdamW (genloom_text.muon)
        adam_only(p for m in (self.net.tok_emb, self.net.pos_emb, self.net.cls_emb, self.net.head)
                  if m is not None for p in m.parameters())
