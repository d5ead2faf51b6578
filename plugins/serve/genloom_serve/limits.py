"""The bounds every request is checked against (each violation is a 4xx)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    max_n: int = 64  #: samples per request
    max_steps: int = 1000  #: a sampler's ``steps`` option (diffusion, Langevin)
    max_prompt_chars: int = 2000  #: characters of a prompt
    max_new_tokens: int = 512  #: tokens a text request may generate
    max_body_bytes: int = 64 * 1024  #: bytes of a request body
    max_batch: int = 64  #: samples gathered into one forward pass
    batch_window_s: float = 0.010  #: how long the first request of a batch waits for others
    max_option_value: float = 1e6  #: magnitude of a numeric sampler option
    max_stop_strings: int = 8  #: stop strings of a stream request
    max_pending: int = 1024  #: rating items shown but not yet answered (oldest dropped)
