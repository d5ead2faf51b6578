"""Hugging Face language models in and out: the GPT-2 and Llama layouts.

:func:`import_hf` turns a local folder in the Hugging Face layout (``config.json``,
``model.safetensors`` or sharded ``*.safetensors`` with ``model.safetensors.index.json``,
``tokenizer.json``) into a genloom :class:`~genloom_transformer.model.TransformerLM`
with the model's own tokenizer (genloom-text's ``hf``); :func:`export_hf` writes the
reverse for a transformer whose shape is GPT-2's or Llama's. ``genloom import-hf`` and
``genloom export-hf`` are the commands.

The folder is data, never code: ``config.json`` is parsed as JSON and read through an
allowlist of ``model_type`` values and keys, its sizes are bounded before anything is
allocated, weights load with safetensors, and nothing the folder names is imported
(``trust_remote_code`` does not exist here). Weights become float32; dropout is 0.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from genloom.bounds import read_json_object
from genloom.errors import CheckpointError

SUPPORTED = ("gpt2", "llama")
CONFIG, WEIGHTS, INDEX, TOKENIZER = (
    "config.json", "model.safetensors", "model.safetensors.index.json", "tokenizer.json",
)
#: bounds on config.json's sizes, checked before anything is allocated
LIMITS = {"vocab_size": 2**20, "width": 2**15, "layers": 512, "heads": 1024,
          "context_length": 2**20, "mlp_width": 2**17}
MAX_PARAMETERS = 2 * 10**10
MAX_CONFIG_BYTES = 2**20
#: training windows of imported models' data section (at most the context length)
BLOCK_SIZE = 256
GPT2_ACTIVATIONS = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu_fast": "gelu_tanh",
                    "gelu": "gelu"}


def _fail(msg: str) -> CheckpointError:
    return CheckpointError(msg)


def read_config(folder: str | Path) -> dict[str, Any]:
    """``config.json`` of ``folder`` as a dict, with a supported ``model_type``."""
    path = Path(folder)
    if not path.is_dir():
        raise _fail(f"'{path}' is not a folder; name a folder in the Hugging Face layout (config.json, "
                    "model.safetensors, tokenizer.json)")
    file = path / CONFIG
    cfg = read_json_object(file, "a Hugging Face model folder holds config.json, model.safetensors and "
                           "tokenizer.json", MAX_CONFIG_BYTES)
    kind = cfg.get("model_type")
    if kind not in SUPPORTED:
        raise _fail(f"'{file}': model_type {kind!r} is not supported; genloom imports "
                    f"{', '.join(SUPPORTED)}")
    return cfg


def _int(cfg: dict[str, Any], key: str, default: Any = None) -> int:
    value = cfg.get(key, default)
    if value is None or isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise _fail(f"config.json: '{key}' must be a positive integer, not {value!r}")
    return value


def _float(cfg: dict[str, Any], key: str, default: float) -> float:
    value = cfg.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or math.isinf(value):
        raise _fail(f"config.json: '{key}' must be a positive number, not {value!r}")
    return float(value)


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise _fail(f"config.json: {what}; genloom holds the plain GPT-2 and Llama shapes only")


def model_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """The genloom ``model`` section (plus ``vocab_size``) for a supported HF config."""
    if cfg["model_type"] == "gpt2":
        act = cfg.get("activation_function", "gelu_new")
        _require(act in GPT2_ACTIVATIONS, f"activation_function {act!r} is not one of "
                 f"{', '.join(GPT2_ACTIVATIONS)}")
        _require(cfg.get("scale_attn_weights", True) is True, "scale_attn_weights must be true")
        _require(not cfg.get("scale_attn_by_inverse_layer_idx", False),
                 "scale_attn_by_inverse_layer_idx is not supported")
        _require(not cfg.get("add_cross_attention", False), "add_cross_attention is not supported")
        width = _int(cfg, "n_embd")
        out = {"width": width, "layers": _int(cfg, "n_layer"), "heads": _int(cfg, "n_head"),
               "positions": "learned", "context_length": _int(cfg, "n_positions"),
               "bias": True, "norm": "layernorm", "norm_eps": _float(cfg, "layer_norm_epsilon", 1e-5),
               "activation": GPT2_ACTIVATIONS[act],
               "mlp_width": _int(cfg, "n_inner", 4 * width) if cfg.get("n_inner") is not None else 4 * width,
               "tied": bool(cfg.get("tie_word_embeddings", True)), "kv_heads": 0}
    else:
        _require(cfg.get("hidden_act", "silu") == "silu", "hidden_act must be 'silu'")
        _require(not cfg.get("attention_bias", False), "attention_bias is not supported")
        _require(not cfg.get("mlp_bias", False), "mlp_bias is not supported")
        rope = cfg.get("rope_parameters") or cfg.get("rope_scaling") or {}
        _require(isinstance(rope, dict) and rope.get("rope_type", rope.get("type", "default")) == "default",
                 f"rope scaling {rope!r} is not supported (only the default rotary angles)")
        theta = _float(rope, "rope_theta", 0) if "rope_theta" in rope else _float(cfg, "rope_theta", 10000.0)
        width, heads = _int(cfg, "hidden_size"), _int(cfg, "num_attention_heads")
        _require(width % heads == 0, f"hidden_size {width} is not a multiple of num_attention_heads {heads}")
        head_dim = cfg.get("head_dim")
        _require(head_dim in (None, width // heads), f"head_dim {head_dim} differs from hidden_size / heads")
        kv = _int(cfg, "num_key_value_heads", heads)
        _require(heads % kv == 0, f"num_attention_heads {heads} is not a multiple of num_key_value_heads {kv}")
        out = {"width": width, "layers": _int(cfg, "num_hidden_layers"), "heads": heads,
               "positions": "rotary", "context_length": _int(cfg, "max_position_embeddings"),
               "bias": False, "norm": "rmsnorm", "norm_eps": _float(cfg, "rms_norm_eps", 1e-6),
               "activation": "swiglu", "mlp_width": _int(cfg, "intermediate_size"),
               "tied": bool(cfg.get("tie_word_embeddings", False)),
               "kv_heads": kv if kv != heads else 0, "rope_base": theta}
    out["vocab_size"] = _int(cfg, "vocab_size")
    for key, limit in LIMITS.items():
        if out[key] > limit:
            raise _fail(f"config.json: {key}={out[key]:,} is over genloom's bound of {limit:,}; "
                        "the file is damaged or not a language model genloom can hold")
    w, h, v = out["width"], out["mlp_width"], out["vocab_size"]
    params = out["layers"] * (4 * w * w + 3 * w * h) + v * w * (1 if out["tied"] else 2)
    if params > MAX_PARAMETERS:
        raise _fail(f"config.json describes ~{params:,} parameters, over genloom's bound of "
                    f"{MAX_PARAMETERS:,}")
    return out


# -- weights ------------------------------------------------------------------------------------


def _weight_files(folder: Path) -> list[Path]:
    index = folder / INDEX
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
            names = sorted(set(weight_map.values()))
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
            raise _fail(f"'{index}' is not a safetensors index (a JSON object with a 'weight_map')") from None
        for name in names:  # plain file names inside the folder, nothing else
            if (not isinstance(name, str) or Path(name).name != name or not name.endswith(".safetensors")):
                raise _fail(f"'{index}' names {name!r}; shards must be .safetensors files in the folder")
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            raise _fail(f"'{folder}' lacks the shard {missing[0]} that {INDEX} names")
        return [folder / n for n in names]
    if (folder / WEIGHTS).is_file():
        return [folder / WEIGHTS]
    raise _fail(f"'{folder}' has no {WEIGHTS} (nor {INDEX}); save the model with safetensors "
                "(save_pretrained does by default)")


def read_tensors(folder: str | Path) -> dict[str, Any]:
    """Every tensor of the folder's safetensors file(s), by name, as float32."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    tensors: dict[str, Any] = {}
    for file in _weight_files(Path(folder)):
        try:
            part = load_file(str(file))
        except (SafetensorError, OSError, ValueError) as exc:
            raise _fail(f"'{file}' cannot be read as safetensors: {str(exc).splitlines()[0]}") from None
        tensors.update({k: v.to(torch.float32) if v.is_floating_point() else v for k, v in part.items()})
    return tensors


