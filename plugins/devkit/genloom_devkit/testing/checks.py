"""The conformance kit: one pytest test per check (after scikit-learn's
``parametrize_with_checks``), and :func:`check_model` for a quick check in any test.

A plugin's tests name its models as :class:`Case` objects; the decorator yields one
test per (case, check), so a failure says which contract broke for which model::

    @parametrize_with_checks([Case("vae", "image", ["model.hidden=32"])])
    def test_conformance(case, check):
        check(case)

The checks, in order: every target of the model's plugin imports; its entry module
imports without torch; the contract (losses, gradients, capabilities); sample
shapes; seeded determinism; a checkpoint and a safetensors export round trip; a
tiny overfit on one batch; and, for models claiming ``likelihood = "exact"``, that
the likelihood normalises (:func:`check_likelihood`). Each builds a fresh model, so
checks do not leak state into each other.

A check that cannot hold for a model by design is marked not applicable with the
reason, which pytest shows as the skip reason: per case
(``Case(..., not_applicable={"check_overfit": "why"})``) or for every case of the
decorator (``parametrize_with_checks(cases, not_applicable={...})``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from genloom.capabilities import ExactLikelihood, TokenLikelihood, provides
from genloom_devkit.claims import problems

if TYPE_CHECKING:  # pragma: no cover
    from torch import Tensor

    from genloom.data.info import DataInfo
    from genloom.model import GenerativeModel

#: one check: takes the case, raises AssertionError naming the broken contract
Check = Callable[["Case"], None]


@dataclass(frozen=True)
class Case:
    """A model to check: its registered name, the data it sees, and config overrides.

    ``info`` is a :class:`genloom.DataInfo` or a :func:`genloom_devkit.testing.tiny_info` kind
    (``"points"``, ``"image"``, ``"tokens"``). Keep ``overrides`` tiny (small hidden
    sizes, few sampling steps): every check builds the model once or twice.
    ``overfit_steps`` and ``lr`` set the tiny overfit; ``id`` names the case in test ids.
    """

    model: str | None
    info: Any = "points"
    overrides: Sequence[str] = ()
    overfit_steps: int = 30
    lr: float = 3e-3
    id: str | None = None
    n: int = 4
    #: the plugin of a case without a model (only the plugin checks run)
    plugin: str | None = None
    #: pytest marks for every check of this case (e.g. ``(pytest.mark.slow,)``)
    marks: Sequence[Any] = ()
    #: the values every element of ``x`` takes, for a model over a finite set on a
    #: continuous kind (binary images: ``(-1.0, 1.0)``): its exact likelihood is then
    #: checked by summing the probabilities of every input; token data needs none
    support: Sequence[float] | None = None
    #: ``{"check_name": "reason"}``: checks that cannot hold for this case by design;
    #: pytest shows each as skipped with its reason
    not_applicable: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "overrides", tuple(self.overrides))
        object.__setattr__(self, "marks", tuple(self.marks))
        if self.support is not None:
            object.__setattr__(self, "support", tuple(self.support))
        object.__setattr__(self, "not_applicable", _reasons(self.not_applicable))
        if self.model is None and self.plugin is None:
            raise ValueError("a Case names a model, or a plugin (Case.of_plugin)")

    @classmethod
    def of_plugin(cls, plugin: str) -> Case:
        """A case for a plugin that registers no model (datasets, samplers, kinds): only
        the plugin checks apply."""
        return cls(None, plugin=plugin, id=plugin)

    @property
    def data(self) -> Any:
        """The case's DataInfo (a tiny one when ``info`` names a kind)."""
        if isinstance(self.info, str):
            from genloom_devkit.testing.helpers import tiny_info

            return tiny_info(self.info)
        return self.info

    def config(self) -> Any:
        """The resolved run config of this case: ``model.name`` plus its overrides."""
        from genloom.config import load_config

        return load_config(None, [f"model.name={self.model}", *self.overrides], check_trainer=False)

    def build(self) -> Any:
        """A fresh model of this case, built through the registry as training builds it."""
        from genloom.build import build_model

        return build_model(self.config(), self.data)

    def __str__(self) -> str:
        return self.id or self.model or str(self.plugin)


#: a model that reports its exact log-likelihood per example (``log_prob(x, cond=None)``):
#: the core's :class:`genloom.capabilities.ExactLikelihood`, under the kit's old name
ExactLogProb = ExactLikelihood


# -- helpers -----------------------------------------------------------------------------


