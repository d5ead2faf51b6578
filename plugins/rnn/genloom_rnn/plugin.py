"""Entry point of the RNN plugin: declares its components by import path, as data.

Import-light on purpose (no torch): genloom imports this module for every command.
"""

from __future__ import annotations


#: this plugin's components, ``"kind:name": ("package.module:Attr", "help")``: genloom
#: reads the table as data, without running this module
GENLOOM_COMPONENTS = {
    "model:rnn": ("genloom_rnn.model:RNNLM",
        "LSTM or GRU language model (cell: lstm|gru); the hidden state is the cache"),
    # example configs, packaged: genloom train NAME / genloom config init NAME
    "config:lstm-pydoc": ("genloom_rnn:configs/lstm-pydoc.yaml",
        "a character-level LSTM on the pydoc topics"),
}
