"""The conformance kit for plugin authors: checks every genloom model should pass.

Call it from a plugin's own tests::

    from genloom import DataInfo
    from genloom.testing import check_model

    def test_conformance():
        check_model("mymodel", DataInfo(kind="image", shape=(1, 8, 8), num_classes=10))
"""

from genloom.testing.conformance import check_model, synthetic_batch

__all__ = ["check_model", "synthetic_batch"]