def synthetic_batch(info: DataInfo, n: int = 8, seed: int = 0) -> dict[str, Tensor]:
    """A random batch shaped like the data ``info`` describes (labels when it has classes)."""
    import torch

    from genloom.kinds import get_kind

    g = torch.Generator().manual_seed(seed)
    x = get_kind(info.kind).random(info, n, g)
    batch = {"x": x}
    if info.num_classes:
        batch["y"] = torch.randint(0, info.num_classes, (n,), generator=g)
    return batch


def _reasons(raw: Mapping[str, str] | None) -> dict[str, str]:
    """``raw`` checked: every key names a check, every reason says something."""
    reasons = dict(raw or {})
    known = [c.__name__ for c in CHECKS]
    for name, reason in reasons.items():
        if name not in known:
            from genloom.errors import did_you_mean

            raise ValueError(
                f"not_applicable names no check '{name}'{did_you_mean(name, known)}; "
                f"the checks are {', '.join(known)}"
            )
        if not isinstance(reason, str) or not reason.strip():
            raise ValueError(f"not_applicable['{name}'] needs a reason (a non-empty string)")
    return reasons


def _component(case: Case) -> Any:
    from genloom.plugins import get_registry

    return get_registry().resolve("model", case.model)


def _plugin(case: Case) -> str:
    """The plugin a case is about: named, or the one providing its model."""
    if case.plugin is not None:
        from genloom.plugins import get_plugin_host

        host = get_plugin_host()
        assert host.plugins.get(case.plugin) is not None, f"plugin '{case.plugin}' is not installed"
        status = host.plugins[case.plugin].status
        assert status == "ok", f"plugin '{case.plugin}' is {status}: {host.plugins[case.plugin].error}"
        return case.plugin
    return _component(case).plugin


def _draw(model: Any, case: Case, seed: int) -> Any:
    import torch

    info = case.data
    cond = torch.arange(case.n) % info.num_classes if model.conditional and info.num_classes else None
    with torch.no_grad():
        return model.sample(case.n, cond=cond, generator=torch.Generator().manual_seed(seed)).data


def _players(model: Any) -> list[Any]:
    groups = model.optimizer_groups()
    return list(groups) if groups else [None]


def _loss(model: Any, batch: dict[str, Any], player: str | None, seed: int = 0) -> Any:
    """The loss with the global RNG seeded, so stochastic objectives compare fairly."""
    import torch

    torch.manual_seed(seed)
    return model.losses(batch) if player is None else model.losses(batch, player=player)


# -- the checks ---------------------------------------------------------------------------


def check_targets_import(case: Case) -> None:
    """Every component the model's plugin registers imports (no misspelled path)."""
    from genloom.plugins import get_registry

    plugin = _plugin(case)
    failures = []
    for component in get_registry().by_plugin(plugin):
        try:
            component.load()
        except Exception as exc:
            failures.append(str(exc))
    assert not failures, "; ".join(failures)


def check_entry_module_light(case: Case) -> None:
    """The plugin's entry module imports without torch or lightning (fresh interpreter)."""
    from genloom_devkit.plugin_check import _import_problems
    from genloom.plugins import get_plugin_host

    host = get_plugin_host()
    info = host.plugins[_plugin(case)]
    problems = [p for p in _import_problems(info, budget=math.inf)]
    assert not problems, "; ".join(problems)


def check_contract(case: Case) -> None:
    """A GenerativeModel with valid capabilities (each it claims or has part of has all its
    members: :func:`genloom_devkit.claims.problems`); every player's loss is a finite scalar
    whose gradient reaches parameters; the default sampler resolves."""
    _assert_contract(case.build(), case)


def _assert_contract(model: Any, case: Case) -> None:
    import torch

    from genloom.model import GenerativeModel
    from genloom.plugins import get_registry

    assert isinstance(model, GenerativeModel), f"{case.model} is not a genloom.GenerativeModel"
    assert model.likelihood in ("exact", "bound", "none"), f"bad likelihood {model.likelihood!r}"
    claims = problems(model)  # a capability claimed, or half had, without its members
    assert not claims, "; ".join(claims)
    if model.default_sampler:
        get_registry().resolve("sampler", model.default_sampler, prefer=_component(case).plugin)
    batch = synthetic_batch(case.data)
    for group in _players(model):
        player = getattr(group, "name", None)
        parts = _loss(model, batch, player)
        who = f"losses(batch{'' if player is None else f', player={player!r}'})"
        assert "loss" in parts, f"{who} must return a dict with a 'loss' key"
        loss = parts["loss"]
        assert loss.ndim == 0 and torch.isfinite(loss), f"{who}['loss'] must be a finite scalar"
        model.zero_grad(set_to_none=True)
        loss.backward()
        params = group.parameters() if group is not None else list(model.parameters())
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in params), (
            f"{who} reaches none of its parameters"
        )
        model.zero_grad(set_to_none=True)


