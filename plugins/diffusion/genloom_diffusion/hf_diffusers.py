"""diffusers folders in: a ``UNet2DModel`` pipeline becomes a genloom diffusion model, an
``AutoencoderKL`` a frozen first stage.

:func:`import_diffusers` reads a local folder as diffusers' ``save_pretrained`` writes it:

* a ``DDPMPipeline`` or ``DDIMPipeline`` (``model_index.json``, ``unet/config.json`` +
  ``unet/diffusion_pytorch_model.safetensors``, ``scheduler/scheduler_config.json``)
  becomes the ``diffusers`` model: genloom's :class:`~genloom_diffusion.model.Diffusion`
  with the ``diffusers_unet`` denoiser, the scheduler's beta table computed as diffusers
  computes it (float32), its prediction type, and what the scheduler decides at sampling
  time (``timestep_spacing``, ``steps_offset``, ``clip_sample``), so genloom's ``ddpm``
  and ``ddim`` samplers give the pipeline's images for the same seed and steps;
* an ``AutoencoderKL`` (``config.json`` + ``diffusion_pytorch_model.safetensors``)
  becomes the ``diffusers_vae`` model, for ``model.latent.checkpoint``.

The folder is data, never code: JSON files are parsed (at most 1 MB) and read through
allowlists of class names and keys, sizes are bounded before anything is allocated,
weights load with safetensors, and nothing the folder names is imported. diffusers
need not be installed. The ``diffusers`` layout component lets ``genloom sample
FOLDER`` and ``genloom.load_checkpoint(FOLDER)`` read such a folder directly;
``genloom import-diffusers FOLDER OUT`` writes it as a genloom export, and ``genloom
export CHECKPOINT OUT --format diffusers`` writes such a model (fine-tuned, say) back.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genloom.bounds import read_json_object
from genloom.errors import CheckpointError

MODEL_INDEX, CONFIG, SCHEDULER_CONFIG = "model_index.json", "config.json", "scheduler_config.json"
WEIGHTS = "diffusion_pytorch_model.safetensors"
PIPELINES = ("DDPMPipeline", "DDIMPipeline")
SCHEDULERS = ("DDPMScheduler", "DDIMScheduler")
BETA_SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")
SPACINGS = ("leading", "trailing", "linspace")
FROM_DIFFUSERS_PREDICTION = {"epsilon": "eps", "sample": "x0", "v_prediction": "v"}
#: scheduler options and the only value genloom holds for each
SCHEDULER_FIXED = {"thresholding": False, "rescale_betas_zero_snr": False, "trained_betas": None,
                   "variance_type": "fixed_small", "set_alpha_to_one": True}
SCHEDULER_KEYS = {"num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "prediction_type",
                  "clip_sample", "clip_sample_range", "timestep_spacing", "steps_offset",
                  "dynamic_thresholding_ratio", "sample_max_value", *SCHEDULER_FIXED}
MAX_JSON_BYTES, MAX_TIMESTEPS = 2**20, 100_000
SUPPORTED = "a DDPMPipeline or DDIMPipeline folder (UNet2DModel + DDPM/DDIM scheduler) or an AutoencoderKL folder"


def _fail(msg: str) -> CheckpointError:
    return CheckpointError(msg)


def read_json(file: Path) -> dict[str, Any]:
    """A JSON object from ``file``, or a one-line error."""
    return read_json_object(file, "diffusers' save_pretrained writes it", MAX_JSON_BYTES)


def read_tensors(folder: Path) -> dict[str, Any]:
    """The tensors of ``folder``'s safetensors weights, as float32."""
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    file = folder / WEIGHTS
    if not file.is_file():
        hint = " (sharded weights are not supported)" if (folder / f"{WEIGHTS}.index.json").is_file() else ""
        raise _fail(f"'{folder}' has no {WEIGHTS}{hint}; save the model with safetensors "
                    "(save_pretrained does by default)")
    try:
        tensors = load_file(str(file))
    except (SafetensorError, OSError, ValueError) as exc:
        raise _fail(f"'{file}' cannot be read as safetensors: {str(exc).splitlines()[0]}") from None
    return {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in tensors.items()}


# -- the scheduler ----------------------------------------------------------------------


