"""Video sample files as animations in TensorBoard.

The core shows a run's sample file in TensorBoard when it is an image or text
(``genloom.training.log_sample_file``) and leaves binary files out, so a video run's
``samples/epoch-NNN.gif`` would show nothing. This callback (given to every run through
the ``genloom_callbacks`` hook) logs each new GIF sample file, byte for byte, as an
image summary under the core's tag ``samples``: TensorBoard's image dashboard serves
the bytes as ``image/gif`` and the browser plays them. ``SummaryWriter.add_video``
would need moviepy to encode the same GIF again; the file on disk is already the
animation, so nothing is re-encoded and nothing beyond tensorboard is needed.

The core writes a grid after its last checkpoint (Lightning runs checkpoint callbacks
last), so the file of an epoch is logged at the start of the next epoch and the last
one when the fit ends, each at the global step it was drawn at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import Callback

#: the tag the core logs sample files under
TAG = "samples"


def gif_summary(path: Path, tag: str = TAG, proto: Any = None) -> Any:
    """An image ``Summary`` holding the GIF at ``path`` unchanged. ``proto`` is the
    ``summary_pb2`` module of the writer (tensorboard's, or tensorboardX's)."""
    from PIL import Image

    if proto is None:
        from tensorboard.compat.proto import summary_pb2 as proto
    data = path.read_bytes()
    with Image.open(path) as im:
        width, height = im.size
        channels = 1 if im.mode in ("L", "P") and _is_grey(im) else 3
    image = proto.Summary.Image(height=height, width=width, colorspace=channels, encoded_image_string=data)
    return proto.Summary(value=[proto.Summary.Value(tag=tag, image=image)])


def _is_grey(im: Any) -> bool:
    palette = im.getpalette() if im.mode == "P" else None
    if palette is None:
        return im.mode == "L"
    return all(palette[i] == palette[i + 1] == palette[i + 2] for i in range(0, len(palette) - 2, 3))


def log_gif(loggers: list[Any], path: Path, step: int) -> bool:
    """Write the GIF at ``path`` into every TensorBoard logger of the run; whether any."""
    from lightning.pytorch.loggers import TensorBoardLogger

    boards = [lg.experiment for lg in loggers if isinstance(lg, TensorBoardLogger)]
    for board in boards:
        if type(board).__module__.startswith("tensorboardX"):
            from tensorboardX.proto import summary_pb2 as proto
        else:
            from tensorboard.compat.proto import summary_pb2 as proto
        board._get_file_writer().add_summary(gif_summary(path, proto=proto), step)
        board.flush()
    return bool(boards)


class VideoSamplesInTensorBoard(Callback):
    """Logs the run's newest ``.gif`` sample file to TensorBoard once (see the module)."""

    def __init__(self) -> None:
        self.shown: tuple[Path, int] | None = None

    def _show(self, trainer: Any) -> None:
        from genloom.training import SampleGrids

        if not trainer.is_global_zero:
            return
        grids = next((c for c in trainer.callbacks if isinstance(c, SampleGrids)), None)
        path = None if grids is None else grids.last
        if path is None or path.suffix.lower() != ".gif" or not path.is_file():
            return
        key = (path, path.stat().st_mtime_ns)
        if key == self.shown:
            return
        self.shown = key
        log_gif(trainer.loggers, path, trainer.global_step)

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._show(trainer)

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        self._show(trainer)
