"""The default detector: a small VGG-style CNN that keeps full resolution in its first block.

Generator traces live in the highest frequencies (CNNDetection, NPR), so the first block convolves at the
input resolution before any pooling; the head pools globally, so the network accepts any crop size.
Output is one logit per image (positive = fake); the sigmoid is applied only at the edge (inference).
"""
from dataclasses import dataclass
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..registry import register_model
from .base import DetectorModel


@dataclass(frozen=True)
class ArtifactCNNConfig:
    channels: Tuple[int, ...] = (16, 32, 64, 128)
    hidden: int = 64
    dropout: float = 0.3
    residual_input: bool = False  # feed NPR's residual (image minus its 2x down-up copy) beside the RGB
    norm: str = "batch"  # a key of NORMALIZATIONS


# GroupNorm does not look across the batch, so a data-parallel run on CPUs (no SyncBatchNorm there) takes
# exactly the single-process step; BatchNorm trains faster and is the default.
NORMALIZATIONS = {
    "batch": nn.BatchNorm2d,
    "group": lambda channels: nn.GroupNorm(min(4, channels), channels),
}


def conv_norm_relu(in_channels: int, out_channels: int, norm: str = "batch") -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        NORMALIZATIONS[norm](out_channels),
        nn.ReLU(inplace=True),
    )


def neighbouring_pixel_residual(images: torch.Tensor) -> torch.Tensor:
    """NPR (Tan et al., CVPR 2024): what nearest-neighbour 2x up-sampling cannot explain.

    Generators up-sample; the correlation they leave between neighbouring pixels shows up in this residual
    whatever the image content is, which is why it transfers across generators.
    """
    height, width = images.shape[-2:]
    down = F.interpolate(images, scale_factor=0.5, mode="nearest")
    return images - F.interpolate(down, size=(height, width), mode="nearest")


class ArtifactCNN(DetectorModel):
    accepts_any_size = True  # global pooling: whole images can be scored or explained at native size
    splits_at_head = True  # head(embed(images)): adaptation can retrain the head alone on frozen features

    def __init__(self, config: ArtifactCNNConfig = ArtifactCNNConfig()):
        super().__init__()
        self.residual_input = config.residual_input
        blocks, in_channels = [], 6 if config.residual_input else 3
        for out_channels in config.channels:
            blocks += [conv_norm_relu(in_channels, out_channels, config.norm),
                       conv_norm_relu(out_channels, out_channels, config.norm), nn.MaxPool2d(2)]
            in_channels = out_channels
        self.features = nn.Sequential(*blocks)
        self.feature_dim = 2 * in_channels
        # Average and max pooling together: an artifact can be spread thinly or sit in one spot.
        self.head = nn.Sequential(
            nn.Linear(2 * in_channels, config.hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden, 1),
            nn.Flatten(0),  # [B, 1] -> [B]: the head alone gives logits (no weights, so checkpoints are unchanged)
        )

    @property
    def cam_layer(self) -> nn.Conv2d:
        """The layer Grad-CAM reads: the last convolution, the finest map that has seen the most."""
        return [m for m in self.features.modules() if isinstance(m, nn.Conv2d)][-1]

    def pooled_features(self, images: torch.Tensor) -> torch.Tensor:
        """[B, feature_dim]: what the head reads, and what a fused model takes from this branch."""
        if self.residual_input:
            images = torch.cat([images, neighbouring_pixel_residual(images)], dim=1)
        feature_map = self.features(images)
        return torch.cat([feature_map.mean(dim=(2, 3)), feature_map.amax(dim=(2, 3))], dim=1)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return self.pooled_features(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.pooled_features(images))


@register_model
def artifact_cnn(channels=(16, 32, 64, 128), hidden: int = 64, dropout: float = 0.3,
                 residual_input: bool = False, norm: str = "batch") -> ArtifactCNN:
    return ArtifactCNN(ArtifactCNNConfig(tuple(channels), hidden, dropout, residual_input, norm))


@register_model
def artifact_cnn_deep(channels=(16, 32, 64, 128, 256), hidden: int = 64, dropout: float = 0.3,
                      residual_input: bool = False, norm: str = "batch") -> ArtifactCNN:
    """A fifth block, so that each final feature sees 156 px: all of a 128-px whole-image view (artifact_cnn's
    see 76 px, about half of it), for a quarter more FLOPs (0.54 GFLOPs a view, not 0.43) and 1.2M parameters.
    Whole images are told apart by their composition as much as by their pixels (weights/MODEL_CARD.md)."""
    return ArtifactCNN(ArtifactCNNConfig(tuple(channels), hidden, dropout, residual_input, norm))


@register_model
def artifact_cnn_tiny(channels=(8, 16), hidden: int = 16, dropout: float = 0.0, norm: str = "group") -> ArtifactCNN:
    """A few thousand parameters: for tests and smoke runs, not for detection. GroupNorm, so that the
    data-parallel test can demand the single-process weights exactly."""
    return ArtifactCNN(ArtifactCNNConfig(tuple(channels), hidden, dropout, norm=norm))