class DiffusersBetas:
    """The ``noise_schedule`` ``diffusers``: ``alpha_bar`` as diffusers' DDPM and DDIM
    schedulers compute it (in float32, so the tables are the same numbers)."""

    @dataclass
    class Config:
        beta_schedule: str = "linear"
        beta_start: float = 1e-4
        beta_end: float = 0.02

    def __init__(self, cfg: Any, timesteps: int) -> None:
        if cfg.beta_schedule not in BETA_SCHEDULES:
            raise ValueError(f"beta_schedule must be one of {', '.join(BETA_SCHEDULES)}, got {cfg.beta_schedule!r}")
        if not 0 < cfg.beta_start <= cfg.beta_end < 1:
            raise ValueError(f"need 0 < beta_start <= beta_end < 1, got {cfg.beta_start}, {cfg.beta_end}")
        self.cfg, self.timesteps = cfg, timesteps

    def alphas_cumprod(self) -> Any:
        import torch

        n, cfg = self.timesteps, self.cfg
        if cfg.beta_schedule == "linear":
            betas = torch.linspace(cfg.beta_start, cfg.beta_end, n, dtype=torch.float32)
        elif cfg.beta_schedule == "scaled_linear":
            betas = torch.linspace(cfg.beta_start**0.5, cfg.beta_end**0.5, n, dtype=torch.float32) ** 2
        else:
            def abar(t: float) -> float:
                return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
            betas = torch.tensor([min(1 - abar((i + 1) / n) / abar(i / n), 0.999) for i in range(n)],
                                 dtype=torch.float32)
        return torch.cumprod(1.0 - betas, dim=0).to(torch.float64)


def scheduler_section(sched: dict[str, Any], where: str) -> dict[str, Any]:
    """The ``diffusers`` model's options for a DDPM/DDIM ``scheduler_config.json``."""
    kind = sched.get("_class_name")
    if kind not in SCHEDULERS:
        raise _fail(f"'{where}': scheduler {kind!r} is not supported; genloom imports {', '.join(SCHEDULERS)}")
    for key, value in SCHEDULER_FIXED.items():
        if key in sched and sched[key] != value:
            raise _fail(f"'{where}': {key}={sched[key]!r} is not supported; genloom holds {key}={value!r}")
    extra = sorted(k for k in sched if k not in SCHEDULER_KEYS and not k.startswith("_"))
    if extra:
        raise _fail(f"'{where}': scheduler option '{extra[0]}' is not supported by genloom")
    steps = sched.get("num_train_timesteps", 1000)
    spacing, offset = sched.get("timestep_spacing", "leading"), sched.get("steps_offset", 0)
    prediction = sched.get("prediction_type", "epsilon")
    if not isinstance(steps, int) or isinstance(steps, bool) or not 2 <= steps <= MAX_TIMESTEPS:
        raise _fail(f"'{where}': num_train_timesteps must be a whole number in 2..{MAX_TIMESTEPS}, got {steps!r}")
    if spacing not in SPACINGS:
        raise _fail(f"'{where}': timestep_spacing {spacing!r} is not one of {', '.join(SPACINGS)}")
    if not isinstance(offset, int) or not 0 <= offset < steps:
        raise _fail(f"'{where}': steps_offset must be a whole number in 0..{steps - 1}, got {offset!r}")
    if prediction not in FROM_DIFFUSERS_PREDICTION:
        raise _fail(f"'{where}': prediction_type {prediction!r} is not one of "
                    f"{', '.join(FROM_DIFFUSERS_PREDICTION)}")
    clip = sched.get("clip_sample_range", 1.0)
    if isinstance(clip, bool) or not isinstance(clip, (int, float)) or not 0 < clip < math.inf:
        raise _fail(f"'{where}': clip_sample_range must be a positive number, not {clip!r}")
    clip = float(clip) if sched.get("clip_sample", True) else 0.0
    beta = {"name": "diffusion:diffusers", "beta_schedule": sched.get("beta_schedule", "linear"),
            "beta_start": sched.get("beta_start", 1e-4), "beta_end": sched.get("beta_end", 0.02)}
    if beta["beta_schedule"] not in BETA_SCHEDULES:
        raise _fail(f"'{where}': beta_schedule {beta['beta_schedule']!r} is not one of {', '.join(BETA_SCHEDULES)}")
    return {"timesteps": steps, "schedule": beta, "timestep_spacing": spacing, "steps_offset": offset,
            "clip_sample_range": clip, "prediction": FROM_DIFFUSERS_PREDICTION[prediction]}


# -- loading --------------------------------------------------------------------------------


def _load(model: Any, tensors: dict[str, Any], prefix: str, where: Path) -> None:
    """Check names and shapes of ``tensors`` against ``model`` (one-line errors), then load."""
    expected = {k[len(prefix):]: v for k, v in model.state_dict().items() if k.startswith(prefix)}
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        what = (f"lack {len(missing)} tensor(s) its config needs, e.g. '{missing[0]}'" if missing else
                f"hold {len(extra)} tensor(s) its config has no place for, e.g. '{extra[0]}'")
        raise _fail(f"the weights in '{where}' {what}")
    for key, tensor in tensors.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise _fail(f"the weights in '{where}' do not fit its config: '{key}' is {list(tensor.shape)}, "
                        f"the config makes it {list(expected[key].shape)}")
    model.load_state_dict({prefix + k: v for k, v in tensors.items()}, strict=not prefix)