def check_sample_shapes(case: Case) -> None:
    """The default sampler returns ``n`` samples shaped like the data (continuous kinds)."""
    model = case.build().eval()
    if not model.default_sampler:
        assert model.default_sampler is None, "default_sampler must be a name or None"
        return
    _assert_sample_shapes(_draw(model, case, seed=0), case)


def _assert_sample_shapes(x: Any, case: Case) -> None:
    from genloom.kinds import get_kind

    assert x.shape[0] == case.n, f"the default sampler returned {x.shape[0]} samples, not {case.n}"
    if get_kind(case.data.kind).continuous:
        assert tuple(x.shape[1:]) == tuple(case.data.shape), (
            f"samples have shape {tuple(x.shape[1:])}, the data {tuple(case.data.shape)}"
        )


def check_seeded_determinism(case: Case) -> None:
    """Equal seeds give equal samples, different seeds different ones; with no sampler,
    two builds under one seed hold equal weights."""
    import torch

    torch.manual_seed(0)
    model = case.build().eval()
    if not model.default_sampler:
        torch.manual_seed(0)
        other = case.build()
        for (k, a), b in zip(model.state_dict().items(), other.state_dict().values()):
            assert torch.equal(a, b), f"two builds under one seed differ in {k}"
        return
    _assert_seeded(model, case)


def _assert_seeded(model: Any, case: Case) -> None:
    import torch

    a, b, c = (_draw(model, case, seed) for seed in (0, 0, 1))
    assert torch.equal(a, b), "equal seeds gave different samples: use only the generator passed in"
    assert not torch.equal(a, c), "different seeds gave equal samples"


def check_checkpoint_round_trip(case: Case) -> None:
    """A checkpoint (``weights_only`` load) and its safetensors export rebuild a model that
    holds the same weights and samples the same."""
    import tempfile
    from pathlib import Path

    import torch

    from genloom.checkpoints import PREFIX, export, genloom_metadata, load_checkpoint

    torch.manual_seed(1)
    model = case.build().eval()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "last.ckpt"
        state = {PREFIX + k: v for k, v in model.state_dict().items()}
        torch.save({"state_dict": state, "genloom": genloom_metadata(model)}, ckpt)
        out = export(ckpt, Path(tmp) / "export")
        assert sorted(p.name for p in out.iterdir()) == ["genloom.json", "model.safetensors"]
        weights = model.state_dict()
        expected = _draw(model, case, 3) if model.default_sampler else None
        for source in (ckpt, out):
            loaded = load_checkpoint(source)
            got = loaded.state_dict()
            for k, v in weights.items():
                assert torch.equal(v, got[k]), f"{source.name}: weight {k} differs"
            if expected is not None:
                assert torch.equal(expected, _draw(loaded, case, 3)), (
                    f"the model loaded from {source.name} samples differently"
                )


def check_overfit(case: Case) -> None:
    """A few dozen Adam steps on one batch lower each player's loss, each player stepping
    only its own parameters: what the model learns sticks (no re-initialisation, no
    detached path, the right parameter groups). The global RNG is reseeded before every
    loss, so a stochastic objective (noise levels, latents) becomes one fixed function
    of the weights and overfitting it must succeed."""
    import torch

    batch = synthetic_batch(case.data, n=8)
    torch.manual_seed(0)
    template = case.build().train()
    for group in _players(template):
        model = case.build().train()
        model.load_state_dict(template.state_dict())
        player = getattr(group, "name", None)
        own = [g for g in _players(model) if getattr(g, "name", None) == player][0]
        params = own.parameters() if own is not None else [p for p in model.parameters() if p.requires_grad]
        before = _loss(model, batch, player)["loss"].item()
        opt = torch.optim.Adam(params, lr=case.lr)
        for _ in range(case.overfit_steps):
            opt.zero_grad(set_to_none=True)
            _loss(model, batch, player)["loss"].backward()  # the same noise every step
            opt.step()
        after = _loss(model, batch, player)["loss"].item()
        who = "the loss" if player is None else f"player {player!r}'s loss"
        assert after < before, (
            f"{case.overfit_steps} steps on one batch did not lower {who}: {before:.4g} -> {after:.4g}"
        )


