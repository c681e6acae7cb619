"""Binary detection metrics from scikit-learn and calibration error.

Label 1 = fake is the positive class: precision is "of what we flagged, how much was fake", recall is
"of the fakes, how many we caught". A metric that is undefined on the data (ROC-AUC with one class) is
reported as None with the reason, never as a made-up number.
"""
from dataclasses import dataclass
from typing import Dict, Optional, Sequence

import numpy as np
import torch
from sklearn import metrics as skm

# The threshold rule lives beside calibration (inference layer), where adaptation also chooses thresholds.
from ..inference.calibration import THRESHOLD_RULES, choose_threshold, fake_probability, fit_calibration  # noqa: F401

def expected_calibration_error(labels: Sequence[int], fake_probabilities: Sequence[float], n_bins: int = 15
                               ) -> float:
    """Mean |accuracy - confidence| over equal-width probability bins, weighted by bin size."""
    labels = np.asarray(labels, dtype=float)
    scores = np.asarray(fake_probabilities, dtype=float)
    bins = np.minimum((scores * n_bins).astype(int), n_bins - 1)
    error = 0.0
    for b in range(n_bins):
        in_bin = bins == b
        if in_bin.any():
            error += in_bin.mean() * abs(labels[in_bin].mean() - scores[in_bin].mean())
    return float(error)


def binary_metrics(labels: Sequence[int], fake_probabilities: Sequence[float], threshold: float) -> Dict:
    """Accuracy, precision, recall, F1, ROC-AUC, AP, ECE and the confusion matrix [[TN, FP], [FN, TP]]."""
    labels = np.asarray(labels, dtype=int)
    scores = np.asarray(fake_probabilities, dtype=float)
    if len(labels) == 0:
        raise ValueError("no predictions to score")
    predicted = (scores >= threshold).astype(int)
    n_fake = int(labels.sum())
    n_real = int(len(labels) - n_fake)
    undefined: Dict[str, str] = {}

    def defined_if(condition: bool, name: str, reason: str, compute) -> Optional[float]:
        if condition:
            return float(compute())
        undefined[name] = reason
        return None

    both_classes = n_fake > 0 and n_real > 0
    one_class_reason = f"needs both classes; the data has only {'fake' if n_fake else 'real'} images"
    result = {
        "accuracy": float(skm.accuracy_score(labels, predicted)),
        "precision": defined_if(predicted.sum() > 0, "precision", "nothing was predicted fake",
                                lambda: skm.precision_score(labels, predicted, zero_division=0)),
        "recall": defined_if(n_fake > 0, "recall", "there are no fake images",
                             lambda: skm.recall_score(labels, predicted, zero_division=0)),
        "f1": defined_if(n_fake > 0, "f1", "there are no fake images",
                         lambda: skm.f1_score(labels, predicted, zero_division=0)),
        "roc_auc": defined_if(both_classes, "roc_auc", one_class_reason,
                              lambda: skm.roc_auc_score(labels, scores)),
        "average_precision": defined_if(both_classes, "average_precision", one_class_reason,
                                        lambda: skm.average_precision_score(labels, scores)),
        "expected_calibration_error": expected_calibration_error(labels, scores),
        "threshold": float(threshold),
        "n_real": n_real,
        "n_fake": n_fake,
        "confusion_matrix": skm.confusion_matrix(labels, predicted, labels=[0, 1]).tolist(),
    }
    if undefined:
        result["undefined"] = undefined
    return result


@dataclass(frozen=True)
class CalibratedValidation:
    temperature: float
    bias: float
    threshold: float
    metrics: Dict


def calibrate_on_validation(labels: Sequence[int], logits: Sequence[float], threshold_rule: str
                            ) -> CalibratedValidation:
    """Calibrate first, then choose the threshold on the probabilities users will see, then measure."""
    temperature, bias = fit_calibration(labels, logits)
    probabilities = fake_probability(torch.tensor(list(logits), dtype=torch.float64), temperature, bias).tolist()
    threshold = choose_threshold(labels, probabilities, threshold_rule)
    return CalibratedValidation(temperature, bias, threshold, binary_metrics(labels, probabilities, threshold))
