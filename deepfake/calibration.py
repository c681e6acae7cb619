"""Temperature scaling (Guo et al., ICML 2017): one number, fitted on validation logits, that makes P(fake) honest.

A network trained with cross-entropy is rarely calibrated: its 0.7 may mean 90% of such images are fake, or
55%. Dividing every logit by one temperature T > 0 fixes the scale without touching the ranking, so ROC-AUC,
average precision and the order of any ranked list stay exactly as they were. T is fitted on the validation
split (never on test data), stored in the checkpoint beside the threshold, and applied wherever a logit
becomes a probability: `fake_probability` is that one place.
"""
from typing import Sequence

import numpy as np
import torch

# Bounds on 1/T. An anti-informative model (ranking worse than chance) would want a negative inverse
# temperature; clamping keeps T positive, which flattens such a model's probabilities towards 0.5 instead.
MIN_INVERSE_TEMPERATURE, MAX_INVERSE_TEMPERATURE = 1e-3, 1e3


def fake_probability(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Logits (positive = fake) -> calibrated P(fake), in float32 whatever precision the model ran in."""
    return torch.sigmoid(logits.float() / temperature)


def fit_temperature(labels: Sequence[int], logits: Sequence[float]) -> float:
    """The temperature that minimises the binary cross-entropy of sigmoid(logit / T) on these labels.

    The loss is convex in b = 1/T (a one-weight logistic regression without bias), so its derivative,
    mean((sigmoid(b z) - y) z), increases with b: bisection on the derivative's sign, in log space, finds
    the minimum to float precision without an optimiser or a starting guess. Returns 1.0 (no change) when
    the labels hold one class, since the scale then is not identifiable."""
    labels = np.asarray(labels, dtype=float)
    logits = np.asarray(logits, dtype=float)
    if len(labels) == 0 or labels.min() == labels.max():
        return 1.0

    def slope(inverse_temperature: float) -> float:
        probabilities = 1.0 / (1.0 + np.exp(-np.clip(inverse_temperature * logits, -500, 500)))
        return float(np.mean((probabilities - labels) * logits))

    low, high = np.log(MIN_INVERSE_TEMPERATURE), np.log(MAX_INVERSE_TEMPERATURE)
    if slope(np.exp(low)) >= 0:
        return 1.0 / MIN_INVERSE_TEMPERATURE
    if slope(np.exp(high)) <= 0:
        return 1.0 / MAX_INVERSE_TEMPERATURE
    for _ in range(100):
        middle = (low + high) / 2
        if slope(np.exp(middle)) < 0:
            low = middle
        else:
            high = middle
    return float(np.exp(-(low + high) / 2))
