"""Sample kinds: what a batch of samples *is*, how it is written to files, how metrics read it.

A :class:`SampleKind` is a registered component (kind ``sample_kind``), so a plugin with a
new kind of data registers one and every core path that writes, measures or fakes samples
works with it. The core registers ``image`` and ``points``; genloom-text ``tokens``.
A generation record (:mod:`genloom.provenance`) goes into the file where the kind's format
has a place (``write_file`` with a ``record`` parameter, a PNG text chunk), else into a
sidecar ``FILE.genloom.json``.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from genloom.errors import ConfigError, GenloomError

_tmp_ids = itertools.count()  # temporary names unique within a process, too

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import Tensor

    from genloom.data.info import DataInfo
    from genloom.interfaces import Samples


class SampleKind:
    """How samples of one kind of data are written, drawn for the CLI, and measured.

    Subclass it, set ``name`` and ``suffixes`` and implement :meth:`write_file`;
    override :meth:`features` when flattening the data is not a meaningful feature
    vector, and :meth:`draw` when samples should be shown while they are made (text
    streams token by token).
    """

    #: the kind's name, as in ``DataInfo.kind`` and ``Samples.kind``
    name: ClassVar[str] = ""
    #: file suffixes :meth:`write_file` understands; the first is the default
    suffixes: ClassVar[tuple[str, ...]] = ()
    #: how many samples ``genloom sample`` draws when ``--n`` is not given
    default_n: ClassVar[int] = 64
    #: whether ``genloom sample`` without ``--out`` streams samples to stdout (:meth:`draw`)
    streams: ClassVar[bool] = False
    #: True for real-valued arrays (VAE, GAN, diffusion, flow), False for token ids; models
    #: check this instead of kind names, so they accept a plugin's kind too
    continuous: ClassVar[bool] = True
    #: the range every value lies in, if any (images: ``(-1, 1)``); samplers may clip to it
    value_range: ClassVar[tuple[float, float] | None] = None

    @property
    def default_suffix(self) -> str:
        """The suffix ``genloom sample`` writes without ``--out`` (``.npy`` when none is listed)."""
        return self.suffixes[0] if self.suffixes else ".npy"

    def write(self, samples: Samples, path: str | Path, info: DataInfo | None = None,
              record: dict[str, Any] | None = None) -> Path:
        """Write ``samples`` to ``path`` (``.npy`` for every kind, else one of :attr:`suffixes`)
        atomically, with the generation ``record`` embedded (see the module docstring) or in
        the sidecar ``FILE.genloom.json``. Returns the path written."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix != ".npy" and suffix not in self.suffixes:
            *first, last = (*self.suffixes, ".npy")
            choices = f"{', '.join(first)} or {last}" if first else last
            raise GenloomError(f"cannot write {self.name} samples to '{path}'; use {choices}")
        from genloom.atomic import write_atomic

        path.parent.mkdir(parents=True, exist_ok=True)
        # a temporary name keeping the suffix, which writers pick the format from
        tmp = path.with_name(f".{path.name}.{os.getpid()}-{next(_tmp_ids)}.tmp{path.suffix}")
        embedded = False
        try:
            if suffix == ".npy":
                import numpy as np

                with open(tmp, "wb") as f:
                    np.save(f, samples.data.detach().cpu().numpy())
            elif record is not None and _takes_record(self.write_file):
                embedded = self.write_file(samples, tmp, info, record=record) is True
            else:
                self.write_file(samples, tmp, info)
            if record is not None and not embedded and suffix == ".png":
                from genloom.provenance import add_png_record  # a PNG has a place for it

                add_png_record(tmp, record)
                embedded = True
            write_atomic(path, tmp.read_bytes())  # the one writer: fsync, then rename
        finally:
            tmp.unlink(missing_ok=True)
        from genloom.provenance import dumps, sidecar_of

        sidecar = sidecar_of(path)
        if record is not None and not embedded:
            write_atomic(sidecar, dumps(record) + "\n")
        else:
            sidecar.unlink(missing_ok=True)  # it described an earlier file
        return path

    def write_file(self, samples: Samples, path: Path, info: DataInfo | None) -> Any:
        """Write ``samples`` to ``path``, whose suffix is one of :attr:`suffixes`.

        A kind that can embed a generation record adds a keyword parameter
        ``record: dict | None = None``, stores it in the file when it is given and
        returns True (False or None: the core writes a sidecar instead)."""
        raise NotImplementedError(f"sample kind {self.name!r} writes no files but .npy")

    def features(self, data: Tensor, info: DataInfo | None = None) -> Tensor:
        """``(n, d)`` float features of a batch, for data-space metrics (Fréchet, novelty)."""
        return data.flatten(1).double()

    def random(self, info: DataInfo, n: int, generator: torch.Generator) -> Tensor:
        """A batch of ``n`` random examples shaped as ``info`` says (for contract tests)."""
        import torch

        return torch.randn((n, *info.shape), generator=generator)

    def draw(self, model: Any, n: int, *, sampler: str | None = None, cond: Tensor | None = None,
             seed: int = 0, options: dict[str, Any] | None = None,
             stream: Callable[[str], None] | None = None) -> Samples:
        """``n`` samples from ``model``, seeded; kinds that stream show them through ``stream``."""
        import torch

        from genloom.sampling import draw

        generator = torch.Generator().manual_seed(seed)
        return draw(model, n, sampler=sampler, cond=cond, generator=generator, **(options or {}))


def _takes_record(method: Callable[..., Any]) -> bool:
    """Whether a kind's ``write_file`` has the optional ``record`` parameter."""
    import inspect

    try:
        return "record" in inspect.signature(method).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False


_CACHE: dict[str, SampleKind] = {}


def get_kind(name: str) -> SampleKind:
    """The registered sample kind ``name`` (an instance; kinds are stateless)."""
    from genloom.plugins import get_registry

    registry = get_registry()
    try:
        component = registry.resolve("sample_kind", name)
    except GenloomError as exc:
        raise ConfigError(f"unknown sample kind '{name}': {exc}") from None
    key = component.full_name
    if key not in _CACHE or type(_CACHE[key]).__module__ != component.target.partition(":")[0]:
        _CACHE[key] = component.load()()
    return _CACHE[key]


def save_samples(samples: Samples, path: str | Path, info: DataInfo | None = None,
                 record: dict[str, Any] | None = None) -> Path:
    """Write ``samples`` to ``path`` with their kind's writer (:meth:`SampleKind.write`)."""
    return get_kind(samples.kind).write(samples, path, info, record)


def default_suffix(kind: str) -> str:
    """The file suffix samples of ``kind`` are written with by default."""
    return get_kind(kind).default_suffix
