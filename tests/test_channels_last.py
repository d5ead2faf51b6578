"""``channels_last: true``: a conv model's 4-D weights are stored channels-last (less CPU
time a batch), in training, after a checkpoint or export round trip, and for a model built
in Python; the numbers are those of the default layout, and the same seed still gives the
same samples."""

from __future__ import annotations

import pytest
import torch

from genloom import load_checkpoint, load_config, train
from genloom.build import build_model, with_run_config
from genloom.checkpoints import export
from genloom.errors import ConfigError
from genloom.sampling import draw

from support import ROOT

CONV = str(ROOT / "examples" / "configs" / "vae-conv-digits.yaml")
QUIET = ["trainer.enable_progress_bar=false", "sample.n=0", "checkpoint.every_n_epochs=0",
         "trainer.max_steps=3", "trainer.max_epochs=1", "trainer.limit_val_batches=1"]


def conv_weights(model: torch.nn.Module) -> list[torch.Tensor]:
    found = [p for p in model.parameters() if p.dim() == 4 and p.shape[1] > 1 and p.shape[2] > 1]
    assert found, "the recipe has no convolution with several input channels and a 2-D kernel"
    return found


def channels_last(model: torch.nn.Module) -> bool:
    return all(p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
               for p in conv_weights(model))


def _data_info(cfg):
    from genloom.build import build_dataset

    return build_dataset(cfg).info


def test_the_switch_stores_conv_weights_channels_last_and_changes_no_number():
    plain_cfg = load_config(CONV)
    torch.manual_seed(0)
    plain = build_model(plain_cfg, _data_info(plain_cfg))
    torch.manual_seed(0)
    fast = build_model(load_config(CONV, ["channels_last=true"]), _data_info(plain_cfg))
    assert channels_last(fast) and not channels_last(plain)
    flat_params = [p for p in fast.parameters() if p.dim() < 4]
    assert flat_params and all(p.is_contiguous() for p in flat_params)  # only 4-D weights move
    batch = {"x": torch.rand(8, *plain.info.shape)}
    torch.manual_seed(1)
    a = plain.losses(batch)["loss"]
    torch.manual_seed(1)
    b = fast.losses(batch)["loss"]
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_a_model_built_in_python_gets_the_switch_too():
    cfg = load_config(CONV, ["channels_last=true"])
    model = build_model(load_config(CONV), _data_info(cfg))
    assert not channels_last(model)
    assert channels_last(with_run_config(model, cfg)) and model.run_cfg is cfg


def test_a_channels_last_run_trains_reloads_exports_and_repeats_its_samples(tmp_path):
    runs = [train(load_config(CONV, [*QUIET, "channels_last=true", f"output_dir={tmp_path / name}"]), echo=None)
            for name in ("a", "b")]
    assert channels_last(runs[0].model)
    first, second = (r.model.state_dict() for r in runs)
    assert all(torch.equal(first[k], second[k]) for k in first)  # two runs, bit for bit

    def sample(model):
        return draw(model, 4, generator=torch.Generator().manual_seed(3)).data

    reference = sample(runs[0].model)
    reloaded = load_checkpoint(tmp_path / "a")
    assert channels_last(reloaded) and torch.equal(reference, sample(reloaded))
    exported = load_checkpoint(export(tmp_path / "a", tmp_path / "x"))  # safetensors wants contiguous
    assert channels_last(exported) and torch.equal(reference, sample(exported))


def test_a_value_that_is_not_a_boolean_is_refused_in_one_line():
    with pytest.raises(ConfigError, match="channels_last"):
        load_config(CONV, ["channels_last=sometimes"])


def test_the_memory_format_benchmark_times_each_variant_on_the_same_batches(capsys):
    """tests/benchmarks/bench_memory_format.py: one row a variant, the default first."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_memory_format", ROOT / "tests" / "benchmarks" / "bench_memory_format.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.measure("cgan-digits", ["default", "channels_last"], timed=1, rounds=1)
    assert [r[0] for r in rows] == ["default", "channels_last"] and all(r[1] > 0 for r in rows)
    with pytest.raises(SystemExit):
        bench.main(["--variants", "channels_last"])  # the baseline must come first
    assert "start with default" in capsys.readouterr().err
