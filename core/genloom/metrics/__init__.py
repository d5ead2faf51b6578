"""Text metrics that have not yet left the core; the evaluation metrics live in genloom-eval (``genloom_eval.metrics``)."""