def check_likelihood(case: Case) -> None:
    """``likelihood = "exact"`` is checked for every model that claims it, the way its
    data allows:

    * discrete data (a kind that is not continuous, such as tokens, or a Case with a
      ``support``, such as binary images): the probabilities of *every* input of a
      tiny space sum to 1. A language model (``token_nats``) is rebuilt over 3 tokens
      and length 4, its continuations of a first token summed; any other model gives
      ``log_prob(x)`` (:class:`ExactLogProb`) for each of the ``len(support) ** size``
      inputs (at most 65,536);
    * an :class:`~genloom.InvertibleGenerator` (a flow): on unconditional 2-D points
      its density integrates to 1 over a grid; otherwise the ``logdet`` it reports
      equals ``log|det dz/dx|`` of its own Jacobian (autograd): change of variables;
    * ``log_prob(x)`` on continuous data: on unconditional 2-D points, integrated over
      a grid; in any other shape, a Monte-Carlo estimate of its integral (importance
      sampling from a Gaussian twice as wide as the model's own samples) is 1 within
      0.05, and its standard error is small enough to tell.

    A model none of these fits fails, naming what to provide; one that fits but cannot
    be checked this way (too many dimensions for Monte-Carlo, say) is marked not
    applicable with the reason.
    """
    import torch

    from genloom.interfaces import InvertibleGenerator
    from genloom.kinds import get_kind

    model_cls = _component(case).load()
    assert getattr(model_cls, "likelihood", None) == "exact", "only exact likelihoods are checked"
    torch.manual_seed(0)
    model = case.build().eval()  # eval: no data-dependent initialisation on first use
    info = case.data
    cond = None
    if model.conditional and info.num_classes:
        cond = torch.full((2,), info.num_classes - 1, dtype=torch.long)
    if case.support is not None or not get_kind(info.kind).continuous:
        _check_probabilities_sum_to_one(case, model, model_cls)
        return
    flows = [m for m in model.modules() if isinstance(m, InvertibleGenerator)]
    if flows:
        flow = flows[0]
        if info.kind == "points" and tuple(info.shape) == (2,) and cond is None:
            _check_density_normalises(flow)
        else:
            _check_logdet_is_the_jacobian(flow, info, cond)
        return
    if isinstance(model, ExactLogProb):
        if info.kind == "points" and tuple(info.shape) == (2,) and cond is None:
            _check_density_normalises(model)
        else:
            _check_monte_carlo_normalises(model, case)
        return
    raise AssertionError(
        f"{case.model} claims likelihood='exact' but has no InvertibleGenerator, no "
        "log_prob(x) (genloom_devkit.testing.ExactLogProb) and no token_nats; declare "
        "'bound' or 'none', or give it one of them"
    )


#: the most inputs the discrete check enumerates
MAX_ENUMERATED = 2**16


def _log_prob(model: Any, x: Any, cond: Any) -> Any:
    """``model.log_prob`` of a batch, passing labels only to a conditional model."""
    return model.log_prob(x) if cond is None else model.log_prob(x, cond)


def _check_probabilities_sum_to_one(case: Case, model: Any, model_cls: Any) -> None:
    import torch

    from genloom.build import build_model
    from genloom_devkit.testing.helpers import tiny_info

    info = case.data
    if provides(model_cls, TokenLikelihood) and case.support is None:  # a language model
        vocab, length = 3, 4
        classes = info.num_classes
        tiny = tiny_info("tokens", shape=(length,), vocab_size=vocab, num_classes=classes)
        lm = build_model(case.config(), tiny).eval()
        tails = torch.tensor(list(itertools.product(range(vocab), repeat=length - 1)))
        x = torch.cat([torch.zeros(len(tails), 1, dtype=torch.long), tails], dim=1)
        cond = torch.full((len(x),), classes - 1) if classes else None
        with torch.no_grad():
            total = lm.token_nats(x, cond).sum(dim=1).neg().exp().sum().item()
        assert abs(total - 1.0) < 1e-4, (
            f"an 'exact' language model's {len(x)} continuations have total probability {total:.6f}, not 1"
        )
        return
    assert isinstance(model, ExactLogProb), (
        f"{case.model} claims likelihood='exact' on discrete data but has no log_prob(x) "
        "(genloom_devkit.testing.ExactLogProb) to sum over every input"
    )
    if case.support is not None:
        values, dtype = case.support, torch.float32
    else:
        assert info.vocab_size, f"data of kind '{info.kind}' has no vocab_size: give the Case a support"
        values, dtype = tuple(range(info.vocab_size)), torch.long
    size = math.prod(info.shape)
    count = len(values) ** size
    assert count <= MAX_ENUMERATED, (
        f"{len(values)} values in each of {size} places make {count} inputs, more than the "
        f"{MAX_ENUMERATED} this check sums over: use a Case with smaller data"
    )
    every = torch.tensor(list(itertools.product(values, repeat=size)), dtype=dtype).view(count, *info.shape)
    classes = info.num_classes if model.conditional else 0
    with torch.no_grad():
        logs = [
            _log_prob(model, x, torch.full((len(x),), classes - 1) if classes else None).double()
            for x in every.split(4096)
        ]
    total = torch.cat(logs).logsumexp(0).exp().item()
    assert abs(total - 1.0) < 1e-4, (
        f"an 'exact' likelihood gives the {count} possible inputs total probability {total:.6f}, not 1"
    )


