"""Diffusion samplers, one per module (``ddpm``, ``ddim``, ``dpmpp_2m``, ``euler``, and
``flow_euler``/``flow_heun`` in :mod:`~genloom_diffusion.samplers.flow`), each a
:class:`~genloom_diffusion.DiffusionSampler` that writes its ``step`` and declares its options."""
