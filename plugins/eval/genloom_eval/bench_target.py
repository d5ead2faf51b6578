"""``genloom bench --until``: time to quality, not steps per second.

What a user of a generative model waits for is good samples. With a target such as
``fid<=3x`` (FID at most three times its real-data floor) or ``val/bpc<=2.08``, every
bench run is checked while it trains, at intervals of training time, and the report
says the training seconds and steps at which each family first reached the target, or
the best value it reached within the budget.

Two kinds of metric:

- ``val/NAME`` (or ``train/NAME``): what the run logs itself (``val/bpc`` of a text
  model); read after each validation, free of extra cost.
- any other name is a registered metric (``fid``, ``prdc``'s ``precision`` ...), run as
  ``genloom evaluate`` would on the model as it stands, every ``every`` seconds of
  training. The clock stops while it runs and the random state of training is put back
  afterwards, so a checked run trains exactly as an unchecked one would.

A relative value (``3x``) multiplies the metric's real-data floor (``test/fid_floor``);
only sample-based metrics have one.
"""

from __future__ import annotations

import operator
import random
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from genloom.errors import ConfigError

_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}
_TARGET = re.compile(r"\s*([A-Za-z_][\w/.]*)\s*(<=|>=|<|>)\s*([0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*(x?)\s*")

#: metrics whose value is one key of a metric with another name (``prdc`` gives four)
METRIC_OF = {"precision": "prdc", "recall": "prdc", "density": "prdc", "coverage": "prdc"}


@dataclass(frozen=True)
class Target:
    """``metric op value``, the value a multiple of the floor when ``relative``."""

    metric: str
    op: str
    value: float
    relative: bool = False

    @property
    def logged(self) -> bool:
        """Whether the run logs the metric itself (``val/...``, ``train/...``)."""
        return self.metric.startswith(("val/", "train/"))

    @property
    def key(self) -> str:
        """The key of the value in the run's logs or in ``genloom evaluate``'s results."""
        return self.metric if self.logged else f"test/{self.metric}"

    @property
    def evaluated_metric(self) -> str:
        """The registered metric that computes :attr:`key`."""
        return METRIC_OF.get(self.metric, self.metric)

    def threshold(self, floor: float | None) -> float:
        if not self.relative:
            return self.value
        if floor is None:
            raise ConfigError(f"--until {self}: '{self.metric}' has no real-data floor; give an absolute value")
        return self.value * floor

    def met(self, value: float, floor: float | None) -> bool:
        return value == value and _OPS[self.op](value, self.threshold(floor))  # NaN never meets

    def better(self, a: float, b: float | None) -> bool:
        """Whether ``a`` is a better value than ``b`` in the direction of the target."""
        if b is None or b != b:
            return a == a
        return a < b if self.op.startswith("<") else a > b

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}{'x' if self.relative else ''}"


def parse_target(text: str) -> Target:
    """``fid<=3x``, ``val/bpc<=2.08``, ``precision>=0.8``; a one-line error otherwise."""
    found = _TARGET.fullmatch(text or "")
    if not found:
        raise ConfigError(
            f"--until '{text}': give METRIC<=VALUE or METRIC>=VALUE, e.g. 'fid<=3x' (3 times "
            "the real-data floor) or 'val/bpc<=2.08'"
        )
    metric, op, value, rel = found.groups()
    target = Target(metric, op, float(value), rel == "x")
    if target.relative and target.logged:
        raise ConfigError(f"--until '{text}': a logged metric has no real-data floor; give an absolute value")
    return target


@dataclass
class Check:
    """One look at the metric: after ``train_s`` seconds of training and ``step`` steps."""

    train_s: float
    step: int
    value: float
    floor: float | None = None
    check_s: float = 0.0


@dataclass
class TargetLog:
    """Every check of one run, and when the target was first met."""

    target: str
    checks: list[Check] = field(default_factory=list)
    reached_s: float | None = None
    reached_step: int | None = None
    best: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "checks": [asdict(c) for c in self.checks]}


