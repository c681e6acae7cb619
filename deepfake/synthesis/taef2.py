"""TAEF2, a tiny autoencoder with FLUX.2's latent interface (madebyollin/taesd, MIT), for aligned pseudo-fakes.

A real image passed through its encoder and decoder keeps its content and gains a latent decoder's traces
(nearest upsampling, smoothed fine texture), the traces every latent-diffusion generator leaves: a real photo and
its reconstruction differ only in the decoder (Rajan et al., ICLR 2025). The layout below is the one the state
dicts' names and shapes give (see ../shared/anchors/taef2/README.md). The weights are read from a folder at
training time and never ship with the detector.
"""
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..errors import DeepfakeError

ENCODER_FILE, DECODER_FILE = "taef2_encoder.pth", "taef2_decoder.pth"
CHANNELS, LATENT_CHANNELS = 64, 32


def conv(n_in: int, n_out: int, **kwargs) -> nn.Conv2d:
    return nn.Conv2d(n_in, n_out, 3, padding=1, **kwargs)


class Block(nn.Module):
    """conv-ReLU-conv-ReLU-conv plus the input, then ReLU; a pooled block first adds a 1x1 bottleneck of its input."""

    def __init__(self, pooled: bool = False):
        super().__init__()
        self.conv = nn.Sequential(conv(CHANNELS, CHANNELS), nn.ReLU(), conv(CHANNELS, CHANNELS), nn.ReLU(),
                                  conv(CHANNELS, CHANNELS))
        self.pool = nn.Sequential(nn.Conv2d(CHANNELS, 4 * CHANNELS, 1, bias=False), nn.GroupNorm(4, 4 * CHANNELS),
                                  nn.ReLU(), nn.Conv2d(4 * CHANNELS, CHANNELS, 1, bias=False)) if pooled else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = x + self.pool(x)
        return torch.relu(self.conv(x) + x)


class SoftClamp(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / 3) * 3


def downsample() -> nn.Conv2d:
    return conv(CHANNELS, CHANNELS, stride=2, bias=False)


def encoder() -> nn.Sequential:
    return nn.Sequential(conv(3, CHANNELS), Block(), downsample(), Block(), Block(), Block(), downsample(),
                         Block(), Block(), Block(), downsample(), Block(True), Block(True), Block(True),
                         conv(CHANNELS, LATENT_CHANNELS))


def decoder() -> nn.Sequential:
    def upsample():
        return [nn.Upsample(scale_factor=2), conv(CHANNELS, CHANNELS, bias=False)]
    return nn.Sequential(SoftClamp(), conv(LATENT_CHANNELS, CHANNELS), nn.ReLU(), Block(True), Block(True),
                         Block(True), *upsample(), Block(), Block(), Block(), *upsample(), Block(), Block(), Block(),
                         *upsample(), Block(), conv(CHANNELS, 3))


class TAEF2(nn.Module):
    SCALE = 8  # the latent is 1/8 of the image's side

    def __init__(self):
        super().__init__()
        self.encoder, self.decoder = encoder(), decoder()
        self.bfloat16_compute = False  # bfloat16 convolutions: 2x faster where the CPU has them (from_folder)

    @classmethod
    def from_folder(cls, folder, bfloat16: bool = False) -> "TAEF2":
        folder = Path(folder)
        model = cls()
        for part, name in ((model.encoder, ENCODER_FILE), (model.decoder, DECODER_FILE)):
            path = folder / name
            if not path.is_file():
                raise DeepfakeError(f"{path}: no such file; the autoencoder pseudo-fakes need TAEF2's weights "
                                    f"(pass --taef2 DIR, the folder with {ENCODER_FILE} and {DECODER_FILE})")
            try:
                part.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            except (RuntimeError, OSError, ValueError) as error:
                raise DeepfakeError(f"{path}: not TAEF2's weights ({str(error).splitlines()[0]})") from None
        model.bfloat16_compute = bfloat16
        # channels_last: oneDNN's fast convolution layout on CPUs (1.3x here, the same arithmetic).
        return model.eval().to(memory_format=torch.channels_last)

    # Above this many pixels a photo is reconstructed in tiles: the activations of a whole 12-megapixel photo
    # (64 channels at full resolution) would take several GB. Each tile is computed with a margin of context
    # on every side and only its centre kept, so no seam (a trace of the tiling, not of the decoder) appears.
    WHOLE_MAX_PIXELS = 1024 * 1024
    TILE, MARGIN = 768, 64  # multiples of SCALE, so tiles fall on whole latent cells

    @torch.inference_mode()
    def reconstruct(self, image: Image.Image) -> Image.Image:
        """Encode and decode at the image's own scale; the image is first cut to whole latent cells (at most 7
        pixels per side). Large images go through in overlapping tiles, so memory stays bounded."""
        width, height = (side // self.SCALE * self.SCALE for side in image.size)
        if not width or not height:
            raise DeepfakeError(f"{width}x{height}: too small for the autoencoder (under {self.SCALE} pixels)")
        pixels = torch.from_numpy(np.asarray(image.crop((0, 0, width, height)), dtype=np.float32) / 255)
        x = pixels.permute(2, 0, 1)[None]
        if width * height <= self.WHOLE_MAX_PIXELS:
            out = self._round_trip(x)
        else:
            out = torch.empty_like(x)
            for top in range(0, height, self.TILE):
                for left in range(0, width, self.TILE):
                    bottom, right = min(top + self.TILE, height), min(left + self.TILE, width)
                    y0, x0 = max(top - self.MARGIN, 0), max(left - self.MARGIN, 0)
                    y1, x1 = min(bottom + self.MARGIN, height), min(right + self.MARGIN, width)
                    tile = self._round_trip(x[:, :, y0:y1, x0:x1])
                    out[:, :, top:bottom, left:right] = tile[:, :, top - y0:bottom - y0, left - x0:right - x0]
        return Image.fromarray((out[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8))

    def _round_trip(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=getattr(self, "bfloat16_compute", False)):
            return self.decoder(self.encoder(x)).float().clamp(0, 1)
