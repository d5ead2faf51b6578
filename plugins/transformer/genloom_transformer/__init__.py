"""Decoder-only transformer language models for genloom."""
