"""The head's training: a few hundred AdamW steps on frozen features, each batch the new images' crops and the
replay set's, the replay crops also held to the base head's logits (learning without forgetting) and every weight
pulled weakly towards the base head's (L2-SP). Seeded: the same features and seed give the same head."""
import copy
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..training.feature_cache import FeatureSet


@dataclass(frozen=True)
class AdaptSettings:
    steps: int = 300
    lr: float = 1e-3
    new_per_step: int = 32  # crops of the new images per step
    replay_per_step: int = 64  # crops of the replay set per step
    anchor: float = 1e-2  # L2-SP: the pull towards the base head's weights
    # > 0: the replay crops' logits are also held to the base head's (squared error, this weight), keeping the
    # old ranking; 0: labels alone, which re-fits them and lost six times more on other families.
    preserve: float = 1.0
    seed: int = 0


def fit_head(head: nn.Module, new: FeatureSet, replay: FeatureSet, settings: AdaptSettings = AdaptSettings(),
             on_step: Callable[[], None] = lambda: None) -> nn.Module:
    """A copy of `head` trained on the new crops and the replay crops (AdaptSettings says how)."""
    with torch.random.fork_rng(devices=[]):
        # The head's dropout draws from torch's global generator: seeded here (and the caller's state restored
        # after), so the same images and seed give the same file, byte for byte.
        torch.manual_seed(settings.seed)
        return _fit_head(head, new, replay, settings, on_step)


def _fit_head(head: nn.Module, new: FeatureSet, replay: FeatureSet, settings: AdaptSettings,
              on_step: Callable[[], None]) -> nn.Module:
    generator = torch.Generator().manual_seed(settings.seed)
    head = copy.deepcopy(head).train()
    anchors = [parameter.detach().clone() for parameter in head.parameters()]
    optimizer = torch.optim.AdamW(head.parameters(), lr=settings.lr, weight_decay=0.0)
    new_labels, replay_labels = new.crop_labels(), replay.crop_labels()
    with torch.no_grad():
        base_logits = head.eval()(replay.features).reshape(-1)
    head.train()
    for _ in range(settings.steps):
        picked_new = torch.randint(len(new_labels), (settings.new_per_step,), generator=generator)
        picked_old = torch.randint(len(replay_labels), (settings.replay_per_step,), generator=generator)
        # One batch of both, each crop weighing the same: the new images' share of the loss is their share of it.
        features = torch.cat([new.features[picked_new], replay.features[picked_old]])
        logits = head(features).reshape(-1)
        loss = F.binary_cross_entropy_with_logits(logits, torch.cat([new_labels[picked_new],
                                                                     replay_labels[picked_old]]))
        if settings.preserve:
            loss = loss + settings.preserve * F.mse_loss(logits[len(picked_new):], base_logits[picked_old])
        loss = loss + settings.anchor * sum(((p - a) ** 2).sum() for p, a in zip(head.parameters(), anchors))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        on_step()
    return head.eval()
