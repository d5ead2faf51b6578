"""Reading generation records back, and drawing their samples again.

The core writes a generation record into every sample file (:mod:`genloom.provenance`);
this module reads one back (``genloom inspect FILE``) and draws the samples again from
it (``genloom reproduce FILE``), comparing the data. It lives beside evaluation rather
than in the core: writing a record is part of every sampling path, checking one is a
tool for whoever receives a file.

A record read from a file is untrusted input: at most :data:`MAX_RECORD_BYTES`, JSON
only, nested at most :data:`MAX_DEPTH` deep, a JSON object; anything else is a one-line
:class:`RecordError`. ``reproduce`` draws at most :data:`MAX_REPRODUCE_N` samples.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genloom.errors import GenloomError
from genloom.provenance import ABC_PREFIX, KEY, MAX_RECORD_BYTES, checkpoint_file, file_sha256, sidecar_of

#: the deepest nesting of lists and objects a record may have
MAX_DEPTH = 16


class RecordError(GenloomError):
    """A file's generation record is unreadable, too large, or not a record."""


# -- reading records (untrusted) ----------------------------------------------------------


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in parsed JSON (iteratively: no recursion)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, d = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, d + 1)
            if deepest > MAX_DEPTH:
                return deepest
            stack.extend((v, d + 1) for v in item)
    return deepest


def parse_record(text: str | bytes, where: str) -> dict[str, Any]:
    """A record from its JSON text, checked: bounded, JSON, an object, not too deep."""
    if len(text) > MAX_RECORD_BYTES:
        raise RecordError(f"the genloom record in '{where}' is larger than {MAX_RECORD_BYTES} bytes; refused")
    # deep nesting is refused before parsing: json.loads recurses once per level
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    level = deepest = 0
    in_string = escaped = False
    for ch in raw:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            level += 1
            deepest = max(deepest, level)
        elif ch in "]}":
            level -= 1
    if deepest > MAX_DEPTH:
        raise RecordError(f"the genloom record in '{where}' nests deeper than {MAX_DEPTH} levels; refused")
    try:
        record = json.loads(raw, parse_constant=lambda c: c)
    except (ValueError, RecursionError) as exc:
        raise RecordError(f"the genloom record in '{where}' is not valid JSON ({exc}); refused") from None
    if not isinstance(record, dict) or _depth(record) > MAX_DEPTH:
        raise RecordError(f"the genloom record in '{where}' is not a JSON object; refused")
    return record


def _png_text(path: Path) -> str | None:
    """The ``genloom`` text chunk of a PNG, reading chunks without decoding pixels."""
    import struct
    import zlib

    with open(path, "rb") as f:
        if f.read(8) != b"\x89PNG\r\n\x1a\n":
            raise RecordError(f"'{path}' is not a PNG file")
        while True:
            head = f.read(8)
            if len(head) < 8:
                return None
            length, ctype = struct.unpack(">I4s", head)
            if ctype in (b"IDAT", b"IEND"):
                return None  # genloom writes its chunk before the pixels
            if ctype not in (b"tEXt", b"zTXt", b"iTXt"):
                f.seek(length + 4, 1)
                continue
            if length > MAX_RECORD_BYTES + 64:
                key = f.read(min(length, 80)).split(b"\0", 1)[0]
                if key == KEY.encode():
                    raise RecordError(
                        f"the genloom record in '{path}' is larger than {MAX_RECORD_BYTES} bytes; refused"
                    )
                f.seek(length - min(length, 80) + 4, 1)
                continue
            body = f.read(length)
            f.seek(4, 1)
            key, _, rest = body.partition(b"\0")
            if key != KEY.encode():
                continue
            if ctype == b"tEXt":
                return rest.decode("latin-1")
            if ctype == b"zTXt":
                d = zlib.decompressobj()
                data = d.decompress(rest[1:], MAX_RECORD_BYTES + 1)
                if len(data) > MAX_RECORD_BYTES or d.unconsumed_tail:
                    raise RecordError(
                        f"the genloom record in '{path}' is larger than {MAX_RECORD_BYTES} bytes; refused"
                    )
                return data.decode("latin-1")
            flag, _method, rest = rest[0], rest[1], rest[2:]
            _lang, _, rest = rest.partition(b"\0")
            _tkey, _, text = rest.partition(b"\0")
            if flag:
                d = zlib.decompressobj()
                text = d.decompress(text, MAX_RECORD_BYTES + 1)
                if len(text) > MAX_RECORD_BYTES or d.unconsumed_tail:
                    raise RecordError(
                        f"the genloom record in '{path}' is larger than {MAX_RECORD_BYTES} bytes; refused"
                    )
            return text.decode("utf-8", "replace")


def _abc_text(path: Path) -> str | None:
    with open(path, "rb") as f:
        first = f.readline(MAX_RECORD_BYTES + len(ABC_PREFIX) + 2)
    line = first.decode("utf-8", "replace")
    if not line.startswith(ABC_PREFIX):
        return None
    if not first.endswith(b"\n") and len(first) > MAX_RECORD_BYTES:
        raise RecordError(f"the genloom record in '{path}' is larger than {MAX_RECORD_BYTES} bytes; refused")
    return line[len(ABC_PREFIX):].strip()


