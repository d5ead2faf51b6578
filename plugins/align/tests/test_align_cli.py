"""``genloom align`` end to end (in-process) and its one-line errors (exit 2)."""

import json

import pytest
import torch

from genloom import load_checkpoint, load_config, save_model
from genloom.build import build_dataset, build_model
from genloom.cli import main


def run(capsys, *args):
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def ok(capsys, *args):
    try:
        main([*args])
    except SystemExit as exc:  # --help exits 0; a failure is a bug here
        assert exc.code in (0, None), capsys.readouterr().err
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def vae_export(tmp_path_factory):
    cfg = load_config(None, ["model.name=vae", "data.name=digits"], check_trainer=False)
    dataset = build_dataset(cfg)
    return save_model(build_model(cfg, dataset.info), tmp_path_factory.mktemp("vae") / "vae")


def test_bad_input_is_one_line_exit_2_and_keeps_what_is_on_disk(tiny_lm, vae_export, tmp_path, capsys):
    code, _, err = run(capsys, "align", "dpo", str(tiny_lm), str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "o"))
    assert code == 2 and err.startswith("error: pairs file") and "does not exist" in err
    assert len(err.strip().splitlines()) == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "chosen": "b", "rejected": "c"}\n\n{"prompt": "a", "chosen": 3}\n')
    code, _, err = run(capsys, "align", "dpo", str(tiny_lm), str(bad), "--out", str(tmp_path / "o"))
    assert code == 2 and f"{bad}:3: field 'chosen'" in err and len(err.strip().splitlines()) == 1
    bad.write_text('{"prompt": "a", "chosen": "b", "rejected": "c"}\n{"prompt": \n')
    code, _, err = run(capsys, "align", "reward", str(tiny_lm), str(bad), "--out", str(tmp_path / "r"))
    assert code == 2 and f"{bad}:2: not valid JSON" in err
    good = tmp_path / "good.jsonl"
    good.write_text('{"prompt": "the ", "chosen": "cat", "rejected": "bat"}\n' * 3)
    code, _, err = run(capsys, "align", "dpo", str(vae_export), str(good), "--out", str(tmp_path / "o"))
    assert code == 2 and "is a 'vae:vae' model, not an autoregressive language model" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    code, _, err = run(capsys, "align", "rlhf", str(vae_export), "--judge", "keyword", "--prompt", "a",
                       "--out", str(tmp_path / "o"))
    assert code == 2 and "not an autoregressive language model" in err
    code, _, err = run(capsys, "align", "pairs", str(tiny_lm), "--judge", "wordcount", "--prompt", "a",
                       "--out", str(tmp_path / "p.jsonl"))
    assert code == 2 and "--judge" in err and "wordcount" in err
    code, _, err = run(capsys, "align", "rlhf", str(tiny_lm), "--prompt", "a", "--out", str(tmp_path / "o"))
    assert code == 2 and "exactly one of --reward" in err
    # an existing result is never replaced without --force
    code, _, err = run(capsys, "align", "dpo", str(tiny_lm), str(good), "--out", str(tiny_lm))
    assert code == 2 and "--force" in err and (tiny_lm / "model.safetensors").is_file()
    code, _, err = run(capsys, "align", "merge", str(tiny_lm), str(tmp_path / "none.safetensors"),
                       str(tmp_path / "m"))
    assert code == 2 and "adapter file" in err and "does not exist" in err


def test_pairs_then_reward_then_dpo_then_rlhf_from_the_command_line(tiny_lm, tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    out = ok(capsys, "align", "pairs", str(tiny_lm), "--judge", "keyword", "--option", "word=a",
             "--prompt", "the ", "--prompt", "a ", "--n", "12", "--max-new-tokens", "8",
             "--out", str(pairs))
    lines = [json.loads(line) for line in pairs.read_text().splitlines()]
    assert len(lines) == 12 and "wrote 12 pairs" in out
    assert all(row["chosen"].count("a") > row["rejected"].count("a") for row in lines)
    out = ok(capsys, "align", "reward", str(tiny_lm), str(pairs), "--out", str(tmp_path / "rm"),
             "--steps", "20")
    assert "held_out_accuracy" in out and (tmp_path / "rm" / "reward.safetensors").is_file()
    out = ok(capsys, "align", "dpo", str(tiny_lm), str(pairs), "--out", str(tmp_path / "dpo"),
             "--steps", "4", "--log-every", "2", "--lr", "1e-3")
    assert "step     4  loss" in out and "held-out: loss" in out and "kl" in out
    aligned = load_checkpoint(tmp_path / "dpo")
    base = load_checkpoint(tiny_lm)
    assert any(not torch.equal(a, b) for a, b in zip(aligned.state_dict().values(), base.state_dict().values()))
    out = ok(capsys, "align", "rlhf", str(tiny_lm), "--reward", str(tmp_path / "rm"), "--prompt", "the ",
             "--out", str(tmp_path / "rl"), "--steps", "2", "--log-every", "1", "--max-new-tokens", "6")
    assert "step     2  reward" in out and "entropy" in out
    assert load_checkpoint(tmp_path / "rl").info.vocab_size == base.info.vocab_size
    assert ok(capsys, "sample", str(tmp_path / "rl"), "--prompt", "the ", "--max-new-tokens", "5")


def test_lora_finetune_then_merge_equals_base_plus_adapters(tiny_lm, tmp_path, capsys):
    out = ok(capsys, "align", "finetune", str(tiny_lm), "--rank", "2", "--steps", "5", "--lr", "1e-2",
             "--out", str(tmp_path / "lora"), "--eval-windows", "4")
    assert "trainable_parameters" in out and "bpc_after" in out
    adapters = tmp_path / "lora" / "adapters.safetensors"
    summary = json.loads((tmp_path / "lora" / "align.json").read_text())
    # width 32, 2 layers: qkv (32 -> 96), proj (32 -> 32), mlp (32 -> 128, 128 -> 32), rank 2
    assert summary["trainable_parameters"] == 2 * 2 * ((32 + 96) + (32 + 32) + (32 + 128) + (128 + 32))
    ok(capsys, "align", "merge", str(tiny_lm), str(adapters), str(tmp_path / "merged"))
    from genloom_compress.lora import load_adapters

    on_top = load_checkpoint(tiny_lm)
    load_adapters(on_top.net, adapters)
    merged = load_checkpoint(tmp_path / "merged")
    x = torch.randint(0, merged.info.vocab_size, (2, 16))
    with torch.no_grad():
        torch.testing.assert_close(merged.net.step(x)[0], on_top.net.step(x)[0], atol=1e-5, rtol=0)
        assert (merged.net.step(x)[0] - load_checkpoint(tiny_lm).net.step(x)[0]).abs().max() > 1e-4


def test_main_runs_twice_in_one_process_without_a_command_warning(capsys):
    # a plugin's command group re-added by a second main() is its own, not a clash
    for _ in range(2):
        try:
            main(["align", "--help"])
        except SystemExit as exc:
            assert exc.code in (0, None)
        out = capsys.readouterr()
        assert "dpo" in out.out and "warning" not in out.err
