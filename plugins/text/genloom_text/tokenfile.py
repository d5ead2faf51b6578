"""Token files: a text tokenised once into a flat ``.bin`` of token ids (as nanoGPT's
``train.bin``), with a JSON sidecar ``<file>.json`` saying what the ids mean.

The ``.bin`` is raw little-endian ``uint16`` (vocabularies up to 65,536) or ``uint32``
ids, so ``numpy.memmap`` reads any window of it without loading the file: a corpus
larger than memory trains in bounded memory. The sidecar holds ``format``,
``tokenizer`` (its state, so samples decode and fine-tuning keeps the ids), ``vocab_size``,
``dtype`` and ``count`` (ids in the file); :func:`read_header` checks the file's size
against it, so a truncated or foreign file is a one-line error, never a wrong read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from genloom.atomic import write_atomic
from genloom.errors import ConfigError

FORMAT = "genloom-tokens/1"
#: text read per step while tokenising (bytes): memory stays bounded for any file size
CHUNK = 16 << 20


def sidecar(path: str | Path) -> Path:
    """The JSON header beside token file ``path``."""
    return Path(f"{path}.json")


def _chunks(path: Path, size: int) -> Any:
    """The file's text in pieces of about ``size`` bytes, cut after a newline (or at any
    character boundary where a piece has none), so a tokenizer sees whole lines."""
    rest = ""
    with path.open("r", encoding="utf-8", newline="") as f:
        while True:
            piece = f.read(size)
            if not piece:
                break
            piece = rest + piece
            cut = piece.rfind("\n") + 1 or len(piece)
            rest, piece = piece[cut:], piece[:cut]
            if piece:
                yield piece
    if rest:
        yield rest


def write_token_file(text: str | Path, out: str | Path, tokenizer: str = "byte") -> dict[str, Any]:
    """Tokenise UTF-8 file ``text`` into token file ``out`` (+ its sidecar); return the header.

    ``byte`` encodes with numpy directly (hundreds of MB/s); another tokenizer component
    is fitted on the first chunk (``CHUNK``) and encodes chunk by chunk, so a character
    missing from that chunk is an error the message explains.
    """
    from genloom import progress as bar
    from genloom.plugins import get_registry

    src, out = Path(text), Path(out)
    if not src.is_file():
        raise ConfigError(f"tokenize: text file '{src}' does not exist")
    if out.resolve() == src.resolve():
        raise ConfigError("tokenize: the output would overwrite the text; name another file")
    cls = get_registry().load("tokenizer", tokenizer)
    total = src.stat().st_size
    tok = None
    count, dtype = 0, None
    tmp = out.with_name(out.name + ".part")
    try:
        with tmp.open("wb") as f:
            for piece in bar(_chunks(src, CHUNK), total=-(-total // CHUNK), desc="tokenize"):
                if tok is None:
                    tok = cls.fit(piece)
                    dtype = np.uint16 if tok.vocab_size <= 1 << 16 else np.uint32
                if tokenizer == "byte":
                    ids = np.frombuffer(piece.encode("utf-8"), dtype=np.uint8).astype(dtype)
                else:
                    try:
                        ids = np.asarray(tok.encode(piece), dtype=dtype)
                    except (KeyError, ValueError) as exc:
                        raise ConfigError(f"tokenize: the '{tokenizer}' tokenizer fitted on the first "
                                          f"{CHUNK >> 20} MB cannot encode later text ({exc}); use "
                                          "--tokenizer byte") from None
                ids.tofile(f)
                count += len(ids)
            f.flush()
            os.fsync(f.fileno())  # on disk before the rename below makes it the token file
        if tok is None:
            raise ConfigError(f"tokenize: '{src}' is empty")
    except UnicodeDecodeError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"tokenize: '{src}' is not UTF-8 text ({exc.reason}); convert it first, "
                          "e.g. iconv -f latin1 -t utf-8") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    header = {"format": FORMAT, "tokenizer": tok.state(), "vocab_size": int(tok.vocab_size),
              "dtype": np.dtype(dtype).name, "count": count, "source": src.name}
    tmp.replace(out)
    write_atomic(sidecar(out), json.dumps(header, indent=1) + "\n")
    return header


def read_header(path: str | Path) -> dict[str, Any]:
    """The checked sidecar of token file ``path``: a one-line error for a missing or
    foreign sidecar, a dtype other than uint16/uint32, or a size that disagrees."""
    path = Path(path)
    meta = sidecar(path)
    if not path.is_file() or not meta.is_file():
        raise ConfigError(f"data.path: token file '{path}' or its header '{meta.name}' does not exist; "
                          "write both with: genloom tokenize TEXT OUT.bin")
    try:
        header = json.loads(meta.read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise ConfigError(f"data.path: cannot read '{meta}' ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ConfigError(f"data.path: '{meta}' is not a genloom token header ({FORMAT})")
    if header.get("dtype") not in ("uint16", "uint32") or not isinstance(header.get("count"), int):
        raise ConfigError(f"data.path: '{meta}' has dtype {header.get('dtype')!r}; uint16 or uint32 expected")
    expected = header["count"] * np.dtype(header["dtype"]).itemsize
    if path.stat().st_size != expected:
        raise ConfigError(f"data.path: '{path}' holds {path.stat().st_size:,} bytes but its header says "
                          f"{expected:,}; tokenise it again")
    return header


def open_tokens(path: str | Path) -> tuple[np.memmap, dict[str, Any]]:
    """The ids of token file ``path``, memory-mapped read-only, and its header."""
    header = read_header(path)
    return np.memmap(path, dtype=header["dtype"], mode="r", shape=(header["count"],)), header