def _build(model_section: dict[str, Any], shape: tuple[int, ...], where: Path) -> Any:
    from genloom import DataInfo, build_model, load_config

    cfg = load_config(base={"model": model_section}, base_label=f"the model imported from '{where}'",
                      check_trainer=False)
    return build_model(cfg, DataInfo(kind="image", shape=shape))


def import_pipeline(folder: Path) -> Any:
    """The ``diffusers`` model of a DDPM/DDIM pipeline folder (eval mode)."""
    from genloom_diffusion.hf_unet import unet_config

    index = read_json(folder / MODEL_INDEX)
    if index.get("_class_name") not in PIPELINES:
        raise _fail(f"'{folder}': pipeline {index.get('_class_name')!r} is not supported; genloom imports "
                    f"{SUPPORTED}")
    unet = unet_config(read_json(folder / "unet" / CONFIG), str(folder / "unet" / CONFIG))
    sched = scheduler_section(read_json(folder / "scheduler" / SCHEDULER_CONFIG),
                              str(folder / "scheduler" / SCHEDULER_CONFIG))
    prediction = sched.pop("prediction")
    section = {"name": "diffusion:diffusers", **sched,
               "denoiser": {"name": "diffusion:diffusers_unet", **unet, "prediction": prediction}}
    shape = (unet.get("in_channels", 3), unet["sample_size"], unet["sample_size"])
    if unet.get("out_channels", 3) != shape[0]:
        raise _fail(f"'{folder / 'unet' / CONFIG}': out_channels differs from in_channels; a denoiser's output "
                    "has its input's shape")
    tensors = read_tensors(folder / "unet")
    model = _build(section, shape, folder)
    _load(model, tensors, "denoiser.", folder / "unet")
    return model.eval()


def import_vae(folder: Path, hf: dict[str, Any]) -> Any:
    """The ``diffusers_vae`` model of an AutoencoderKL folder (eval mode)."""
    from genloom_diffusion.hf_vae import to_genloom, vae_config

    section = vae_config(hf, str(folder / CONFIG))
    shape = (section.get("in_channels", 3), section["sample_size"], section["sample_size"])
    tensors = to_genloom(read_tensors(folder))
    model = _build(section, shape, folder)
    _load(model, tensors, "", folder)
    return model.eval()


def import_diffusers(folder: str | Path) -> Any:
    """The genloom model (eval mode, with ``run_cfg`` and ``info``) of a diffusers folder:
    a DDPM/DDIM pipeline, or an AutoencoderKL (its own folder or a pipeline's ``vae/``)."""
    path = Path(folder)
    if not path.is_dir():
        raise _fail(f"'{path}' is not a folder; name a folder diffusers' save_pretrained wrote")
    if (path / MODEL_INDEX).is_file():
        return import_pipeline(path)
    hf = read_json(path / CONFIG)
    kind = hf.get("_class_name")
    if kind == "AutoencoderKL":
        return import_vae(path, hf)
    if kind == "UNet2DModel":
        raise _fail(f"'{path}' holds a UNet2DModel without its scheduler; save the whole pipeline "
                    "(DDPMPipeline.save_pretrained) so scheduler/scheduler_config.json comes with it")
    raise _fail(f"'{path}': {kind!r} is not supported; genloom imports {SUPPORTED}")


def describe(model: Any) -> str:
    """A few words on an imported model, for the import command's line."""
    n = sum(p.numel() for p in model.parameters())
    m = model.run_cfg.model
    if "timestep_spacing" in m:
        return f"UNet2DModel, {n:,} parameters, {m.timesteps} timesteps, predicts {m.denoiser.prediction}"
    return f"AutoencoderKL, {n:,} parameters, latents {tuple(model.encoder.latent_shape)}"


# -- writing -------------------------------------------------------------------------------

#: the diffusers release whose folder format :func:`export_diffusers` writes
DIFFUSERS_FORMAT = "0.42.1"
SCHEDULER_NAMES = {v: k for k, v in FROM_DIFFUSERS_PREDICTION.items()}


