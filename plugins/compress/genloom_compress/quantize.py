"""int8 dynamic quantisation of a model's linear layers, for CPU inference.

``genloom export CKPT OUT --quantize int8`` stores every ``nn.Linear`` weight that is
not tied to another module (a tied output layer shares the embedding, which stays
float) as int8 with one scale and zero point per output row, in the same safetensors
file as the rest of the weights; ``genloom.json`` lists the layers under
``quantized``. Loading such an export (``load_checkpoint``, ``genloom sample``)
rebuilds the float model, then swaps those layers for torch's dynamically quantised
linear layers holding exactly the stored int8 weights: activations are quantised on
the fly per batch, and the matrix products run in int8 on the CPU.

It uses ``torch.ao.quantization.quantize_dynamic`` with the per-channel dynamic
qconfig. In torch 2.13 that API works but is deprecated in favour of the separate
``torchao`` package; genloom stays on it (no new dependency) and silences the
deprecation warnings here. ``read_weights`` of a quantised export returns the
dequantised float weights, so ``init_from`` and ``evaluate`` read it like any other.

The core never imports this module: :class:`Int8` is registered as the ``quantizer``
component ``int8``, and the core looks it up by the scheme name (the
:class:`genloom.checkpoints.Quantizer` protocol).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor, nn

from genloom.errors import CheckpointError, ConfigError

SCHEMES = ("int8",)
SCALE, ZERO = ".weight_scale", ".weight_zero_point"


def quantize_layers(model: nn.Module, layers: list[str]) -> nn.Module:
    """Replace ``layers`` (names of ``nn.Linear`` modules in ``model``) in place by
    dynamically quantised int8 linear layers (per output channel)."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():  # torch 2.13: deprecated in favour of torchao
        warnings.simplefilter("ignore")
        quantize_dynamic(model, {name: per_channel_dynamic_qconfig for name in layers},
                         dtype=torch.qint8, inplace=True)
    return model


def quantized_state(model: nn.Module, scheme: str) -> tuple[dict[str, Tensor], list[str]]:
    """The state dict of ``model`` with its untied linear weights in int8, and the
    quantised layers' names. ``model`` itself is left as it was (a copy is quantised)."""
    import copy

    from genloom_compress.lora import linear_names

    if scheme not in SCHEMES:
        raise ConfigError(f"--quantize {scheme}: unknown scheme; valid choices: {', '.join(SCHEMES)}")
    layers = linear_names(model)
    if not layers:
        raise ConfigError("this model has no untied nn.Linear layer to quantise")
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    q = quantize_layers(copy.deepcopy(model).cpu().eval(), layers)
    for name in layers:
        module = q.get_submodule(name)
        weight = module.weight()
        state.pop(f"{name}.weight")
        state[f"{name}.weight"] = weight.int_repr().contiguous()
        state[f"{name}{SCALE}"] = weight.q_per_channel_scales().to(torch.float32).contiguous()
        state[f"{name}{ZERO}"] = weight.q_per_channel_zero_points().to(torch.int64).contiguous()
        bias = module.bias()
        if bias is not None:
            state[f"{name}.bias"] = bias.detach().clone().contiguous()
    return state, layers


def dequantize_state(meta: dict[str, Any], state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Float weights of a quantised export's state dict (scales and zero points removed)."""
    info = meta.get("quantized") or {}
    out = dict(state)
    for name in info.get("layers", []):
        try:
            q = out[f"{name}.weight"]
            scale, zero = out.pop(f"{name}{SCALE}"), out.pop(f"{name}{ZERO}")
        except KeyError as exc:
            raise CheckpointError(f"quantised export lacks {exc.args[0]}; export it again") from None
        out[f"{name}.weight"] = (q.to(torch.float32) - zero[:, None]) * scale[:, None]
    return out


def requantize(model: nn.Module, meta: dict[str, Any], state: dict[str, Tensor]) -> nn.Module:
    """Swap the quantised export's layers of an already loaded float ``model`` for int8
    layers holding exactly the stored int8 weights."""
    info = meta.get("quantized") or {}
    layers = list(info.get("layers", []))
    if not layers:
        return model
    quantize_layers(model, layers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in layers:
            module = model.get_submodule(name)
            scale = state[f"{name}{SCALE}"].to(torch.float64)
            zero = state[f"{name}{ZERO}"]
            w = (state[f"{name}.weight"].to(torch.float32) - zero[:, None]) * scale[:, None].float()
            qweight = torch.quantize_per_channel(w, scale, zero, 0, torch.qint8)
            module.set_weight_bias(qweight, module.bias())
    return model


class Int8:
    """The ``int8`` quantizer component: what ``genloom export --quantize int8`` and
    ``load_checkpoint`` of its export call (:class:`genloom.checkpoints.Quantizer`)."""

    scheme = "int8"

    def quantized_state(self, model: nn.Module) -> tuple[dict[str, Tensor], list[str]]:
        """See :func:`quantized_state`."""
        return quantized_state(model, self.scheme)

    def dequantize_state(self, meta: dict[str, Any], state: dict[str, Tensor]) -> dict[str, Tensor]:
        """See :func:`dequantize_state`."""
        return dequantize_state(meta, state)

    def requantize(self, model: nn.Module, meta: dict[str, Any], state: dict[str, Tensor]) -> nn.Module:
        """See :func:`requantize`."""
        return requantize(model, meta, state)
