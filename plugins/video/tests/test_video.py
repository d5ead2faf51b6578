"""The video plugin: the kind round-trips, the data is seeded, the metrics see what they
claim, the model passes the conformance kit, and a tiny run trains, samples, predicts,
evaluates, resumes and exports through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from genloom_devkit.testing import Case, parametrize_with_checks

from genloom import DataInfo, Samples
from genloom.kinds import save_samples
from genloom_video.kinds import read_gif, read_video_file
from genloom_video.metrics import identity, motion
from genloom_video.moving import MovingMNIST, make_sequences, trajectory

TINY_INFO = DataInfo(kind="video", shape=(4, 1, 8, 8))
TINY = ["model.denoiser.channels=8", "model.denoiser.blocks=1", "model.timesteps=20",
        "sample.options.steps=2"]


def genloom(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "genloom", *args], capture_output=True, text=True,
                          timeout=timeout)


def on_grid(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    """Random clips whose values lie on the 8-bit grid a file can hold."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, generator=g).float() / 127.5 - 1


def test_gif_round_trip_is_lossless_and_png_holds_the_record(tmp_path):
    x = on_grid((5, 6, 1, 10, 12))
    gif = save_samples(Samples(x, kind="video"), tmp_path / "s.gif", record={"generated_by": "genloom"})
    assert torch.equal(read_video_file(gif, 5, (6, 1, 10, 12)), x)
    assert json.loads((tmp_path / "s.gif.genloom.json").read_text())["generated_by"] == "genloom"
    png = save_samples(Samples(x, kind="video"), tmp_path / "s.png", record={"generated_by": "genloom", "n": 5})
    from PIL import Image

    with Image.open(png) as im:
        strip = np.asarray(im)
        assert json.loads(im.info["genloom"])["n"] == 5
    # row 1, frame 2 of the filmstrip is sample 1's frame 2
    cell = strip[2 + 1 * 12 : 2 + 1 * 12 + 10, 2 + 2 * 14 : 2 + 2 * 14 + 12]
    assert np.array_equal(cell, ((x[1, 2, 0] + 1) * 127.5).round().byte().numpy())


def test_a_huge_gif_is_refused(tmp_path, monkeypatch):
    import genloom_video.kinds as kinds

    gif = save_samples(Samples(on_grid((1, 3, 1, 8, 8)), kind="video"), tmp_path / "s.gif")
    monkeypatch.setattr(kinds, "MAX_GIF_PIXELS", 100)
    with pytest.raises(Exception, match="refused"):
        read_gif(gif)


def test_trajectories_bounce_inside_the_frame_at_constant_speed():
    path = trajectory(np.random.default_rng(0), 200, room=10, speed=3.0)
    assert path.min() >= 0 and path.max() <= 10
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    assert np.median(steps) == pytest.approx(3.0)


def test_moving_mnist_is_seeded_and_splits_by_digit_image():
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"frames": 6, "size": 24, "digit_size": 12, "num_digits": 1, "speed": 2.0,
                            "sequences": 40})
    a = MovingMNIST(cfg).splits(0.1, 0.1, seed=3)
    b = MovingMNIST(cfg).splits(0.1, 0.1, seed=3)
    c = MovingMNIST(cfg).splits(0.1, 0.1, seed=4)
    assert a["train"].x.shape == (40, 6, 1, 24, 24) and len(a["test"].x) == 4
    assert torch.equal(a["train"].x, b["train"].x) and not torch.equal(a["train"].x, c["train"].x)
    assert a["train"].x.min() == -1 and a["train"].x.max() <= 1


