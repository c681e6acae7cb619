"""White-box evasion attacks on a detector: FGSM and PGD under an L-infinity budget, in pixel space.

The attacker edits the image (values in [0, 1]) and the detector sees it through its own preprocessing
(crops and normalisation), so gradients flow through exactly what prediction does. The goal is evasion:
lower the fake logit of a fake image until it is called real.
"""
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.transforms import crop_boxes, with_mirror_views
from ..errors import DeepfakeError
from ..preprocessing import Preprocessing
from ..inference.forward import crop_averaged_logits


def differentiable_view(preprocessing: Preprocessing) -> Callable[[torch.Tensor], torch.Tensor]:
    """[3, H, W] pixels in [0, 1] -> [crops, 3, S, S] normalised crops, as EvalTransform makes them."""
    if preprocessing.global_view:
        raise DeepfakeError("the attacks cannot yet attack a two-view model (its whole-image view is not "
                            "differentiable here); attack each branch's own checkpoint")
    size = preprocessing.input_size
    mean = torch.tensor(preprocessing.mean).view(3, 1, 1)
    std = torch.tensor(preprocessing.std).view(3, 1, 1)

    def view(pixels: torch.Tensor) -> torch.Tensor:
        height, width = pixels.shape[-2:]
        target = preprocessing.resize or (size if min(height, width) < size else 0)
        if target and target != min(height, width):  # as fit_to_input, but differentiable
            scale = target / min(height, width)
            height, width = max(size, round(height * scale)), max(size, round(width * scale))
            pixels = F.interpolate(pixels.unsqueeze(0), size=(height, width), mode="bicubic",
                                   align_corners=False, antialias=True)[0]
        boxes = crop_boxes(width, height, size, preprocessing.eval_crops)
        crops = torch.stack([pixels[:, top:top + size, left:left + size] for left, top in boxes])
        return with_mirror_views((crops - mean.to(pixels)) / std.to(pixels), preprocessing)
    return view


def fake_logit(model: nn.Module, preprocessing: Preprocessing, pixels: torch.Tensor) -> torch.Tensor:
    crops = differentiable_view(preprocessing)(pixels)
    return crop_averaged_logits(model, crops, [len(crops)])[0]


def pgd_evasion(model: nn.Module, preprocessing: Preprocessing, pixels: torch.Tensor, epsilon: float,
                steps: int = 10, step_size: float = None) -> torch.Tensor:
    """Projected gradient descent on the fake logit within ||delta||_inf <= epsilon; steps=1 with
    step_size=epsilon is FGSM. Deterministic (no random start), so a sweep is reproducible."""
    if epsilon == 0:
        return pixels.clone()
    step_size = epsilon if steps == 1 else (step_size or 2.5 * epsilon / steps)
    model.eval()
    adversarial = pixels.clone().detach()
    for _ in range(steps):
        adversarial.requires_grad_(True)
        with torch.enable_grad():
            logit = fake_logit(model, preprocessing, adversarial)
            gradient, = torch.autograd.grad(logit, adversarial)
        with torch.no_grad():
            adversarial = adversarial - step_size * gradient.sign()
            adversarial = (pixels + (adversarial - pixels).clamp(-epsilon, epsilon)).clamp(0, 1)
    return adversarial.detach()


def fgsm_evasion(model: nn.Module, preprocessing: Preprocessing, pixels: torch.Tensor, epsilon: float
                 ) -> torch.Tensor:
    """Public API: FGSM, the one-step case of pgd_evasion, under the name the literature gives it (the stress
    sweep uses PGD; tests check that the two agree)."""
    return pgd_evasion(model, preprocessing, pixels, epsilon, steps=1)
