"""LSTM and GRU language models for genloom."""