def diffusers_files(model: Any) -> dict[str, Any]:
    """``{relative path: bytes or str}`` of ``model`` (an imported or fine-tuned
    ``diffusers`` or ``diffusers_vae`` model) in the layout diffusers' save_pretrained writes."""
    from omegaconf import OmegaConf
    from safetensors.torch import save

    from genloom import Denoiser
    from genloom_diffusion.hf_model import DiffusersDiffusion
    from genloom_diffusion.hf_vae import DiffusersVAE

    def tensors(state: dict[str, Any]) -> bytes:
        return save({k: v.detach().clone().contiguous().cpu() for k, v in state.items()}, metadata={"format": "pt"})

    def config(cls: str, section: dict[str, Any]) -> str:
        return json.dumps({"_class_name": cls, "_diffusers_version": DIFFUSERS_FORMAT, **section}, indent=2) + "\n"

    if isinstance(model, DiffusersVAE):
        section = OmegaConf.to_container(model.cfg, resolve=True)
        section.pop("name", None)
        state = {k.split(".", 1)[1] if k.startswith(("encoder.quant_conv.", "decoder.post_quant_conv.")) else k: v
                 for k, v in model.state_dict().items()}
        return {CONFIG: config("AutoencoderKL", section), WEIGHTS: tensors(state)}
    if not isinstance(model, DiffusersDiffusion) or model.first_stage is not None or model.num_classes:
        raise _fail("only a model imported from diffusers (model diffusers or diffusers_vae, unconditional, "
                    "in pixel space) writes the diffusers format")
    m = OmegaConf.to_container(model.cfg, resolve=True)
    unet = {k: v for k, v in m["denoiser"].items() if k not in ("name", "prediction")}
    sched = {"num_train_timesteps": m["timesteps"], "beta_schedule": m["schedule"]["beta_schedule"],
             "beta_start": m["schedule"]["beta_start"], "beta_end": m["schedule"]["beta_end"],
             "prediction_type": SCHEDULER_NAMES[m["denoiser"]["prediction"]],
             "clip_sample": m["clip_sample_range"] > 0, "clip_sample_range": m["clip_sample_range"] or 1.0,
             "timestep_spacing": m["timestep_spacing"], "steps_offset": m["steps_offset"],
             "variance_type": "fixed_small"}
    index = {"_class_name": "DDPMPipeline", "_diffusers_version": DIFFUSERS_FORMAT,
             "scheduler": ["diffusers", "DDPMScheduler"], "unet": ["diffusers", "UNet2DModel"]}
    return {MODEL_INDEX: json.dumps(index, indent=2) + "\n", f"unet/{CONFIG}": config("UNet2DModel", unet),
            f"unet/{WEIGHTS}": tensors(model.component(Denoiser).state_dict()),
            f"scheduler/{SCHEDULER_CONFIG}": config("DDPMScheduler", sched)}


def export_diffusers(model: Any, out: str | Path, *, force: bool = False) -> list[str]:
    """Write ``model`` in diffusers' layout to ``out`` (see :func:`diffusers_files`); returns
    the files written. An existing model in ``out`` is kept unless ``force``."""
    from genloom.atomic import write_atomic

    files = diffusers_files(model)
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise _fail(f"'{out_dir}' exists and is not a folder; name a folder for the export")
    if not force and any((out_dir / n).exists() for n in (MODEL_INDEX, CONFIG)):
        raise _fail(f"'{out_dir}' already holds a model; pass --force to replace it")
    try:
        for name, data in files.items():
            (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
            write_atomic(out_dir / name, data)
    except OSError as exc:
        raise _fail(f"cannot write to '{out_dir}': {exc.strerror or exc}") from None
    return sorted(files)


class DiffusersLayout:
    """The ``layout`` component ``diffusers``: ``genloom sample FOLDER`` and
    ``genloom.load_checkpoint(FOLDER)`` (so ``model.latent.checkpoint``) read a diffusers
    folder directly, as :func:`import_diffusers` does."""

    @staticmethod
    def recognizes(path: Path) -> bool:
        """A folder diffusers' ``save_pretrained`` wrote: its ``model_index.json`` (a pipeline)
        or ``config.json`` (a lone model) is a JSON object naming ``_diffusers_version``. Any
        other folder is left to the core's list of the layouts genloom knows."""
        for name in (MODEL_INDEX, CONFIG):
            try:
                if "_diffusers_version" in read_json_object(path / name, "", MAX_JSON_BYTES):
                    return True
            except (CheckpointError, OSError):
                pass
        return False

    @staticmethod
    def load(path: str | Path) -> Any:
        return import_diffusers(path)

    @staticmethod
    def write(model: Any, out: str | Path, *, force: bool = False) -> list[str]:
        """``genloom export CHECKPOINT OUT --format diffusers``: :func:`export_diffusers`."""
        return export_diffusers(model, out, force=force)
