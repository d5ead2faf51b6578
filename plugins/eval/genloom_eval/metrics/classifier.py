"""The shipped feature networks: one small digit classifier per built-in image dataset.

FID needs a feature network, and the usual one (Inception) is downloaded at run time.
genloom ships its own instead: a small CNN per image dataset (``digits``, ``mnist``),
trained by ``scripts/train_feature_nets.py`` with a fixed seed on the dataset's default
train split, and stored as ``genloom/metrics/features/<dataset>.safetensors`` (< 1 MB,
loaded without pickle). The file's metadata records the architecture, the seed, the
training steps and the accuracy on the default test split, which the tests reproduce.

Its penultimate layer (``features``) is what FID, KID and precision/recall read; its
logits are what the class histogram and the conditional accuracy read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from genloom.errors import ConfigError

FEATURES_DIR = Path(__file__).parent / "features"
#: the datasets a classifier ships for; ``images`` folders have none. ``captioned_mnist``
#: (digits moved and shrunk) has its own: the ``mnist`` one, trained on centred digits,
#: reads only about 60 % of them
SHIPPED = ("digits", "mnist", "captioned_mnist")


class DigitClassifier(nn.Module):
    """A small CNN for grey square images in [-1, 1]: strided convs, global pool, linear.

    ``size`` is the image side (8 or 28); images with a side of 16 or more get one more
    strided conv. ``feature_dim`` is the width of the pooled features.
    """

    def __init__(self, size: int, num_classes: int = 10, width: int = 32, feature_dim: int = 64) -> None:
        super().__init__()
        self.size, self.num_classes, self.width, self.feature_dim = size, num_classes, width, feature_dim
        layers: list[nn.Module] = [nn.Conv2d(1, width, 3, padding=1), nn.SiLU()]
        channels = width
        for out in ([width, 2 * width] if size >= 16 else []) + [2 * width, feature_dim]:
            layers += [nn.Conv2d(channels, out, 3, stride=2, padding=1), nn.SiLU()]
            channels = out
        self.body = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: Tensor) -> Tensor:
        """``(n, feature_dim)`` pooled features of images ``(n, 1, side, side)``; larger
        images (a padded dataset) are centre-cropped to the classifier's ``size``."""
        margin = (x.shape[-1] - self.size) // 2
        if margin > 0:
            x = x[..., margin : margin + self.size, margin : margin + self.size]
        return self.body(x.float())

    def forward(self, x: Tensor) -> Tensor:
        """``(n, num_classes)`` logits."""
        return self.head(self.features(x))

    def config(self) -> dict[str, int]:
        return {"size": self.size, "num_classes": self.num_classes, "width": self.width,
                "feature_dim": self.feature_dim}


class FeatureExtractor(nn.Module):
    """The classifier's features as an ``nn.Module`` for torchmetrics' FID/KID ``feature=``.

    ``num_features`` is set, so torchmetrics never pushes its 299x299 dummy image through.
    """

    def __init__(self, classifier: DigitClassifier) -> None:
        super().__init__()
        self.classifier = classifier
        self.num_features = classifier.feature_dim

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier.features(x)


def weights_path(dataset: str) -> Path:
    return FEATURES_DIR / f"{dataset}.safetensors"


def save_classifier(model: DigitClassifier, path: Path, metadata: dict[str, Any]) -> None:
    """Write weights and metadata (all values as strings, as safetensors requires)."""
    from safetensors.torch import save_file

    meta = {"config": json.dumps(model.config()), **{k: str(v) for k, v in metadata.items()}}
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata=meta)


def classifier_metadata(dataset: str) -> dict[str, str]:
    """The metadata stored with the shipped classifier of ``dataset``."""
    from safetensors import safe_open

    with safe_open(str(_existing(dataset)), framework="pt") as f:
        return dict(f.metadata())


def _existing(dataset: str) -> Path:
    path = weights_path(dataset)
    if not path.is_file():
        raise ConfigError(
            f"no shipped feature network for dataset '{dataset}' (there are: {', '.join(SHIPPED)}); "
            "use a data-space metric: --metric frechet --metric novelty"
        )
    return path


_LOADED: dict[str, DigitClassifier] = {}


def load_classifier(dataset: str) -> DigitClassifier:
    """The shipped classifier of ``dataset`` in eval mode (cached; loads no pickle)."""
    if dataset not in _LOADED:
        from safetensors.torch import load_file

        path = _existing(dataset)
        model = DigitClassifier(**json.loads(classifier_metadata(dataset)["config"]))
        model.load_state_dict(load_file(str(path)))
        _LOADED[dataset] = model.eval().requires_grad_(False)
    return _LOADED[dataset]


def dataset_name(model: Any) -> str:
    """The short name of the dataset a model was trained on (``genloom:mnist`` -> ``mnist``)."""
    return str(model.run_cfg.data.name).rpartition(":")[2]


def classifier_for(model: Any, metric: str) -> DigitClassifier:
    """The shipped classifier for ``model``'s dataset, or a one-line ConfigError naming ``metric``."""
    name = dataset_name(model)
    shape = tuple(model.info.shape)
    if name not in SHIPPED or not (
        len(shape) == 3 and shape[0] == 1 and shape[1] == shape[2]
        and shape[1] >= weights_shape(name) and (shape[1] - weights_shape(name)) % 2 == 0
    ):
        raise ConfigError(
            f"metric {metric} needs a shipped feature network, and there is none for dataset "
            f"'{name}' (only {', '.join(SHIPPED)}); use --metric frechet --metric novelty"
        )
    return load_classifier(name)


def weights_shape(dataset: str) -> int:
    """The image side the shipped classifier of ``dataset`` reads."""
    return {"digits": 8, "mnist": 28, "captioned_mnist": 28}[dataset]


def batched(fn: Any, x: Tensor, batch: int = 512) -> Tensor:
    """``fn`` over ``x`` in batches, without gradients."""
    with torch.no_grad():
        return torch.cat([fn(part) for part in x.split(batch)])
