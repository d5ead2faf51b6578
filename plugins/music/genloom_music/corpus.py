"""Where music21's corpus is, found without importing music21, and the install hint.

The ``music21`` wheel carries its corpus as plain files (ABC collections, MusicXML
chorales). Datasets read those files directly, so locating them must not import
music21 (a second of imports and a settings file in the home folder); music21 itself is
imported only to parse MusicXML and to write or read MIDI (:func:`import_music21`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from genloom import ConfigError

#: the one line a user without music21 sees (exit 2 from the CLI)
INSTALL_HINT = "pip install 'genloom-music[music21]' (or: pip install music21)"


def music21_missing(what: str) -> ConfigError:
    """The one-line error for a feature that needs music21, which is not installed."""
    return ConfigError(f"{what} needs the 'music21' package: {INSTALL_HINT}")


def corpus_dir(what: str = "this dataset") -> Path:
    """music21's ``corpus`` folder; a one-line install hint when music21 is missing."""
    try:
        spec = importlib.util.find_spec("music21")
    except (ImportError, ValueError):  # a broken or hidden installation
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise music21_missing(what)
    folder = Path(next(iter(spec.submodule_search_locations))) / "corpus"
    if not folder.is_dir():
        raise ConfigError(f"{what}: music21 is installed without its corpus (no '{folder}')")
    return folder


def import_music21(what: str) -> Any:
    """``import music21``, or the one-line install hint."""
    try:
        import music21
    except ImportError:
        raise music21_missing(what) from None
    return music21


def music21_version() -> str:
    """The installed music21's version, read from its metadata (no import)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("music21")
    except PackageNotFoundError:
        return "not installed"
