"""Entry point of the RNN plugin: registers its components by import path only.

Import-light on purpose (no torch): genloom imports this module for every command.
"""

from __future__ import annotations

from genloom import hookimpl


@hookimpl
def genloom_register_components(register) -> None:
    register("model", "rnn", "genloom_rnn.model:RNNLM",
             help="LSTM or GRU language model (cell: lstm|gru); the hidden state is the cache")
    # example configs, packaged: genloom train NAME / genloom config init NAME
    register("config", "lstm-pydoc", "genloom_rnn:configs/lstm-pydoc.yaml",
             help="a character-level LSTM on the pydoc topics")