def read_record(path: str | Path) -> dict[str, Any] | None:
    """The generation record of the sample file ``path`` (embedded, else its sidecar),
    or None when it has none. Raises :class:`RecordError` (one line) for a record that is
    too large, not JSON, too deeply nested or not an object."""
    path = Path(path)
    if not path.is_file():
        raise GenloomError(f"'{path}' does not exist or is not a file")
    suffix = path.suffix.lower()
    try:
        text = _png_text(path) if suffix == ".png" else _abc_text(path) if suffix == ".abc" else None
        if text is None:
            sidecar = sidecar_of(path)
            if sidecar.is_file():
                size = sidecar.stat().st_size
                if size > MAX_RECORD_BYTES:
                    raise RecordError(
                        f"the genloom record in '{sidecar}' is larger than {MAX_RECORD_BYTES} bytes; refused"
                    )
                text = sidecar.read_bytes().decode("utf-8", "replace")
                path = sidecar
    except OSError as exc:
        raise GenloomError(f"cannot read '{path}': {exc.strerror or exc}") from None
    return None if text is None else parse_record(text, str(path))


# -- comparing samples ------------------------------------------------------------------


def sample_content(path: str | Path) -> Any:
    """What a sample file holds, without its record: a PNG's decoded pixels, an ABC or
    text file's text without the record line, an ``.npy`` array, else the bytes."""
    import numpy as np

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".png":
        from PIL import Image

        with Image.open(path) as im:
            return (im.mode, np.asarray(im).copy())
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if suffix in (".abc", ".txt"):
        text = path.read_text(encoding="utf-8", errors="replace")
        if suffix == ".abc" and text.startswith(ABC_PREFIX):
            text = text.split("\n", 1)[1] if "\n" in text else ""
        return text
    return path.read_bytes()


def same_content(a: Any, b: Any) -> bool:
    """Whether two :func:`sample_content` results are identical (bit for bit)."""
    import numpy as np

    if isinstance(a, tuple) and isinstance(b, tuple):
        return a[0] == b[0] and same_content(a[1], b[1])
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    return type(a) is type(b) and a == b


# -- reproducing ------------------------------------------------------------------------

#: the most samples ``reproduce`` draws for a record (a record is untrusted input)
MAX_REPRODUCE_N = 10_000


def _field(record: dict[str, Any], key: str, types: tuple[type, ...], where: str) -> Any:
    value = record.get(key)
    if not isinstance(value, types) or isinstance(value, bool) and bool not in types:
        raise RecordError(f"the genloom record of '{where}' has no valid '{key}'")
    return value


def reproduce_file(record: dict[str, Any], file: str | Path, run: str | Path | None, tmp: Path) -> tuple[bool, str]:
    """Draw the samples ``record`` describes again (from ``run``, else the record's
    checkpoint), write them under ``tmp`` and compare with ``file``'s data.

    Returns ``(identical, message)``; a record or checkpoint that cannot be used raises a
    one-line :class:`~genloom.errors.GenloomError`."""
    import torch

    from genloom.checkpoints import load_checkpoint
    from genloom.kinds import get_kind

    where = str(file)
    n = _field(record, "n", (int,), where)
    seed = _field(record, "seed", (int,), where)
    if not 1 <= n <= MAX_REPRODUCE_N or not 0 <= seed < 2**64:
        raise RecordError(f"the genloom record of '{where}' has an out-of-range 'n' or 'seed'")
    sampler = _field(record, "sampler", (str, type(None)), where)
    options = _field(record, "options", (dict, type(None)), where) or {}
    cond = _field(record, "cond", (list, type(None)), where)
    if cond is not None and (not cond or not all(isinstance(c, int) and not isinstance(c, bool) for c in cond)):
        raise RecordError(f"the genloom record of '{where}' has no valid 'cond'")
    expected = _field(record, "checkpoint_sha256", (str, type(None)), where)
    checkpoint = run if run is not None else _field(record, "checkpoint", (str,), where)
    ckpt_file = checkpoint_file(checkpoint)
    if not ckpt_file.is_file():
        raise GenloomError(f"checkpoint '{checkpoint}' does not exist; name the run with --run RUN")
    actual = file_sha256(ckpt_file)
    if expected is None:
        raise RecordError(f"the genloom record of '{where}' names no checkpoint hash")
    if actual != expected:
        return False, (
            f"the checkpoint differs: '{ckpt_file}' has SHA-256 {actual[:12]}..., "
            f"the sample was drawn from {expected[:12]}..."
        )
    model = load_checkpoint(checkpoint)
    kind = get_kind(model.info.kind)
    if record.get("kind") not in (None, kind.name):
        return False, f"the model makes '{kind.name}' samples, the record says '{record.get('kind')}'"
    cond_tensor = None if cond is None else torch.tensor([cond[i % len(cond)] for i in range(n)])
    samples = kind.draw(model, n, sampler=sampler, cond=cond_tensor, seed=seed, options=dict(options))
    suffix = Path(file).suffix.lower() or kind.default_suffix
    again = kind.write(samples, tmp / f"again{suffix}", model.info)
    if same_content(sample_content(file), sample_content(again)):
        return True, "reproduced: identical"
    return False, f"not reproduced: the samples drawn again differ from the data in '{file}'"