def _strip(tensors: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in tensors.items()}


def to_genloom(kind: str, m: dict[str, Any], hf: dict[str, Any]) -> dict[str, Any]:
    """The genloom state dict for HF tensors ``hf`` of a ``kind`` model of shape ``m``."""
    import torch

    out: dict[str, Any] = {}
    if kind == "gpt2":
        hf = _strip(hf, "transformer.")
        out["tok_emb.weight"], out["pos_emb.weight"] = hf.pop("wte.weight", None), hf.pop("wpe.weight", None)
        for i in range(m["layers"]):
            a, b = f"h.{i}.", f"blocks.{i}."
            for src, dst, transpose in (("ln_1", "ln1", False), ("ln_2", "ln2", False),
                                        ("attn.c_attn", "attn.qkv", True), ("attn.c_proj", "attn.proj", True),
                                        ("mlp.c_fc", "mlp.0", True), ("mlp.c_proj", "mlp.2", True)):
                w = hf.pop(a + src + ".weight", None)
                out[b + dst + ".weight"] = w.t() if transpose and w is not None and w.dim() == 2 else w
                out[b + dst + ".bias"] = hf.pop(a + src + ".bias", None)
            hf.pop(a + "attn.bias", None), hf.pop(a + "attn.masked_bias", None)  # old causal-mask buffers
        out["ln_f.weight"], out["ln_f.bias"] = hf.pop("ln_f.weight", None), hf.pop("ln_f.bias", None)
    else:
        hf = _strip(hf, "model.")
        out["tok_emb.weight"] = hf.pop("embed_tokens.weight", None)
        for i in range(m["layers"]):
            a, b = f"layers.{i}.", f"blocks.{i}."
            parts = [hf.pop(a + f"self_attn.{x}_proj.weight", None) for x in "qkv"]
            out[b + "attn.qkv.weight"] = None if any(p is None for p in parts) else _cat(parts, a + "self_attn")
            out[b + "attn.proj.weight"] = hf.pop(a + "self_attn.o_proj.weight", None)
            parts = [hf.pop(a + f"mlp.{x}_proj.weight", None) for x in ("gate", "up")]
            out[b + "mlp.0.weight"] = None if any(p is None for p in parts) else _cat(parts, a + "mlp")
            out[b + "mlp.2.weight"] = hf.pop(a + "mlp.down_proj.weight", None)
            out[b + "ln1.weight"] = hf.pop(a + "input_layernorm.weight", None)
            out[b + "ln2.weight"] = hf.pop(a + "post_attention_layernorm.weight", None)
        out["ln_f.weight"] = hf.pop("norm.weight", None)
    head = hf.pop("lm_head.weight", None)
    if not m["tied"]:
        out["head.weight"] = head
    elif head is not None and out["tok_emb.weight"] is not None and not torch.equal(head, out["tok_emb.weight"]):
        raise _fail("the weights hold an lm_head that differs from the embedding, but config.json says "
                    "tie_word_embeddings; fix the config")
    missing = sorted(k for k, v in out.items() if v is None)
    if missing:
        raise _fail(f"the weights lack {len(missing)} tensor(s) this {kind} config needs, e.g. '{missing[0]}'")
    extra = sorted(k for k in hf if not k.endswith("rotary_emb.inv_freq"))
    if extra:
        raise _fail(f"the weights hold {len(extra)} tensor(s) a {kind} model of this config has no place "
                    f"for, e.g. '{extra[0]}'")
    return {k: v.contiguous() for k, v in out.items()}


