"""Dynamic batching: concurrent sample requests for one model gathered into one forward pass.

Each model has one worker thread. The first request that arrives opens a window
(``Limits.batch_window_s``, 10 ms); requests that arrive within it, up to
``Limits.max_batch`` samples in all, are grouped by (sampler, options, conditional)
and each group is drawn together.

Same seed, same sample, batched or not: every request's randomness comes from its own
``torch.Generator`` seeded with its seed, exactly as ``genloom sample`` draws it, so a
request's latents are the same bits batched or not. The decoded values agree to float32
rounding (a BLAS kernel may round the last bit differently for a larger batch: 4e-9 on
the test VAE), which 8-bit files (PNG grids) do not show. A
sampler takes one generator for the whole batch, so a group is drawn in one pass only
where the server can draw each request's noise itself and then run the network once:
the core's ``prior`` sampler (VAE, GAN: ``z`` per request, one decode of all of them).
Every other sampler (diffusion, token decoding, flows, ``latent_prior``) draws each
request on its own, one after another, through the same worker (``SampleKind.draw``,
the path ``genloom sample`` takes): never two forward passes on one model at once.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from genloom_serve.limits import Limits
from genloom_serve.models import ServedModel


@dataclass
class SampleRequest:
    n: int
    seed: int
    cond: Any = None  #: a (n,) label tensor or None
    sampler: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    future: Future = field(default_factory=Future)

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.sampler, json.dumps(self.options, sort_keys=True), self.cond is not None)


def draw_one(served: ServedModel, req: SampleRequest) -> Any:
    """``req``'s samples drawn on their own: what ``genloom sample`` does with its seed."""
    return served.kind.draw(served.model, req.n, sampler=req.sampler, cond=req.cond,
                            seed=req.seed, options=dict(req.options))


def batchable(served: ServedModel, sampler_name: str | None) -> Any:
    """The sampler instance when requests for it can share one forward pass, else None."""
    from genloom.kinds import SampleKind
    from genloom.samplers.prior import PriorSampler
    from genloom.sampling import default_sampler_of, get_sampler

    if type(served.kind).draw is not SampleKind.draw:  # a kind with its own draw (text)
        return None
    try:
        chosen = get_sampler(sampler_name) if sampler_name else default_sampler_of(served.model)
    except Exception:  # noqa: BLE001 - the unbatched path reports the error
        return None
    return chosen if type(chosen) is PriorSampler else None


def draw_batched(served: ServedModel, sampler: Any, group: list[SampleRequest]) -> list[Any]:
    """One decode of every request's own latents; the result per request equals
    :func:`draw_one`'s (the latents are drawn exactly as ``PriorSampler.sample`` draws them)."""
    import torch

    from genloom.interfaces import Samples
    from genloom.sampling import _check_options  # the check genloom sample applies

    model = served.model
    gen = sampler.check(model)
    _check_options(sampler, group[0].options)
    temperature = group[0].options.get("temperature", 1.0)
    zs = [torch.randn((r.n, *gen.latent_shape), generator=torch.Generator().manual_seed(r.seed)) * temperature
          for r in group]
    conds = [r.cond for r in group]
    cond = None if conds[0] is None else torch.cat(conds)
    if cond is not None and not model.conditional:
        raise ValueError("not conditional")  # the unbatched path gives the real error
    model.eval()
    with torch.no_grad():
        samples = sampler.decode(model, torch.cat(zs), cond)
    out, start = [], 0
    for r in group:
        stop = start + r.n
        out.append(Samples(data=samples.data[start:stop], kind=samples.kind,
                           cond=None if samples.cond is None else samples.cond[start:stop]))
        start = stop
    return out


class Batcher:
    """The worker thread of one model; :meth:`submit` returns the request's future."""

    def __init__(self, served: ServedModel, limits: Limits) -> None:
        self.served, self.limits = served, limits
        self.queue: queue.Queue[SampleRequest | None] = queue.Queue()
        self.carry: list[SampleRequest] = []
        self.thread: threading.Thread | None = None
        self.start_lock = threading.Lock()
        self.passes = 0  #: forward passes run (a batched group counts once)
        self.requests = 0  #: requests answered
        self.largest = 0  #: most requests in one pass

    def submit(self, req: SampleRequest) -> Future:
        with self.start_lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._loop, name=f"batcher-{self.served.name}",
                                               daemon=True)
                self.thread.start()
        self.queue.put(req)
        return req.future

    def stop(self) -> None:
        if self.thread is not None and self.thread.is_alive():
            self.queue.put(None)
            self.thread.join(timeout=10)

    def _gather(self) -> list[SampleRequest] | None:
        first = self.carry.pop(0) if self.carry else self.queue.get()
        if first is None:
            return None
        batch, total = [first], first.n
        deadline = time.monotonic() + self.limits.batch_window_s
        while total < self.limits.max_batch:
            if self.carry:
                nxt = self.carry.pop(0)
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    nxt = self.queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if nxt is None:
                self.queue.put(None)  # stop after this batch
                break
            if total + nxt.n > self.limits.max_batch:
                self.carry.append(nxt)
                break
            batch.append(nxt)
            total += nxt.n
        return batch

    def _loop(self) -> None:
        while True:
            batch = self._gather()
            if batch is None:
                return
            groups: dict[tuple[Any, ...], list[SampleRequest]] = {}
            for req in batch:
                groups.setdefault(req.key, []).append(req)
            for group in groups.values():
                self._run(group)

    def _run(self, group: list[SampleRequest]) -> None:
        with self.served.lock:
            sampler = batchable(self.served, group[0].sampler) if len(group) > 1 else None
            if sampler is not None:
                try:
                    results = draw_batched(self.served, sampler, group)
                except Exception:  # noqa: BLE001 - each request then gets its own answer
                    results = None
                if results is not None:
                    self.passes += 1
                    self.largest = max(self.largest, len(group))
                    for req, res in zip(group, results):
                        self.requests += 1
                        req.future.set_result(res)
                    return
            for req in group:
                self.passes += 1
                self.requests += 1
                self.largest = max(self.largest, 1)
                try:
                    req.future.set_result(draw_one(self.served, req))
                except BaseException as exc:  # noqa: BLE001 - handed to the waiting request
                    req.future.set_exception(exc)
