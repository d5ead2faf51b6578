"""Decoding for any :class:`~genloom.AutoregressiveGenerator`: one module per concept.

* :mod:`~genloom_text.decoding.processors` -- temperature, top-k, top-p, repetition penalty
* :mod:`~genloom_text.decoding.cache` -- selecting rows of an opaque cache (beam search, batching)
* :mod:`~genloom_text.decoding.stops` -- stop strings, checked on decoded text
* :mod:`~genloom_text.decoding.prompt` -- turning a prompt string into ids with the model's tokenizer
* :mod:`~genloom_text.decoding.loop` -- the token-by-token loop (sampling and greedy)
* :mod:`~genloom_text.decoding.beam` -- beam search
* :mod:`~genloom_text.decoding.samplers` -- the registered ``greedy``, ``multinomial`` and ``beam`` samplers

Nothing here knows a plugin: the samplers find the generator with
``model.component(AutoregressiveGenerator)``.
"""
