"""genloom-compress: LoRA adapters (:mod:`genloom_compress.lora`) and int8 quantisation
(:mod:`genloom_compress.quantize`) for any genloom model's ``nn.Linear`` layers.

Importing the package imports neither torch nor its modules; import the module you use.
"""

__all__ = ["lora", "quantize"]