def test_metrics_see_identity_and_motion():
    from genloom_video.moving import digits

    pool, labels = digits(14)
    v, _ = make_sequences(pool[::25], labels[::25], 30, frames=8, size=32, num_digits=1, speed=2.0, seed=0)
    real = torch.from_numpy(v).unsqueeze(2) * 2 - 1
    # a clip whose frames come from different clips: other digits, jumping about
    mixed = torch.stack([real[(torch.arange(8) * 7 + i) % 30, torch.arange(8)] for i in range(30)])
    assert identity(real, 14) > 0.85 and identity(mixed, 14) < identity(real, 14) - 0.2
    (a_real, s_real), (a_mixed, _) = motion(real), motion(mixed)
    assert s_real == pytest.approx(2.0, abs=0.5) and a_mixed > 3 * a_real


@parametrize_with_checks([Case("video_diffusion", TINY_INFO, [*TINY[:3]], id="video-diffusion")])
def test_video_conformance(case, check):
    check(case)


def test_prediction_keeps_the_given_first_frame_and_depends_on_it():
    model = Case("video_diffusion", TINY_INFO, TINY[:3]).build()
    torch.manual_seed(0)
    from genloom import Denoiser

    model.component(Denoiser).out[-1].weight.data.normal_()  # not the zero-initialised output
    first = on_grid((2, 1, 8, 8))

    def predict(context):
        return model.sample(2, sampler="video:predict", generator=torch.Generator().manual_seed(0),
                            context=context, steps=2).data

    out = predict(first)
    assert torch.equal(out[:, 0], first)
    assert torch.equal(out, predict(first))  # seeded
    assert not torch.equal(out[:, 1:], predict(-first)[:, 1:])  # the later frames read the first


def test_the_sampling_weights_follow_training_in_a_short_run():
    """A fixed EMA decay keeps decay^k of the random initial weights after k steps
    (0.999^300: 74%), so a few minutes of CPU training sampled noise; the ramped decay
    follows the trained weights early on and settles to model.ema_decay later."""
    from genloom import Denoiser

    from genloom.ema import warm_decay

    model = Case("video_diffusion", TINY_INFO, [*TINY[:3], "model.ema_decay=0.999"]).build()
    model.after_optimizer_step(None)  # the first update copies the initial weights
    with torch.no_grad():
        for p in model.denoiser.parameters():
            p.add_(1.0)  # training moves every weight by 1
    for _ in range(30):
        model.after_optimizer_step(None)
    for avg, new in zip(model.component(Denoiser).parameters(), model.denoiser.parameters()):
        assert torch.allclose(avg, new, atol=0.05)
    assert warm_decay(0.999, 0) == 0.1 and warm_decay(0.999, 10**5) == 0.999


def test_the_prediction_task_measures_continuations_of_held_out_first_frames():
    from genloom import ConfigError

    from genloom_video.metrics import Video, sampled_clips

    model = Case("video_diffusion", TINY_INFO, TINY[:3]).build()
    first = on_grid((3, 1, 8, 8))
    clips = sampled_clips(model, 3, first)
    assert torch.equal(clips[:, 0], first)
    assert not torch.equal(sampled_clips(model, 3)[:, 0], first)  # generate: from nothing
    assert Video(task="predict").task == "predict"
    with pytest.raises(ConfigError, match="video.task=next"):
        Video(task="next")


def test_a_given_first_frame_is_clean_in_the_clip_in_training_and_prediction(monkeypatch):
    """The temporal layers carry a given frame 0 to its neighbours only if the denoiser
    sees it clean where the clip's frame 0 is, in training and in video:predict alike;
    and a clean given frame is not regressed onto noise it does not hold."""
    from genloom import Denoiser

    model = Case("video_diffusion", TINY_INFO, [*TINY[:3], "model.context_dropout=0"]).build()
    seen, offset = [], [0.0]
    denoise = type(model.denoiser).denoise

    def spy(self, x, t, first, keep):
        seen.append((x.clone(), None if first is None else first.clone()))
        out = denoise(self, x, t, first, keep)
        out[:, 0] += offset[0]  # a wrong frame 0
        return out

    monkeypatch.setattr(type(model.denoiser), "denoise", spy)
    clips = on_grid((3, *TINY_INFO.shape))
    model.train()
    model.losses({"x": clips})
    assert torch.equal(seen[-1][0][:, 0], clips[:, 0]) and not torch.equal(seen[-1][0][:, 1], clips[:, 1])
    losses = []
    for offset[0] in (0.0, 100.0):  # the given frame 0's output does not count
        torch.manual_seed(0)
        losses.append(model.losses({"x": clips})["loss"].item())
    assert losses[0] == pytest.approx(losses[1])
    offset[0] = 0.0
    seen.clear()
    first = clips[:, 0]
    model.component(Denoiser).out[-1].weight.data.normal_()
    model.sample(3, sampler="video:predict", generator=torch.Generator().manual_seed(0), context=first, steps=3)
    assert len(seen) == 3 and all(torch.equal(x[:, 0], first) for x, _ in seen)


