"""Changes that cut the training loop's cost per step keep what they replaced."""

from __future__ import annotations

from lightning.pytorch.callbacks import ModelCheckpoint

from genloom.run_files import RunModelCheckpoint


def test_the_periodic_checkpoints_state_key_is_lightnings_and_built_once(tmp_path):
    """Lightning reads ``state_key`` for every hook it calls; it is built once, and stays
    the key of Lightning's own class, so checkpoints saved before resume quietly."""
    args = dict(dirpath=str(tmp_path), monitor="step", mode="max", every_n_epochs=10)
    ours = RunModelCheckpoint(**args)
    assert ours.state_key == ModelCheckpoint(**args).state_key
    assert ours.state_key is ours.state_key


def test_only_the_hooks_a_plugin_callback_defines_are_guarded():
    """Every hook Lightning calls on a wrapped no-op costs a call a step; a hook the
    plugin defines is still guarded (a StopIteration from it is a PluginError)."""
    import pytest
    from lightning.pytorch.callbacks import Callback

    from genloom.errors import PluginError
    from genloom.training import _guard_stop_iteration

    class Plugin(Callback):
        def on_train_batch_end(self, *args, **kwargs):
            raise StopIteration("done")

    callback = _guard_stop_iteration(Plugin(), "someplugin")
    assert "on_train_batch_start" not in vars(callback)  # Callback's no-op, left alone
    with pytest.raises(PluginError, match="someplugin"):
        callback.on_train_batch_end(None, None)


def test_a_dict_batch_moves_like_lightnings_move_and_anything_else_goes_to_lightning():
    import torch
    from lightning.fabric.utilities.apply_func import move_data_to_device

    from genloom import GenerativeModel
    from genloom.lightning_module import TrainingModule

    module = TrainingModule(GenerativeModel())
    cpu = torch.device("cpu")
    batch = {"x": torch.arange(6.0).reshape(2, 3), "y": torch.tensor([1, 2])}
    moved = module.transfer_batch_to_device(batch, cpu, 0)
    expected = move_data_to_device(batch, cpu)
    assert moved.keys() == expected.keys()
    assert all(torch.equal(moved[k], expected[k]) and moved[k].dtype == expected[k].dtype for k in moved)
    mixed = {"x": torch.ones(2), "text": ["a", "b"]}  # not all tensors: Lightning's walk
    assert module.transfer_batch_to_device(mixed, cpu, 0)["text"] == ["a", "b"]
