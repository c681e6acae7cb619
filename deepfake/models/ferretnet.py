"""FerretNet (Liang et al., NeurIPS 2025): a published local-pixel-dependency detector, run here as a peer.

The network never sees the image itself, only its local pixel dependency (LPD): each pixel minus the median of
its eight neighbours (zero padding at the border). Upsampling in a generator makes neighbouring pixels depend on
each other in ways a camera's do not, and that residual keeps little of the scene. A small residual CNN reads it:
two conv-BN-ReLU layers, two stages of dilated depthwise blocks, a 1x1 conv, global average pooling, one logit.

Layer for layer the authors' code (github.com/xigua7105/FerretNet, Apache-2.0), with its module names, so the
published state dicts load as they are (`python -m deepfake.convert ferretnet ferretnet-s-median-3.pth OUT`).
Their preprocessing is part of the checkpoint the converter writes: a 256x256 crop at native resolution, never
resized, normalised with CLIP's mean and std.
"""
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..checkpoint import ModelCard, save_model
from ..errors import DeepfakeError
from ..preprocessing import Preprocessing
from ..registry import create_model, register_model
from .base import DetectorModel

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
FERRETNET_PREPROCESSING = Preprocessing(input_size=256, mean=CLIP_MEAN, std=CLIP_STD, eval_crops=1, resize=0)


def local_pixel_dependency(images: torch.Tensor) -> torch.Tensor:
    """Each pixel minus the median of its 8 neighbours (3x3 window without its centre, zeros beyond the border).
    Of 8 values the median is the lower middle one (torch.median), as in the authors' code."""
    batch, channels, height, width = images.shape
    windows = F.unfold(F.pad(images, (1, 1, 1, 1)), kernel_size=3).view(batch, channels, 9, height * width)
    neighbours = windows[:, :, [0, 1, 2, 3, 5, 6, 7, 8]]
    return images - neighbours.median(dim=2).values.view(batch, channels, height, width)


class DilatedDepthwise(nn.Module):
    """Two depthwise 3x3 convolutions side by side (dilation 1 and 2, summed), then a 1x1 that mixes channels."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, groups=in_channels, bias=False)
        self.conv2 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=2, dilation=2, groups=in_channels,
                               bias=False)
        self.conv3 = nn.Conv2d(out_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(self.conv1(x) + self.conv2(x))


class SeparableConv(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.depth_wise = nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False)
        self.point_wise = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.point_wise(self.depth_wise(x))


class DilatedBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.layers = nn.Sequential(DilatedDepthwise(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels),
                                    nn.ReLU(inplace=True), SeparableConv(out_channels), nn.BatchNorm2d(out_channels))
        self.shortcut = (nn.Identity() if stride == 1 and in_channels == out_channels else
                         nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride), nn.BatchNorm2d(out_channels)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.layers(x) + self.shortcut(x))


def conv_bn_relu(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class FerretNet(DetectorModel):
    accepts_any_size = True  # global average pooling: a whole image of any size can be scored

    def __init__(self, width: int = 32, depths: Sequence[int] = (2, 2), dropout: float = 0.2):
        super().__init__()
        self.cbr1 = conv_bn_relu(3, width // 2, stride=1)
        self.cbr2 = conv_bn_relu(width // 2, width, stride=2)
        stages = []
        for depth in depths:
            stages.append(nn.Sequential(DilatedBlock(width, width * 2, stride=2),
                                        *[DilatedBlock(width * 2, width * 2, stride=1) for _ in range(depth - 1)]))
            width *= 2
        self.feature = nn.Sequential(*stages, nn.Conv2d(width, width, 1, bias=False))
        self.logit = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, 1))

    @property
    def cam_layer(self) -> nn.Conv2d:
        return self.feature[-1]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.feature(self.cbr2(self.cbr1(local_pixel_dependency(images))))
        return self.logit(features.mean(dim=(2, 3))).squeeze(1)


@register_model
def ferretnet_s(dropout: float = 0.2) -> FerretNet:
    """FerretNet-S: width 32, two stages of two blocks; about 128k parameters."""
    return FerretNet(width=32, depths=(2, 2), dropout=dropout)


def convert_ferretnet(pth_path, out_path, arch: str = None) -> ModelCard:
    """The authors' .pth (a dict whose `model` is the state dict, one logit: 1 = fake) as our checkpoint."""
    pth_path = Path(pth_path)
    if not pth_path.is_file():
        raise DeepfakeError(f"{pth_path}: no such file")
    arch = arch or "ferretnet_s"
    try:
        state = torch.load(pth_path, map_location="cpu", weights_only=True)
    except Exception as error:  # a pickle that is not plain tensors, or not a torch file at all
        raise DeepfakeError(f"{pth_path}: not a FerretNet checkpoint ({str(error).splitlines()[0]})") from None
    model = create_model(arch).eval()
    try:
        model.load_state_dict(state.get("model", state) if isinstance(state, dict) else state)
    except (RuntimeError, AttributeError) as error:
        raise DeepfakeError(f"{pth_path}: does not fit {arch} ({str(error).splitlines()[0]})") from None
    card = ModelCard(
        arch=arch, model_kwargs={}, preprocessing=FERRETNET_PREPROCESSING, threshold=0.5,
        threshold_rule="0.5, FerretNet's own (not chosen on our data)",
        training={"source": f"converted from FerretNet's published weights {pth_path.name} (Liang et al., "
                            f"NeurIPS 2025; github.com/xigua7105/FerretNet, Apache-2.0), trained on ProGAN's "
                            f"4-class set",
                  "data": []},
    )
    save_model(out_path, model, card)
    return card