def _rng_state() -> tuple[Any, ...]:
    import numpy as np
    import torch

    return random.getstate(), np.random.get_state(), torch.get_rng_state()


def _set_rng_state(state: tuple[Any, ...]) -> None:
    import numpy as np
    import torch

    random.setstate(state[0])
    np.random.set_state(state[1])
    torch.set_rng_state(state[2])


def until_callback(target: Target, every_s: float, n: int | None, budget_s: float | None = None) -> Any:
    """A Lightning callback that checks ``target`` every ``every_s`` seconds of training
    (after each validation for a logged metric), records the checks in ``.history`` and stops
    the run when the target is met. Its evaluations run on ``n`` samples.

    With ``budget_s`` it also keeps the time budget (``--budget``), in place of
    ``trainer.max_time``: its clock stops while it checks, so the budget is training time
    as the report says, and Lightning's ``Timer`` (which cannot be paused) is not used."""
    from lightning.pytorch.callbacks import Callback

    class UntilTarget(Callback):
        def __init__(self) -> None:
            self.history = TargetLog(str(target))
            self.paused = 0.0  # seconds spent checking, not training
            self.started: float | None = None
            self.next_check = every_s

        def _train_s(self) -> float:
            return time.monotonic() - (self.started or time.monotonic()) - self.paused

        def _record(self, trainer: Any, value: float, floor: float | None, check_s: float) -> None:
            train_s = self._train_s()
            step = int(trainer.global_step)
            self.history.checks.append(Check(train_s, step, value, floor, check_s))
            if target.better(value, self.history.best):
                self.history.best = value
            if self.history.reached_s is None and target.met(value, floor):
                self.history.reached_s, self.history.reached_step = train_s, step
                trainer.should_stop = True

        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            self.started = time.monotonic()

        def _record_logged(self, trainer: Any) -> None:
            if not target.logged or trainer.sanity_checking or self.started is None:
                return
            value = trainer.callback_metrics.get(target.key)
            if value is not None:
                self._record(trainer, float(value), None, 0.0)

        def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
            self._stop_at_budget(trainer)
            if target.logged or self._train_s() < self.next_check or trainer.should_stop:
                return
            self.check_now(trainer, pl_module)

        def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
            self._record_logged(trainer)
            self._stop_at_budget(trainer)

        def _stop_at_budget(self, trainer: Any) -> None:
            if budget_s is not None and self.started is not None and self._train_s() >= budget_s:
                trainer.should_stop = True

        def check_now(self, trainer: Any, pl_module: Any) -> None:
            import torch

            from genloom_eval.evaluation import evaluate_model

            began = time.monotonic()
            model = pl_module.model
            state, was_training = _rng_state(), model.training
            model.eval()
            try:
                with torch.no_grad():
                    results = evaluate_model(model, [target.evaluated_metric], n)
            finally:
                model.train(was_training)
                _set_rng_state(state)
            if target.key not in results:
                raise ConfigError(
                    f"--until {target}: metric '{target.evaluated_metric}' gives "
                    f"{', '.join(sorted(results))}, not {target.key}"
                )
            spent = time.monotonic() - began
            self.paused += spent
            self._record(trainer, float(results[target.key]), results.get(f"{target.key}_floor"), spent)
            self.next_check = self._train_s() + every_s

        def on_train_end(self, trainer: Any, pl_module: Any) -> None:
            # one last look at the end of the budget, unless the last check was just now
            if not target.logged and self.history.reached_s is None and (
                not self.history.checks or self.history.checks[-1].step != trainer.global_step
            ):
                self.check_now(trainer, pl_module)

    return UntilTarget()


def parse_every(text: str) -> float:
    """``30s``, ``2m`` or ``45``: seconds of training between checks."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(s|m|min)?\s*", text or "")
    if not found or float(found.group(1)) <= 0:
        raise ConfigError(f"--every '{text}': give a positive duration such as 30s or 2m")
    return float(found.group(1)) * (60 if found.group(2) in ("m", "min") else 1)
