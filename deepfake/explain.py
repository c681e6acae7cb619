"""Grad-CAM heatmaps: which regions of an image drove its verdict (captum's LayerGradCam).

The map is taken on the model's last convolution, for the logit of the verdict the model gave on this
view (fake, or real as the negated fake logit). Models that accept any input size
(artifact_cnn) are explained on the whole image at native resolution; fixed-size ones (MesoNet) on the
crop they score.
"""
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import colormaps
from PIL import Image

from .inference import Detector
from .transforms import fit_to_input, to_normalized_tensor, with_mirror_views

# Larger photos are explained on their central 1024x1024 pixels: resizing would erase the very traces
# being explained, and a 12-megapixel backward pass needs gigabytes.
MAX_EXPLAINED_SIDE = 1024


def grad_cam(detector: Detector, image: Image.Image) -> "tuple[Image.Image, np.ndarray]":
    """(the image region explained, a heatmap in [0, 1] of the same size)."""
    from captum.attr import LayerGradCam

    preprocessing = detector.card.preprocessing
    view = fit_to_input(image, preprocessing)
    if getattr(detector.model, "accepts_any_size", False):
        width, height = min(view.width, MAX_EXPLAINED_SIDE), min(view.height, MAX_EXPLAINED_SIDE)
    else:
        width = height = preprocessing.input_size
    left, top = (view.width - width) // 2, (view.height - height) // 2
    view = view.crop((left, top, left + width, top + height))
    inputs = to_normalized_tensor(preprocessing)(view).unsqueeze(0).to(detector.device)
    with torch.no_grad():
        views = with_mirror_views(inputs, preprocessing)  # the verdict prediction gives this view
        called_fake = detector.calls_fake(detector.probability_from_logits(detector.model(views).mean()).item())
    # Explain the verdict: evidence for "fake" when called fake, for "real" (the negated logit) otherwise;
    # a real verdict explained on the fake logit would be an all-zero map.
    direction = 1.0 if called_fake else -1.0
    inputs.requires_grad_(True)
    explainer = LayerGradCam(lambda batch: direction * detector.model(batch), detector.model.cam_layer)
    with torch.enable_grad():
        attribution = explainer.attribute(inputs, relu_attributions=True)
    heatmap = F.interpolate(attribution.detach().float(), size=inputs.shape[-2:], mode="bilinear",
                            align_corners=False)[0, 0].cpu().numpy()
    peak = heatmap.max()
    return view, (heatmap / peak if peak > 0 else heatmap)


def overlay(view: Image.Image, heatmap: np.ndarray, opacity: float = 0.45) -> Image.Image:
    colours = (colormaps["jet"](heatmap)[..., :3] * 255).astype(np.uint8)
    return Image.blend(view.convert("RGB"), Image.fromarray(colours), opacity)


NO_EVIDENCE = "flat map: no region moved the score either way (the model sees nothing it knows here)"


def save_explanation(detector: Detector, image: Image.Image, source: Path, out_dir: Path) -> "tuple[Path, str]":
    """Write `<name>.gradcam.png` into out_dir; returns its path and a note when the map is flat.

    A flat map is not painted over the image: a uniform colour would look like evidence."""
    view, heatmap = grad_cam(detector, image)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{source.stem}.gradcam.png"
    flat = heatmap.max() <= 0
    (view if flat else overlay(view, heatmap)).save(path)
    return path, NO_EVIDENCE if flat else ""
