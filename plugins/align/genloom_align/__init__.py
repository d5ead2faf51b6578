"""Fine-tune, align and adapt genloom's autoregressive language models.

Works with any registered model whose checkpoint rebuilds a ``genloom_text.LanguageModel``
(the transformer, the RNN, a third party's), through ``genloom.load_checkpoint``:
this package never imports another plugin.
"""