def _cat(parts: list[Any], where: str) -> Any:
    import torch

    if len({p.dim() for p in parts}) != 1 or len({p.shape[1:] for p in parts}) != 1:
        raise _fail(f"'{where}': projection shapes {[list(p.shape) for p in parts]} do not fit together")
    return torch.cat(parts, dim=0)


def from_genloom(kind: str, m: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """HF tensors (``save_pretrained``'s names) for a genloom state dict: the reverse of
    :func:`to_genloom`."""
    out: dict[str, Any] = {}
    if kind == "gpt2":
        out["transformer.wte.weight"], out["transformer.wpe.weight"] = state["tok_emb.weight"], state["pos_emb.weight"]
        for i in range(m["layers"]):
            a, b = f"transformer.h.{i}.", f"blocks.{i}."
            for src, dst, transpose in (("ln_1", "ln1", False), ("ln_2", "ln2", False),
                                        ("attn.c_attn", "attn.qkv", True), ("attn.c_proj", "attn.proj", True),
                                        ("mlp.c_fc", "mlp.0", True), ("mlp.c_proj", "mlp.2", True)):
                w = state[b + dst + ".weight"]
                out[a + src + ".weight"] = w.t() if transpose else w
                out[a + src + ".bias"] = state[b + dst + ".bias"]
        out["transformer.ln_f.weight"], out["transformer.ln_f.bias"] = state["ln_f.weight"], state["ln_f.bias"]
    else:
        w, hd = m["width"], m["width"] // m["heads"]
        kvw = (m["kv_heads"] or m["heads"]) * hd
        out["model.embed_tokens.weight"] = state["tok_emb.weight"]
        for i in range(m["layers"]):
            a, b = f"model.layers.{i}.", f"blocks.{i}."
            q, k, v = state[b + "attn.qkv.weight"].split([w, kvw, kvw], dim=0)
            out.update({a + "self_attn.q_proj.weight": q, a + "self_attn.k_proj.weight": k,
                        a + "self_attn.v_proj.weight": v,
                        a + "self_attn.o_proj.weight": state[b + "attn.proj.weight"]})
            gate, up = state[b + "mlp.0.weight"].chunk(2, dim=0)
            out.update({a + "mlp.gate_proj.weight": gate, a + "mlp.up_proj.weight": up,
                        a + "mlp.down_proj.weight": state[b + "mlp.2.weight"],
                        a + "input_layernorm.weight": state[b + "ln1.weight"],
                        a + "post_attention_layernorm.weight": state[b + "ln2.weight"]})
        out["model.norm.weight"] = state["ln_f.weight"]
    if not m["tied"]:
        out["lm_head.weight"] = state["head.weight"]
    return {k: v.detach().clone().contiguous().cpu() for k, v in out.items()}


# -- whole models ------------------------------------------------------------------------------


def import_hf(folder: str | Path) -> Any:
    """The genloom model (eval mode, with ``run_cfg`` and ``info``) of an HF folder."""
    from genloom import DataInfo, build_model, load_config
    from genloom.checkpoints import load_weights
    from genloom_text.hf_tokenizer import HFTokenizer

    path = Path(folder)
    hf_cfg = read_config(path)
    m = model_config(hf_cfg)
    tensors = read_tensors(path)
    tok_file = path / TOKENIZER
    if not tok_file.is_file():
        raise _fail(f"'{path}' has no {TOKENIZER}; genloom reads the model's tokenizer from it "
                    "(a folder with only tokenizer.model or vocab.json is not supported)")
    tokenizer = HFTokenizer.from_file(tok_file)
    if tokenizer.vocab_size > m["vocab_size"]:
        raise _fail(f"'{tok_file}' has {tokenizer.vocab_size} tokens, more than the model's vocab_size "
                    f"{m['vocab_size']}; the tokenizer belongs to another model")
    vocab = m.pop("vocab_size")
    state = to_genloom(hf_cfg["model_type"], m, tensors)
    block = min(BLOCK_SIZE, m["context_length"])
    run = {"model": {"name": "transformer", **m},
           "data": {"name": "text", "tokenizer": "hf", "block_size": block}}
    info = DataInfo(kind="tokens", shape=(block + 1,), vocab_size=vocab, tokenizer=tokenizer.state())
    cfg = load_config(base=run, base_label=f"the model imported from '{path}'", check_trainer=False)
    model = build_model(cfg, info)
    if m["tied"]:
        state["head.weight"] = state["tok_emb.weight"]
    expected = model.net.state_dict()
    for key, tensor in state.items():
        if key in expected and tuple(tensor.shape) != tuple(expected[key].shape):
            raise _fail(f"the weights do not fit config.json: '{key}' is {list(tensor.shape)}, the config "
                        f"makes it {list(expected[key].shape)}")
    load_weights(model, {"net." + k: v for k, v in state.items()}, path, "Hugging Face model")
    return model.eval()


class HFLayout:
    """The ``layout`` component ``hf``: ``genloom sample FOLDER``, ``genloom.load_checkpoint``
    and the align commands read a Hugging Face folder directly, as :func:`import_hf` does."""

    @staticmethod
    def recognizes(path: Path) -> bool:
        """A folder whose ``config.json`` is a transformers config: a JSON object naming a
        ``model_type``, not written by diffusers. An unsupported model type is claimed, so its
        load says which are supported; any other ``config.json`` (a diffusers autoencoder, an
        application's settings) is left to the core's list of the layouts genloom knows."""
        try:
            cfg = read_json_object(path / CONFIG, "", MAX_CONFIG_BYTES)
        except (CheckpointError, OSError):
            return False
        return isinstance(cfg.get("model_type"), str) and "_diffusers_version" not in cfg

    @staticmethod
    def load(path: str | Path) -> Any:
        return import_hf(path)

    @staticmethod
    def write(model: Any, out: str | Path, *, force: bool = False) -> list[str]:
        """``genloom export CHECKPOINT OUT --format hf``: :func:`export_hf`."""
        return export_hf(model, out, force=force)


def hf_shape(model: Any) -> tuple[str, dict[str, Any]]:
    """``("gpt2" | "llama", its model section)`` for a genloom transformer, or a one-line
    error naming what does not fit either."""
    from omegaconf import OmegaConf

    m = OmegaConf.to_container(model.run_cfg.model, resolve=True)
    if m.get("name") not in ("transformer", "transformer:transformer"):
        raise _fail(f"model '{m.get('name')}' is not a genloom transformer; only those export to Hugging Face")
    m["context_length"] = model.net.context_length
    if m.get("conditional"):
        raise _fail("a class-conditional transformer has no Hugging Face counterpart")
    changed = [key for key in ("qk_norm", "logit_softcap") if m.get(key)]
    if changed:
        raise _fail(f"model.{changed[0]} changes the forward pass, and neither GPT-2 nor Llama has it; "
                    "train without it to export to Hugging Face")
    gpt2 = (m["positions"] == "learned" and m["norm"] == "layernorm" and m["bias"]
            and m["activation"] in ("gelu", "gelu_tanh") and not m["kv_heads"] and m["tied"])
    llama = (m["positions"] == "rotary" and m["norm"] == "rmsnorm" and not m["bias"]
             and m["activation"] == "swiglu")
    if not (gpt2 or llama):
        raise _fail("this transformer fits neither GPT-2 (learned positions, layernorm, biases, gelu, tied) "
                    "nor Llama (rotary, rmsnorm, no biases, swiglu)")
    return ("gpt2" if gpt2 else "llama"), m


def hf_config(kind: str, m: dict[str, Any], vocab: int) -> dict[str, Any]:
    """``config.json`` for a genloom transformer section ``m`` of ``kind``."""
    if kind == "gpt2":
        return {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": vocab,
                "n_positions": m["context_length"], "n_embd": m["width"], "n_layer": m["layers"],
                "n_head": m["heads"], "n_inner": m["mlp_width"] or 4 * m["width"],
                "activation_function": "gelu_new" if m["activation"] == "gelu_tanh" else "gelu",
                "layer_norm_epsilon": m["norm_eps"], "resid_pdrop": 0.0, "embd_pdrop": 0.0,
                "attn_pdrop": 0.0, "tie_word_embeddings": True, "dtype": "float32"}
    return {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": vocab,
            "hidden_size": m["width"], "intermediate_size": m["mlp_width"] or 4 * m["width"],
            "num_hidden_layers": m["layers"], "num_attention_heads": m["heads"],
            "num_key_value_heads": m["kv_heads"] or m["heads"], "head_dim": m["width"] // m["heads"],
            "max_position_embeddings": m["context_length"], "rms_norm_eps": m["norm_eps"],
            "hidden_act": "silu", "attention_bias": False, "mlp_bias": False,
            "rope_parameters": {"rope_type": "default", "rope_theta": m["rope_base"]},
            "tie_word_embeddings": m["tied"], "dtype": "float32"}


def export_hf(model: Any, out: str | Path, *, force: bool = False) -> list[str]:
    """Write ``model`` in the Hugging Face layout to ``out``; returns the files written.

    ``tokenizer.json`` is written when the model's tokenizer has one (``hf`` and
    ``bpe``); a ``char`` or ``byte`` model gets weights and config only."""
    from safetensors.torch import save

    from genloom.atomic import write_atomic

    kind, m = hf_shape(model)
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise _fail(f"'{out_dir}' exists and is not a folder; name a folder for the export")
    if not force and any((out_dir / n).exists() for n in (CONFIG, WEIGHTS)):
        raise _fail(f"'{out_dir}' already holds a model; pass --force to replace it")
    tensors = from_genloom(kind, m, model.net.state_dict())
    files = {WEIGHTS: save(tensors, metadata={"format": "pt"}),
             CONFIG: json.dumps(hf_config(kind, m, model.info.vocab_size), indent=2) + "\n"}
    tok = model.info.tokenizer or {}
    if tok.get("name") in ("hf", "bpe") and isinstance(tok.get("json"), str):
        files[TOKENIZER] = tok["json"]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            write_atomic(out_dir / name, data)
    except OSError as exc:
        raise _fail(f"cannot write to '{out_dir}': {exc.strerror or exc}") from None
    return sorted(files)