def test_temporal_attention_lets_every_frame_see_every_other():
    """The temporal convolutions reach two frames either side; with
    model.denoiser.attention=true frame 7 reads frame 0 in one denoiser call."""
    from omegaconf import OmegaConf

    from genloom_video.denoiser import SpaceTimeDenoiser

    torch.manual_seed(0)
    x = torch.randn(2, 8, 1, 8, 8)
    moved = x.clone()
    moved[:, 0] += 1.0
    t = torch.tensor([5, 5])
    reach = []
    for attention in (False, True):
        cfg = OmegaConf.create({"channels": 8, "blocks": 1, "prediction": "v", "attention": attention})
        net = SpaceTimeDenoiser(cfg, data_shape=(8, 1, 8, 8))
        with torch.no_grad():
            if attention:  # zero-initialised: the block starts as the net without it
                h = torch.randn(16, 16, 4, 4)
                assert torch.equal(net.low_attn[0](h, 8), h)
            for p in net.parameters():
                if not p.abs().sum():  # zero-initialised outputs: give them weights
                    p.normal_()
            reach.append(not torch.allclose(net(x, t)[:, 7], net(moved, t)[:, 7]))
    assert reach == [False, True]


def test_bad_input_is_one_line_exit_2(tmp_path):
    bad = genloom("train", "video-mnist", f"output_dir={tmp_path / 'r'}", "data.frames=0")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "data.frames=0" in bad.stderr
    pred = genloom("train", "video-mnist", f"output_dir={tmp_path / 'r'}", "model.denoiser.prediction=noise")
    assert pred.returncode == 2 and pred.stderr.count("\n") == 1 and "prediction=noise" in pred.stderr
    config = tmp_path / "folder.yaml"
    config.write_text(f"data: {{name: video_folder, root: {tmp_path / 'none'}}}\nmodel: {{name: video_diffusion}}\n")
    folder = genloom("train", str(config), f"output_dir={tmp_path / 'r'}")
    assert folder.returncode == 2 and folder.stderr.count("\n") == 1 and "data.root" in folder.stderr


def test_a_folder_of_gifs_is_a_dataset(tmp_path):
    from omegaconf import OmegaConf

    from genloom_video.folder import VideoFolder

    x = on_grid((1, 9, 1, 16, 16))
    save_samples(Samples(x, kind="video"), tmp_path / "a.gif")
    (tmp_path / "notes.txt").write_text("not a video")
    data = VideoFolder(OmegaConf.create({"root": str(tmp_path), "frames": 4, "size": 20}))
    clips, _ = data.load_arrays()
    assert clips.shape == (2, 4, 1, 20, 20)  # 9 frames: two clips of 4, the last frame dropped
    same = VideoFolder(OmegaConf.create({"root": str(tmp_path), "frames": 3, "size": 20})).load_arrays()[0]
    assert same.shape == (3, 3, 1, 20, 20)


