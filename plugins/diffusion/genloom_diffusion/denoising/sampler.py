"""The base of every diffusion sampler, in-house or third-party: checking the model,
the starting noise, the guided denoiser call, the loop over timesteps, and the end
(clean data, decoded when the model is latent).

A sampler subclasses :class:`DiffusionSampler` and writes only its update rule, a
:meth:`~DiffusionSampler.step` (as a diffusers scheduler writes ``step`` and the
pipeline owns the loop). It is stateless: each ``sample`` call keeps its state in a
:class:`Run` (a multistep solver's history in ``run.state``), and every random number
comes from the ``generator`` passed in (drawn on the CPU, so a seed gives the same
samples on any device). It drives any model that keeps the :class:`DenoisingModel`
contract, whichever plugin the model and its :class:`~genloom.Denoiser` come from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import Tensor

from genloom import ConfigError, Denoiser, Sampler, Samples, progress
from genloom.interfaces import IncompatibleSamplerError
from genloom.samplers.prior import sample_kind_of

from genloom_diffusion.denoising.options import Option, checked, signed_sample
from genloom_diffusion.denoising.schedule import NoiseSchedule


#: the samplers this plugin ships for each objective (for the error that names them)
OBJECTIVE_SAMPLERS = {
    "diffusion": ("ddim", "ddpm", "dpmpp_2m", "euler"),
    "flow": ("flow_euler", "flow_heun"),
}


@runtime_checkable
class DenoisingModel(Protocol):
    """What a diffusion sampler reads from the model it samples.

    * ``noise_schedule``: the :class:`~genloom_diffusion.NoiseSchedule` the denoiser was trained
      against (coefficients and conversions between ``eps``, ``x0`` and ``v``);
    * ``component(Denoiser)``: the denoiser to drive (an EMA copy, say);
    * ``sample_shape``: the shape of one ``x_t`` (the data's, or the latent's);
    * ``null_label``: the "no label" class for classifier-free guidance, or None;
    * ``x0_range``: the default clipping range of predicted clean data, or None;
    * ``to_data(x, cond)``: the final ``x_0`` as data (decoded for latent diffusion);
    * ``conditional`` and ``info`` as every genloom model has them;
    * optionally ``objective`` (:class:`TrainedObjective`): ``"flow"`` for a
      flow-matching model; a model without it is a diffusion model.
    """

    noise_schedule: NoiseSchedule
    sample_shape: tuple[int, ...]
    conditional: bool

    @property
    def null_label(self) -> int | None:
        """The label that means "no label" (classifier-free guidance), or None when the
        model was not trained with one."""

    @property
    def x0_range(self) -> float | None:
        """Clip predicted clean samples to [-x0_range, x0_range] (data in [-1, 1]: 1.0),
        or None to leave them unclipped (latent spaces)."""

    def component(self, interface: type) -> Any:
        """The model's part that implements ``interface`` (here its ``Denoiser``)."""

    def to_data(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        """Map a finished sample of the diffusion space to data (identity, or a first
        stage's decoder for latent diffusion)."""


@runtime_checkable
class TrainedObjective(Protocol):
    """A model that says which objective trained it: ``"diffusion"`` (a noise schedule's
    forward process) or ``"flow"`` (flow matching). Samplers solve one objective's ODE
    and refuse the other's models."""

    objective: str


@dataclass
class Run:
    """One sampling call: the parts, the labels, the guided prediction, and what the
    sampler's :meth:`~DiffusionSampler.step` reads between steps.

    ``generator`` is the call's random source (for :meth:`noise`), ``options`` the
    sampler's own options (DDIM's ``eta``, say) and ``state`` a dict a multistep
    solver keeps its history in; all three belong to this call alone.
    """

    model: Any
    denoiser: Denoiser
    schedule: NoiseSchedule
    cond: Tensor | None  # labels for the denoiser (on its device), or None
    uncond: Tensor | None  # "no label" labels when guidance needs them, or None
    guidance: float
    clip: float | None  # clip predicted x0 to [-clip, clip]; None: no clipping
    device: torch.device
    dtype: torch.dtype
    generator: torch.Generator | None = None
    options: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """What the denoiser predicts: ``"eps"``, ``"x0"`` or ``"v"``."""
        return self.denoiser.prediction

    def predict(self, x: Tensor, t: float) -> Tensor:
        """The denoiser's output at ``(x, t)``, with classifier-free guidance when asked.

        An integer ``t`` reaches the denoiser as a long tensor; a fractional one
        (continuous time: Karras spacing, flow matching) as a float tensor, which the
        sinusoidal time embeddings of this library's denoisers take as it is.

        Guidance combines the conditional and unconditional outputs as
        ``u + w (c - u)`` in one batched call. The conversions between prediction
        kinds are affine in the output, so guiding ``eps``, ``x0`` or ``v`` is the same.
        """
        dtype = torch.long if float(t).is_integer() else torch.float32
        if self.uncond is None:
            return self.denoiser(x, torch.full((len(x),), t, dtype=dtype, device=x.device), self.cond)
        both = self.denoiser(
            torch.cat([x, x]),
            torch.full((2 * len(x),), t, dtype=dtype, device=x.device),
            torch.cat([self.cond, self.uncond]),
        )
        c, u = both.chunk(2)
        return torch.lerp(u, c, self.guidance)

    def x0_and_eps(self, out: Tensor, x: Tensor, t: float) -> tuple[Tensor, Tensor]:
        """Clean-data and noise estimates from a denoiser output (see :func:`estimates`)."""
        return estimates(self.schedule, out, x, t, self.kind, self.clip)

    def noise(self, generator: torch.Generator | None, like: Tensor) -> Tensor:
        """Standard normal noise shaped like ``like``, from ``generator``, on the CPU first."""
        return torch.randn(like.shape, generator=generator, dtype=like.dtype).to(like.device)


class DiffusionSampler(Sampler):
    """Base of the diffusion samplers: drives the Denoiser of a :class:`DenoisingModel`.

    The loop is written once, in :meth:`sample_loop` (a template method): check the
    model and options, lay out the :meth:`grid` of times, draw the start
    (:meth:`initial_x`), call :meth:`step` for each pair of neighbouring times under a
    progress bar and ``torch.inference_mode``, and :meth:`finish` (decode, to the
    CPU). A subclass writes :meth:`step`, the update from ``x`` at ``t`` to ``t_next``
    (``-1``: the clean data), sets ``default_steps``, and declares its own options::

        class MySampler(DiffusionSampler):
            default_steps = 50
            options = {"eta": Option(0.0, "fresh noise, 0 .. 1", between(0, 1))}

            def step(self, run, x, t, t_next):
                x0, eps = run.x0_and_eps(run.predict(x, t), x, t)
                return ...  # the update rule; run.options["eta"] is the checked option

    The class's ``sample`` is made from that table (:mod:`~genloom_diffusion.denoising.options`):
    its keyword-only parameters are ``steps``, the sampler's ``options`` and the
    ``common_options`` it takes (``guidance``, ``clip``), which is what genloom checks
    ``--sampler`` options against. A sampler may still write its own ``sample`` (to
    read an option that is not a plain value, say) and call :meth:`sample_loop`.
    A different grid (flow matching's times) overrides :meth:`grid`; a different
    state (sigma space) overrides :meth:`initial_x`.
    """

    drives = Denoiser
    requires = (DenoisingModel,)
    #: shown on the progress bar
    label = "sampling"
    #: the training objective whose ODE this sampler solves: ``"diffusion"`` (a
    #: :class:`NoiseSchedule`'s forward process) or ``"flow"`` (rectified flow); a model
    #: declares its own as ``objective`` (none: diffusion)
    objective = "diffusion"
    #: timesteps visited when the user gives no ``steps`` (capped at the model's
    #: timesteps); None visits every timestep
    default_steps: int | None = 50
    #: the sampler's own options, name -> :class:`~genloom_diffusion.Option`; they reach
    #: :meth:`step` checked, as ``run.options``
    options: ClassVar[dict[str, Option]] = {}
    #: which of the options every diffusion sampler may take this one takes (a sampler
    #: without ``clip`` never clips)
    common_options: ClassVar[tuple[str, ...]] = ("steps", "guidance", "clip")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Give the subclass a ``sample`` whose signature lists its options, unless it
        (or a class between it and this one) wrote its own."""
        super().__init_subclass__(**kwargs)
        if "sample" not in cls.__dict__ and getattr(cls.sample, "signed", False):
            cls.sample = signed_sample(cls, DiffusionSampler._sample)  # type: ignore[method-assign]

    def _sample(self, model: Any, n: int, *, cond: Tensor | None = None,
                generator: torch.Generator | None = None, **options: Any) -> Samples:
        values = checked(type(self), options)
        steps, guidance = values.pop("steps", None), values.pop("guidance", 1.0)
        clip = values.pop("clip", False)
        return self.sample_loop(model, n, cond=cond, generator=generator, steps=steps,
                                guidance=guidance, clip=clip, **values)

    sample = _sample  # given its signature below the class, as every subclass is

    def sample_loop(
        self,
        model: Any,
        n: int,
        *,
        cond: Tensor | None,
        generator: torch.Generator | None,
        steps: int | None,
        guidance: float,
        clip: bool | None,
        **options: Any,
    ) -> Samples:
        """The loop every diffusion sampler shares: check the model and options, lay
        out the :meth:`grid`, draw the start (:meth:`initial_x`), call :meth:`step` for
        each ``(t, t_next)`` pair under the progress bar, and :meth:`finish`, all under
        ``torch.inference_mode``. ``options`` (already checked by the caller) reach
        :meth:`step` as ``run.options``."""
        run = self.start(model, n, cond, guidance, clip)
        run.generator, run.options = generator, options
        grid = self.grid(run, steps)
        with torch.inference_mode():  # no autograd records, no version counters
            x = self.initial_x(run, model, n, generator, grid[0])
            for t, t_next in self.steps_bar(list(zip(grid, grid[1:]))):
                x = self.step(run, x, t, t_next)
            samples = self.finish(run, x, cond)
        return dataclasses.replace(samples, data=samples.data.clone())  # a normal tensor again

    def grid(self, run: Run, steps: int | None) -> list[Any]:
        """The times the loop visits, noisiest first, then where the last step lands
        (``-1``: the clean data). Evenly spaced integer timesteps (:meth:`timesteps`),
        or with a true ``karras`` option the continuous timesteps of Karras sigmas
        (:meth:`NoiseSchedule.karras_timesteps`, so ``t`` may be a float)."""
        total = run.schedule.timesteps
        default = total if self.default_steps is None else min(self.default_steps, total)
        ts: list[Any] = self.timesteps(run.schedule, steps, default=default)
        if run.options.get("karras"):  # the same number of steps, at Karras' noise levels
            ts = run.schedule.karras_timesteps(len(ts))
        return [*ts, -1]

    def step(self, run: Run, x: Tensor, t: float, t_next: float) -> Tensor:
        """The update rule: ``x`` at timestep ``t`` to timestep ``t_next`` (``-1``: the
        clean data; floats under Karras spacing). Fresh noise comes from ``run.noise(run.generator, x)``; history
        between steps goes in ``run.state``."""
        raise NotImplementedError(f"{type(self).__name__} must implement step(run, x, t, t_next)")

    def initial_x(self, run: Run, model: Any, n: int, generator: torch.Generator | None,
                  t: float) -> Tensor:
        """The sampler's state at the first timestep ``t``: :meth:`initial_noise`. A
        sampler that integrates in other units (sigma space) overrides it."""
        return self.initial_noise(run, model, n, generator)

    def start(
        self, model: Any, n: int, cond: Tensor | None, guidance: float, clip: bool | None,
    ) -> Run:
        """Check the model and options; return the run state (labels on the right device)."""
        denoiser = self.check(model)
        objective = model.objective if isinstance(model, TrainedObjective) else "diffusion"
        if objective != self.objective:
            raise IncompatibleSamplerError(
                f"sampler {type(self).__name__} solves a {self.objective} model's ODE, but this "
                f"model was trained with model.objective={objective}; pick one of its samplers: "
                f"{', '.join(OBJECTIVE_SAMPLERS.get(objective, ('see genloom list samplers',)))}"
            )
        schedule: NoiseSchedule = model.noise_schedule
        param = next(denoiser.parameters(), None)
        device = param.device if param is not None else torch.device("cpu")
        dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
        null = model.null_label
        labels = uncond = None
        if model.conditional:
            if cond is not None:
                labels = cond.to(device).long()
                if guidance != 1.0:
                    if null is None:
                        raise ConfigError(
                            "guidance needs a model trained with condition dropout "
                            "(model.cond_dropout > 0); sample with guidance=1"
                        )
                    uncond = torch.full_like(labels, null)
            elif null is not None:
                labels = torch.full((n,), null, dtype=torch.long, device=device)
                if guidance != 1.0:
                    raise ConfigError("guidance needs class labels to guide towards: pass --cond")
            else:
                raise ConfigError("this model is conditional and was trained without condition "
                                  "dropout: pass class labels with --cond")
        elif guidance != 1.0:
            raise ConfigError("guidance needs a conditional model (model.conditional=true)")
        if clip is None:
            clip_range = model.x0_range
        else:
            clip_range = 1.0 if clip else None
        return Run(model, denoiser, schedule, labels, uncond, float(guidance), clip_range,
                   device, dtype)

    def timesteps(self, schedule: NoiseSchedule, steps: int | None, default: int) -> list[int]:
        """The timesteps to visit, from a user's ``steps`` option (None: ``default``)."""
        steps = default if steps is None else steps
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= schedule.timesteps:
            raise ConfigError(
                f"steps must be a whole number from 1 to {schedule.timesteps} (the model's "
                f"timesteps), got {steps!r}"
            )
        return schedule.spaced(steps)

    def initial_noise(self, run: Run, model: Any, n: int, generator: torch.Generator | None) -> Tensor:
        """``x_T ~ N(0, I)``, drawn on the CPU from ``generator``."""
        shape = (n, *model.sample_shape)
        return torch.randn(shape, generator=generator, dtype=run.dtype).to(run.device)

    def steps_bar(self, pairs: list[tuple[int, int]]) -> Iterable[tuple[int, int]]:
        """``(t, t_next)`` pairs wrapped in genloom's progress bar."""
        return progress(pairs, total=len(pairs), desc=self.label)

    def finish(self, run: Run, x: Tensor, cond: Tensor | None) -> Samples:
        """Samples from the final ``x_0``: decoded to data, on the CPU."""
        model = run.model
        data_cond = None if cond is None else cond.to(run.device)
        data = model.to_data(x, data_cond)
        kind = sample_kind_of(model)
        return Samples(data=data.float().cpu(), kind=kind, cond=None if cond is None else cond.cpu())


DiffusionSampler.sample = signed_sample(DiffusionSampler, DiffusionSampler._sample)  # type: ignore[method-assign]


def estimates(
    schedule: NoiseSchedule, out: Tensor, x: Tensor, t: float, kind: str, clip: float | None = None,
) -> tuple[Tensor, Tensor]:
    """``(x0, eps)`` from a denoiser output of ``kind`` at ``(x, t)``.

    With ``clip``, x0 is clipped to ``[-clip, clip]`` and eps re-derived from the
    clipped x0, so the pair stays consistent with ``x`` (as GLIDE and diffusers'
    ``use_clipped_model_output`` do).
    """
    x0, eps = schedule.x0_and_eps(out, x, t, kind)
    if clip is not None:
        x0 = x0.clamp(-clip, clip)
        eps = schedule.eps_from_x0(x0, x, t)
    return x0, eps


def pairs(timesteps: list[int]) -> list[tuple[int, int]]:
    """``[(t_0, t_1), (t_1, t_2), ..., (t_last, -1)]``: each step and where it goes."""
    return list(zip(timesteps, timesteps[1:] + [-1]))
