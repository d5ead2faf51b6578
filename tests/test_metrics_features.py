"""The shipped feature networks: safetensors under 1 MB, loaded without pickle, and as
accurate on the default test split as their metadata says."""

import pickle

import pytest
import torch

from genloom.config import DataSection
from genloom_eval.data import mnist as mnist_module
from genloom_eval.metrics import classifier as clf


def _dataset(name):
    if name == "digits":
        from genloom.data.digits import Digits

        return Digits(None)
    if mnist_module.mnist_file() is None:
        pytest.skip("pip install 'genloom-eval[mnist]'")
    if name == "captioned_mnist":
        from genloom_eval.data.captioned_mnist import CaptionedMNIST

        return CaptionedMNIST(CaptionedMNIST.Config())
    return mnist_module.MNIST(None)


@pytest.mark.parametrize("name", clf.SHIPPED)
def test_shipped_network_loads_without_pickle(name, monkeypatch):
    path = clf.weights_path(name)
    assert path.stat().st_size < 1_000_000
    assert path.read_bytes()[8:9] == b"{"  # a safetensors JSON header, not a pickle

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(clf, "_LOADED", {})
    net = clf.load_classifier(name)
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    meta = clf.classifier_metadata(name)
    assert meta["dataset"] == name and meta["trained_by"] == "scripts/train_feature_nets.py"


@pytest.mark.parametrize("name", clf.SHIPPED)
def test_shipped_network_reproduces_its_recorded_accuracy(name):
    d = DataSection()
    test = _dataset(name).splits(d.val_fraction, d.test_fraction, d.split_seed)["test"]
    net = clf.load_classifier(name)
    with torch.no_grad():
        accuracy = float((net(test.x).argmax(1) == test.y).float().mean())
    meta = clf.classifier_metadata(name)
    assert f"{accuracy:.4f}" == meta["test_accuracy"]
    assert int(meta["test_examples"]) == len(test)
    assert accuracy > 0.9


def test_features_of_padded_images_are_those_of_the_centre():
    net = clf.load_classifier("digits")
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), value=-1.0)
    assert torch.equal(net.features(padded), net.features(x))
    assert net.features(x).shape == (4, net.feature_dim)
