"""``GenerativeModel.forward`` runs the network the default sampler drives, so a model
exports with ``torch.export`` (and to ONNX, with the ``onnx`` extra) and the exported
program computes what the model does."""

import pytest
import torch
from torch import nn

from genloom import AutoregressiveGenerator, DataInfo, Denoiser, GenerativeModel, Generator, load_config
from genloom.build import build_model
from genloom_text.tokenizers import CharTokenizer
from genloom.errors import GenloomError

IMAGE = DataInfo(kind="image", shape=(1, 8, 8))


def model(*overrides: str, info: DataInfo = IMAGE) -> GenerativeModel:
    return build_model(load_config(None, list(overrides), check_trainer=False), info).eval()


@pytest.mark.parametrize("overrides", [
    ["model.name=vae", "model.latent_dim=4"],
    ["model.name=gan", "model.latent_dim=8", "model.generator.channels=8",
     "model.discriminator.channels=8", "model.ema_decay=0.9"],
], ids=["vae", "gan-ema"])
def test_torch_export_of_a_latent_model_runs_its_generator(overrides):
    m = model(*overrides)
    z = torch.randn(3, m.cfg.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = m(z)
        assert torch.equal(expected, m.component(Generator)(z))  # the EMA copy for the GAN
        exported = torch.export.export(m, (z,))
        assert torch.allclose(exported.module()(z), expected, atol=1e-5)
    assert expected.shape == (3, 1, 8, 8)


@pytest.mark.parametrize("overrides", [
    ["model.name=vae", "model.latent_dim=4"],
    ["model.name=gan", "model.latent_dim=8", "model.generator.channels=8",
     "model.discriminator.channels=8"],
], ids=["vae", "gan"])
def test_onnx_export_of_a_latent_model_computes_its_generator(overrides, tmp_path):
    from onnx.reference import ReferenceEvaluator  # the onnx extra, installed with dev

    m = model(*overrides)
    z = torch.randn(3, m.cfg.latent_dim, generator=torch.Generator().manual_seed(0))
    torch.onnx.export(m, (z,), dynamo=True, input_names=["z"]).save(str(tmp_path / "g.onnx"))
    # onnx's own reference interpreter: no onnxruntime needed to check the graph's numbers
    (out,) = ReferenceEvaluator(str(tmp_path / "g.onnx")).run(None, {"z": z.numpy()})
    with torch.no_grad():
        assert torch.allclose(torch.from_numpy(out), m(z), atol=1e-5)


def test_forward_of_a_diffusion_model_is_its_denoiser():
    m = model("model.name=diffusion", "model.denoiser.name=mlp", "model.timesteps=10",
              info=DataInfo(kind="points", shape=(2,)))
    x, t = torch.randn(5, 2), torch.tensor([0, 1, 2, 3, 9])
    with torch.no_grad():
        assert torch.equal(m(x, t), m.component(Denoiser)(x, t))


def test_forward_of_a_language_model_gives_logits():
    tok = CharTokenizer.fit("abcab")
    info = DataInfo(kind="tokens", shape=(9,), vocab_size=tok.vocab_size, tokenizer=tok.state())
    m = model("model.name=transformer", "model.width=16", "model.layers=1", "model.heads=2", info=info)
    tokens = torch.tensor([[0, 1, 2, 0]])
    with torch.no_grad():
        logits = m(tokens)
        assert torch.equal(logits, m.component(AutoregressiveGenerator).step(tokens)[0])
    assert logits.shape == (1, 4, tok.vocab_size)


def test_a_model_without_a_network_says_to_override_forward():
    class Bare(GenerativeModel):
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(2, 2)

    with pytest.raises(GenloomError, match="override forward"):
        Bare()(torch.zeros(1, 2))
