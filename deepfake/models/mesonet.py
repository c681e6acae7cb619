"""MesoNet (Afchar et al., WIFS 2018): Meso4 and MesoInception4, a published face-forgery baseline.

Layer for layer the Keras original (github.com/DariusAf/MesoNet, Apache-2.0), so its published weights
convert exactly (`python -m deepfake.convert mesonet`): ReLU comes before batch norm as there, batch norm
uses Keras' epsilon 1e-3, pooling pads like Keras' 'same', and the feature map is flattened in Keras'
height-width-channel order before the dense head. Input: 256x256 RGB scaled to [0, 1]. Modules are
created in the same order as the Keras layers, which is what the converter relies on.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..registry import register_model
from .base import DetectorModel

KERAS_BATCH_NORM_EPSILON = 1e-3


class ConvReluBatchNormPool(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, pool: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.norm = nn.BatchNorm2d(out_channels, eps=KERAS_BATCH_NORM_EPSILON)
        self.pool = nn.MaxPool2d(pool, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.norm(F.relu(self.conv(x))))


class InceptionLayer(nn.Module):
    """Four branches: 1x1; 1x1 -> 3x3; 1x1 -> 3x3 dilated 2; 1x1 -> 3x3 dilated 3; concatenated."""

    def __init__(self, in_channels: int, a: int, b: int, c: int, d: int):
        super().__init__()
        self.branch1 = nn.Conv2d(in_channels, a, 1)
        self.branch2 = nn.Sequential(nn.Conv2d(in_channels, b, 1), nn.ReLU(), nn.Conv2d(b, b, 3, padding=1))
        self.branch3 = nn.Sequential(nn.Conv2d(in_channels, c, 1), nn.ReLU(),
                                     nn.Conv2d(c, c, 3, padding=2, dilation=2))
        self.branch4 = nn.Sequential(nn.Conv2d(in_channels, d, 1), nn.ReLU(),
                                     nn.Conv2d(d, d, 3, padding=3, dilation=3))
        self.out_channels = a + b + c + d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1))


class InceptionBatchNormPool(nn.Module):
    def __init__(self, in_channels: int, a: int, b: int, c: int, d: int):
        super().__init__()
        self.inception = InceptionLayer(in_channels, a, b, c, d)
        self.norm = nn.BatchNorm2d(self.inception.out_channels, eps=KERAS_BATCH_NORM_EPSILON)
        self.pool = nn.MaxPool2d(2, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.norm(self.inception(x)))


class MesoNet(DetectorModel):
    def __init__(self, features: nn.Sequential, input_size: int = 256, dropout: float = 0.5):
        super().__init__()
        self.features = features
        final_side = -(-input_size // 32)  # pooled by 2, 2, 2 and 4
        self.head = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(16 * final_side * final_side, 16),
            nn.LeakyReLU(0.1),
            nn.Dropout(dropout),
            nn.Linear(16, 1),
        )

    @property
    def cam_layer(self) -> nn.Conv2d:
        return [m for m in self.features.modules() if isinstance(m, nn.Conv2d)][-1]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        feature_map = self.features(images)
        return self.head(feature_map.permute(0, 2, 3, 1).flatten(1)).squeeze(1)  # Keras flattens HWC


@register_model
def meso4(input_size: int = 256, dropout: float = 0.5) -> MesoNet:
    return MesoNet(nn.Sequential(
        ConvReluBatchNormPool(3, 8, 3, pool=2),
        ConvReluBatchNormPool(8, 8, 5, pool=2),
        ConvReluBatchNormPool(8, 16, 5, pool=2),
        ConvReluBatchNormPool(16, 16, 5, pool=4),
    ), input_size, dropout)


@register_model
def mesoinception4(input_size: int = 256, dropout: float = 0.5) -> MesoNet:
    first = InceptionBatchNormPool(3, 1, 4, 4, 2)
    second = InceptionBatchNormPool(first.inception.out_channels, 2, 4, 4, 2)
    return MesoNet(nn.Sequential(
        first,
        second,
        ConvReluBatchNormPool(second.inception.out_channels, 16, 5, pool=2),
        ConvReluBatchNormPool(16, 16, 5, pool=4),
    ), input_size, dropout)