def _check_density_normalises(density: Any) -> None:
    """``density`` (a flow, or a model with ``log_prob(x)`` and a default sampler)
    integrates to 1 over a box around where its samples fall."""
    import torch

    from genloom.interfaces import InvertibleGenerator

    k = 601
    with torch.no_grad():  # the box: 1.5x the reach of 4096 of its own samples
        g = torch.Generator().manual_seed(0)
        if isinstance(density, InvertibleGenerator):
            reach = density(torch.randn(4096, 2, generator=g))
        else:
            reach = density.sample(4096, generator=g).data
        lim = 1.5 * reach.abs().max().item()
        axis = torch.linspace(-lim, lim, k)
        total = density.log_prob(torch.cartesian_prod(axis, axis)).exp().sum().item()
    total *= (2 * lim / (k - 1)) ** 2
    assert abs(total - 1.0) < 0.02, (
        f"an 'exact' density integrates to {total:.4f} over [-{lim:.3g}, {lim:.3g}]^2, not 1"
    )


def _check_monte_carlo_normalises(model: Any, case: Case, draws: int = 2**16) -> None:
    """``log_prob`` integrates to 1: the mean of ``p(x) / q(x)`` over ``x ~ q`` estimates
    the integral of ``p``, with ``q`` a diagonal Gaussian around the model's own samples
    (or the data kind's random batch without a sampler) at twice their spread, so that
    ``q`` covers where ``p`` lies and the ratio stays bounded."""
    import torch

    from genloom.kinds import get_kind

    info = case.data
    g = torch.Generator().manual_seed(0)
    classes = info.num_classes if model.conditional else 0
    with torch.no_grad():
        if model.default_sampler:
            cond = torch.full((4096,), classes - 1) if classes else None
            seen = model.sample(4096, cond=cond, generator=g).data.double()
        else:
            seen = get_kind(info.kind).random(info, 4096, g).double()
        mean, std = seen.mean(0), 2 * seen.std(0).clamp_min(1e-3)
        q = torch.distributions.Normal(mean, std)
        weights = []
        for _ in range(draws // 4096):
            x = mean + std * torch.randn(4096, *mean.shape, generator=g, dtype=torch.float64)
            cond = torch.full((4096,), classes - 1) if classes else None
            log_p = _log_prob(model, x.float(), cond).double()
            weights.append((log_p - q.log_prob(x).flatten(1).sum(1)).exp())
    w = torch.cat(weights)
    total, error = w.mean().item(), (w.std() / math.sqrt(len(w))).item()
    assert error < 0.0125, (
        f"the Monte-Carlo estimate of the density's integral ({total:.3f}) is too noisy to "
        f"tell (standard error {error:.3f}): use a Case with fewer dimensions, or mark "
        "check_likelihood not applicable with the reason"
    )
    assert abs(total - 1.0) < 0.05, (
        f"an 'exact' density integrates to {total:.3f} +- {error:.3f} (Monte-Carlo, "
        f"{len(w)} draws over {math.prod(info.shape)} dimensions), not 1"
    )


def _check_logdet_is_the_jacobian(flow: Any, info: Any, cond: Any) -> None:
    import torch

    g = torch.Generator().manual_seed(0)
    z = torch.randn(2, *flow.latent_shape, generator=g)
    with torch.no_grad():
        x = flow(z, cond)
    for i in range(2):
        c = None if cond is None else cond[i : i + 1]

        def to_z(v: Any, c: Any = c) -> Any:
            return flow.inverse(v.view(1, *x.shape[1:]), c)[0].flatten()

        jac = torch.autograd.functional.jacobian(to_z, x[i].flatten())
        _, logabsdet = torch.linalg.slogdet(jac.double())
        reported = flow.inverse(x[i : i + 1], c)[1].item()
        assert abs(reported - logabsdet.item()) < 1e-2 * max(1.0, abs(logabsdet.item())), (
            f"an 'exact' flow reports log|det dz/dx| = {reported:.4f}, its Jacobian has "
            f"{logabsdet.item():.4f}"
        )


#: every check, in the order tests run them
CHECKS: tuple[Check, ...] = (
    check_targets_import,
    check_entry_module_light,
    check_contract,
    check_sample_shapes,
    check_seeded_determinism,
    check_checkpoint_round_trip,
    check_overfit,
    check_likelihood,
)


#: checks of the plugin as a whole, run for its first case only
PLUGIN_CHECKS = (check_targets_import, check_entry_module_light)


def checks_for(case: Case) -> list[Check]:
    """The checks that apply to ``case`` (imports the model's class): all, but the
    likelihood check only for models that claim an exact likelihood, and the entry-module
    check only for installed plugins (not ``genloom.register``'s local components)."""
    from genloom.plugins import LOCAL_PLUGIN

    if case.model is None:
        return list(PLUGIN_CHECKS)
    component = _component(case)
    model_cls = component.load()
    skip = set()
    if model_cls.likelihood != "exact":
        skip.add(check_likelihood)
    if component.plugin == LOCAL_PLUGIN:  # registered in-process: there is no entry module
        skip.add(check_entry_module_light)
    return [c for c in CHECKS if c not in skip]


def parametrize_with_checks(
    cases: Iterable[Case | str], *, not_applicable: Mapping[str, str] | None = None
) -> Any:
    """A ``pytest.mark.parametrize("case, check", ...)`` over every applicable check of
    every case, with ids like ``vae-check_overfit``.

    A string is ``Case(name)`` on tiny 2-D points. The checks about the plugin rather
    than the model (``PLUGIN_CHECKS``) run once per plugin. Resolves the models when the test
    module is collected, so their plugins must be installed.

    ``not_applicable`` (``{"check_name": "reason"}``) marks checks that cannot hold for
    any of these cases by design, and a Case's own ``not_applicable`` those of that case
    (it wins where both name a check): each such test is collected and shown as
    skipped with ``not applicable: <reason>``, so the report says what was left out and
    why. A name that is no check is a ``ValueError``.
    """
    import pytest

    shared = _reasons(not_applicable)
    params, plugins_seen = [], set()
    for raw in cases:
        case = Case(raw) if isinstance(raw, str) else raw
        plugin = _plugin(case)
        reasons = {**shared, **case.not_applicable}
        for check in checks_for(case):
            if check in PLUGIN_CHECKS and plugin in plugins_seen:
                continue  # about the plugin, not the case: once is enough
            marks = list(case.marks)
            if check.__name__ in reasons:
                marks.append(pytest.mark.skip(reason=f"not applicable: {reasons[check.__name__]}"))
            params.append(pytest.param(case, check, id=f"{case}-{check.__name__}", marks=marks))
        plugins_seen.add(plugin)
    return pytest.mark.parametrize("case, check", params)


def check_model(
    name: str, info: DataInfo, overrides: Sequence[str] = (), *, n: int = 4
) -> GenerativeModel:
    """Build model ``name`` for ``info`` and check its contracts; return the model.

    The quick form of the suite for any test (no parametrisation): it is a
    GenerativeModel built through the registry; every player's ``losses`` returns a
    finite scalar ``loss`` whose gradient reaches its parameters; the default sampler
    returns ``n`` samples of the data's shape, identical for equal seeds and different
    for different ones; and a copy rebuilt from the same config and ``state_dict``
    samples the same. Raises AssertionError naming the broken contract.
    """
    import torch

    case = Case(name, info, overrides, n=n)
    model = case.build()
    _assert_contract(model, case)
    if model.default_sampler:
        _assert_sample_shapes(_draw(model, case, seed=0), case)
        _assert_seeded(model, case)
        clone = case.build()
        clone.load_state_dict(model.state_dict())
        a, b = (_draw(m, case, seed=1) for m in (model, clone))
        assert torch.equal(a, b), "a model rebuilt from config + state_dict samples differently"
    return model
