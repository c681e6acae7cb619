import math

import pytest

from deepfake.evaluation.metrics import binary_metrics, choose_threshold, expected_calibration_error

LABELS = [0, 0, 0, 0, 1, 1, 1, 1]
SCORES = [0.1, 0.2, 0.3, 0.8, 0.4, 0.7, 0.9, 0.95]


def test_metrics_match_hand_computed_values():
    # At 0.5: reals 0.1 0.2 0.3 -> TN, 0.8 -> FP; fakes 0.4 -> FN, 0.7 0.9 0.95 -> TP.
    result = binary_metrics(LABELS, SCORES, threshold=0.5)
    assert result["confusion_matrix"] == [[3, 1], [1, 3]]
    assert result["accuracy"] == pytest.approx(6 / 8)
    assert result["precision"] == pytest.approx(3 / 4)
    assert result["recall"] == pytest.approx(3 / 4)
    assert result["f1"] == pytest.approx(3 / 4)
    # 16 real/fake pairs; the fake outranks the real in all but (0.8 vs 0.4) and (0.8 vs 0.7).
    assert result["roc_auc"] == pytest.approx(14 / 16)
    assert (result["n_real"], result["n_fake"]) == (4, 4)
    assert "undefined" not in result


def test_threshold_is_inclusive():
    assert binary_metrics([0, 1], [0.2, 0.5], threshold=0.5)["confusion_matrix"] == [[1, 0], [0, 1]]


def test_one_class_reports_what_is_defined_and_says_why():
    result = binary_metrics([1, 1, 1], [0.9, 0.2, 0.8], threshold=0.5)
    assert result["recall"] == pytest.approx(2 / 3)
    assert result["roc_auc"] is None and result["average_precision"] is None
    assert "only fake" in result["undefined"]["roc_auc"]
    real_only = binary_metrics([0, 0], [0.1, 0.2], threshold=0.5)
    assert real_only["accuracy"] == 1.0
    assert real_only["recall"] is None and "no fake" in real_only["undefined"]["recall"]
    assert real_only["precision"] is None


def test_balanced_accuracy_threshold_separates_separable_scores():
    threshold = choose_threshold([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.9])
    assert 0.3 < threshold <= 0.6
    assert binary_metrics([0, 0, 1, 1], [0.1, 0.3, 0.6, 0.9], threshold)["accuracy"] == 1.0


def test_fpr_rule_keeps_false_positive_rate_under_five_percent():
    labels = [0] * 40 + [1] * 40
    scores = [i / 100 for i in range(40)] + [0.2 + i / 100 for i in range(40)]
    threshold = choose_threshold(labels, scores, "fpr_5")
    flagged_reals = sum(score >= threshold for score, label in zip(scores, labels) if label == 0)
    assert flagged_reals / 40 <= 0.05
    assert flagged_reals == 2  # the lowest such threshold, not an overly strict one


def test_expected_calibration_error():
    assert expected_calibration_error([0, 1], [0.0, 1.0]) == pytest.approx(0.0)
    # Always 0.9 confident, right half of the time: off by 0.4.
    assert expected_calibration_error([0, 1, 0, 1], [0.9] * 4) == pytest.approx(0.4)
    assert math.isfinite(binary_metrics(LABELS, SCORES, 0.5)["expected_calibration_error"])