@pytest.mark.slow
def test_a_tiny_run_trains_samples_predicts_evaluates_resumes_and_exports(tmp_path):
    run = tmp_path / "run"
    small = ["data.frames=4", "data.size=16", "data.digit_size=8", "data.sequences=64", "data.batch_size=16",
             "model.denoiser.channels=8", "model.timesteps=50", "sample.n=2", "sample.options.steps=2"]
    first = genloom("train", "video-mnist", f"output_dir={run}", "trainer.max_epochs=1", *small)
    assert first.returncode == 0, first.stderr
    assert (run / "samples" / "epoch-001.gif").is_file()
    out = tmp_path / "clips.gif"
    sampled = genloom("sample", str(run), "--n", "3", "--seed", "1", "--out", str(out), "steps=2")
    assert sampled.returncode == 0, sampled.stderr
    assert read_video_file(out, 3, (4, 1, 16, 16)).shape == (3, 4, 1, 16, 16)
    assert genloom("reproduce", str(out)).returncode == 0
    from PIL import Image

    frame = tmp_path / "first.png"
    Image.fromarray(np.full((16, 16), 255, dtype=np.uint8)).save(frame)
    pred = tmp_path / "pred.png"
    predicted = genloom("sample", str(run), "--n", "2", "--sampler", "video:predict", f"context={frame}",
                        "steps=2", "--out", str(pred))
    assert predicted.returncode == 0, predicted.stderr
    wrong = genloom("sample", str(run), "--sampler", "video:predict", f"context={tmp_path / 'x.png'}")
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1
    ev = genloom("evaluate", str(run), "--metric", "video", "--json")
    assert ev.returncode == 0, ev.stderr
    scores = json.loads(ev.stdout)
    assert {"test/frame_fid", "test/identity_floor", "test/smoothness_floor"} <= set(scores)
    pred_ev = genloom("evaluate", str(run), "--metric", "video", "--set", "video.task=predict", "--json")
    assert pred_ev.returncode == 0, pred_ev.stderr
    assert json.loads(pred_ev.stdout)["test/frame_fid"] != scores["test/frame_fid"]
    resumed = genloom("train", "video-mnist", f"output_dir={run}", "--resume", "trainer.max_epochs=2", *small)
    assert resumed.returncode == 0, resumed.stderr
    assert (run / "samples" / "epoch-002.gif").is_file()
    exported = genloom("export", str(run), str(tmp_path / "export"))
    assert exported.returncode == 0, exported.stderr
    again = genloom("sample", str(tmp_path / "export"), "--n", "1", "--out", str(tmp_path / "e.gif"), "steps=2")
    assert again.returncode == 0, again.stderr


def test_video_samples_are_animations_in_tensorboard(tmp_path):
    """The core leaves binary sample files out of TensorBoard; the plugin's callback logs
    each GIF as it is on disk, so the image dashboard plays it."""
    pytest.importorskip("tensorboard", reason="TensorBoard is optional (the dev extra installs it)")
    import io

    from PIL import Image
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from genloom import load_config, train

    run = tmp_path / "run"
    cfg = load_config("video-mnist", [
        "data.frames=3", "data.size=12", "data.digit_size=6", "data.sequences=16", "data.batch_size=8",
        "model.denoiser.channels=4", "model.timesteps=10", "trainer.max_epochs=2",
        "trainer.enable_progress_bar=false", "checkpoint.every_n_epochs=0", "sample.every_n_epochs=1",
        "sample.n=2", "sample.options.steps=2", f"output_dir={run}"])
    result = train(cfg, echo=None)
    board = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0})
    board.Reload()
    shown = board.Images("samples")
    files = sorted((run / "samples").glob("epoch-*.gif"))
    assert len(files) == 2
    assert [e.step for e in shown] == [result.trainer.global_step // 2, result.trainer.global_step]
    for event, gif in zip(shown, files):
        assert event.encoded_image_string == gif.read_bytes()
        with Image.open(io.BytesIO(event.encoded_image_string)) as im:
            assert im.format == "GIF" and im.n_frames == 3
