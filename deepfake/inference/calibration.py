"""Calibration: two numbers, fitted on validation logits, that make P(fake) mean what it says.

A network trained with cross-entropy is rarely calibrated: its 0.7 may mean that 90% of such images are
fake, or 55%. Platt scaling (Platt, 1999) maps each logit z to sigmoid(z / temperature + bias): the
temperature fixes the scale (temperature scaling, Guo et al., ICML 2017, is the bias-free case) and the bias
fixes a model that leans towards one class, which temperature alone cannot (the shipped model's first
calibration, temperature only, left its ECE at 0.064; with the bias it is 0.031). Both are monotone, so
ROC-AUC, average precision and the order of any ranked list stay exactly as they were. They are fitted on
the validation split (never on test data), stored in the checkpoint beside the threshold, and applied
wherever a logit becomes a probability: `fake_probability` is that one place. Fitting them and then choosing
the threshold on the calibrated probabilities is evaluation.metrics.calibrate_on_validation.
"""
from typing import Sequence, Tuple

import numpy as np
import torch

# A weak pull towards the identity map (temperature 1, bias 0): it keeps the fit finite on validation
# scores that separate the classes perfectly, and is negligible on anything else.
RIDGE = 1e-4
# Bounds on 1/temperature. An anti-informative model (ranking worse than chance) would want a negative
# scale; clamping keeps the map monotone increasing and flattens such a model's probabilities instead.
MIN_SCALE, MAX_SCALE = 1e-3, 1e3


def fake_probability(logits: torch.Tensor, temperature: float = 1.0, bias: float = 0.0) -> torch.Tensor:
    """Logits (positive = fake) -> calibrated P(fake), in float32 whatever precision the model ran in."""
    return torch.sigmoid(logits.float() / temperature + bias)


def fit_calibration(labels: Sequence[int], logits: Sequence[float]) -> Tuple[float, float]:
    """(temperature, bias) minimising the binary cross-entropy of sigmoid(logit / temperature + bias).

    A two-weight logistic regression on the logit: convex, so Newton's method from the identity map, with
    step halving, converges in a few iterations without an optimiser library. Labels of one class leave
    the map as it is: its scale is not identifiable from them."""
    labels = np.asarray(labels, dtype=float)
    logits = np.asarray(logits, dtype=float)
    if len(labels) == 0 or labels.min() == labels.max():
        return 1.0, 0.0
    features = np.stack([logits, np.ones_like(logits)], axis=1)
    identity = np.array([1.0, 0.0])

    def loss(weights: np.ndarray) -> float:
        z = features @ weights
        return float(np.mean(np.logaddexp(0.0, z) - labels * z) + RIDGE / 2 * np.sum((weights - identity) ** 2))

    weights = identity.copy()
    for _ in range(100):
        probabilities = 1.0 / (1.0 + np.exp(-np.clip(features @ weights, -500, 500)))
        gradient = features.T @ (probabilities - labels) / len(labels) + RIDGE * (weights - identity)
        curvature = probabilities * (1.0 - probabilities)
        hessian = (features * curvature[:, None]).T @ features / len(labels) + RIDGE * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        size, current = 1.0, loss(weights)
        while loss(weights - size * step) > current and size > 1e-10:
            size /= 2
        weights = weights - size * step
        if np.max(np.abs(size * step)) < 1e-12:
            break
    scale, bias = float(np.clip(weights[0], MIN_SCALE, MAX_SCALE)), float(weights[1])
    return 1.0 / scale, bias


THRESHOLD_RULES = ("balanced_accuracy", "fpr_5")


def choose_threshold(labels: Sequence[int], fake_probabilities: Sequence[float], rule: str = "balanced_accuracy"
                     ) -> float:
    """The decision threshold, chosen on validation data only.

    balanced_accuracy: maximise (TPR + TNR) / 2, i.e. Youden's J, robust to class imbalance.
    fpr_5: the lowest threshold that flags at most 5% of real images, for moderation queues where a false
    accusation costs more than a miss.
    """
    from sklearn import metrics as skm  # here: prediction imports this module, and never chooses a threshold

    labels = np.asarray(labels, dtype=int)
    scores = np.asarray(fake_probabilities, dtype=float)
    if rule not in THRESHOLD_RULES:
        raise ValueError(f"unknown threshold rule {rule!r}; choose from {THRESHOLD_RULES}")
    if labels.min() == labels.max():
        return 0.5
    false_positive_rate, true_positive_rate, thresholds = skm.roc_curve(labels, scores, drop_intermediate=False)
    thresholds = np.clip(thresholds, 0.0, 1.0)  # roc_curve's first threshold is +inf
    if rule == "balanced_accuracy":
        best = int(np.argmax(true_positive_rate - false_positive_rate))
    else:
        best = int(np.nonzero(false_positive_rate <= 0.05)[0][-1])
    return float(thresholds[best])


def calibrated_rule(threshold_rule: str) -> str:
    """How a checkpoint's threshold was chosen, in the words its model card records."""
    return f"{threshold_rule} on the validation split, after Platt scaling fitted on the same split"
