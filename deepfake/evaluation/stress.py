"""The stress sweep behind `evaluate.py --stress`: lighting, resolution and adversarial evasion.

Lighting and resolution are reported as ROC-AUC and accuracy per condition. Evasion is reported on fake
images the detector catches when clean: the share flipped to "real" by FGSM and PGD (10 steps) at each
L-infinity budget. An attacker with budget e can use any smaller one, so the rate at e counts an image
as evaded if any budget up to e evaded it: the curve can only rise with e, as the threat does.
The transfer row attacks another checkpoint (black box for ours) and scores the result on ours.
"""
import time
from typing import Dict, List, Optional, Sequence

import torch
from torchvision.transforms.v2 import functional as TF
from tqdm import tqdm

from ..data.images import load_rgb_image
from ..data.perturbations import STRESS_FAMILIES
from ..data.transforms import fit_to_input
from ..inference.detector import Detector
from .attacks import fake_logit, pgd_evasion
from .evaluate import perturbed_rows

EPSILONS = (1 / 255, 2 / 255, 4 / 255, 8 / 255)
ATTACKS = {"fgsm": 1, "pgd": 10}  # name -> steps


def _pixels(detector: Detector, path) -> torch.Tensor:
    image = fit_to_input(load_rgb_image(path), detector.card.preprocessing)
    return TF.to_dtype(TF.pil_to_tensor(image), torch.float32, scale=True)


def _is_fake(detector: Detector, pixels: torch.Tensor) -> bool:
    with torch.no_grad():
        logit = fake_logit(detector.model, detector.card.preprocessing, pixels)
        return detector.calls_fake(detector.probability_from_logits(logit).item())


def evasion_rows(detector: Detector, fake_paths: Sequence, epsilons=EPSILONS, source: Optional[Detector] = None,
                 show_progress: bool = True) -> List[Dict]:
    """Evasion rate per attack and budget, on the fakes the detector catches clean.

    With `source`, the perturbation is computed on the source model (transfer, black box for ours)."""
    attacker = source or detector
    caught = []
    for path in fake_paths:
        pixels = _pixels(detector, path)
        if _is_fake(detector, pixels):
            caught.append(pixels)
    rows = []
    for attack, steps in ATTACKS.items():
        evaded = [False] * len(caught)
        for epsilon in epsilons:
            bar = tqdm(caught, desc=f"{attack} eps {epsilon * 255:.0f}/255", unit="img", leave=False,
                       disable=not show_progress)
            for index, pixels in enumerate(bar):
                if not evaded[index]:
                    adversarial = pgd_evasion(attacker.model, attacker.card.preprocessing, pixels, epsilon, steps)
                    evaded[index] = not _is_fake(detector, adversarial)
            rows.append({"attack": attack + ("_transfer" if source else ""), "epsilon": f"{epsilon * 255:g}/255",
                         "n_attacked": len(caught),
                         "evasion_rate": sum(evaded) / len(caught) if caught else None})
    return rows


def spread(items: Sequence, count: int) -> list:
    """At most `count` items taken evenly from the list, so every folder of a multi-folder run is represented."""
    items = list(items)
    return items[:: max(1, len(items) // count)][:count] if count > 0 else items


def stress_sweep(detector: Detector, images, batch_size: int = 32, workers: Optional[int] = None,
                 stress_images: int = 400, attack_images: int = 50, transfer_from: Optional[Detector] = None,
                 show_progress: bool = True) -> Dict:
    """Seventeen re-scorings and the attacks: on `stress_images` images per class at most (0 = all), so the
    sweep takes minutes, not an hour, on two CPU cores."""
    started = time.time()
    per_class = stress_images // 2 if stress_images else 0
    sample = [image for label in (0, 1) for image in spread([i for i in images if i.label == label], per_class)]
    result = {family: perturbed_rows(detector, sample, perturbations, batch_size, workers, show_progress)
              for family, perturbations in STRESS_FAMILIES.items()}
    result["n_images"] = len(sample)
    fakes = spread([image.path for image in images if image.label == 1], attack_images)
    result["adversarial"] = evasion_rows(detector, fakes, show_progress=show_progress)
    if transfer_from is not None:
        result["transfer"] = evasion_rows(detector, fakes, source=transfer_from, show_progress=show_progress)
    result["runtime_seconds"] = round(time.time() - started, 1)
    return result
