import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from conftest import tiny_card, make_labelled_folder, run_script
from deepfake import create_model
from deepfake.inference.calibration import MIN_SCALE, fake_probability, fit_calibration
from deepfake.checkpoint import ModelCard, load_model, save_model
from deepfake.data.datasets import load_split
from deepfake.evaluation.evaluate import evaluate_checkpoints
from deepfake.inference.detector import Detector
from deepfake.evaluation.metrics import expected_calibration_error
from deepfake.preprocessing import Preprocessing


def miscalibrated_scores(true_temperature: float, true_bias: float, n: int = 20000, seed: int = 0):
    """Logits whose honest probabilities are sigmoid(logit / true_temperature + true_bias), and labels drawn
    from those."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 4, n)
    labels = (rng.random(n) < 1 / (1 + np.exp(-(logits / true_temperature + true_bias)))).astype(int)
    return labels, logits


@pytest.mark.parametrize("true_temperature, true_bias", [(0.5, 0.0), (1.0, 0.0), (2.5, 0.0), (1.5, 0.8)])
def test_fit_recovers_the_map_that_generated_the_labels(true_temperature, true_bias):
    labels, logits = miscalibrated_scores(true_temperature, true_bias)
    temperature, bias = fit_calibration(labels, logits)
    assert temperature == pytest.approx(true_temperature, rel=0.1)
    assert bias == pytest.approx(true_bias, abs=0.1)


def test_fitted_map_fixes_calibration_and_keeps_the_ranking():
    labels, logits = miscalibrated_scores(2.5, 0.8)
    raw = fake_probability(torch.tensor(logits)).numpy()
    calibrated = fake_probability(torch.tensor(logits), *fit_calibration(labels, logits)).numpy()
    assert expected_calibration_error(labels, raw) > 0.08
    assert expected_calibration_error(labels, calibrated) < 0.02
    # The ranking is untouched (up to ties where float32 sigmoids saturate at 0 or 1).
    assert roc_auc_score(labels, calibrated) == pytest.approx(roc_auc_score(labels, logits), abs=1e-4)


def test_unidentifiable_separable_or_anti_informative_scores_keep_probabilities_sane():
    assert fit_calibration([1, 1, 1], [0.3, 2.0, -1.0]) == (1.0, 0.0)
    assert fit_calibration([], []) == (1.0, 0.0)
    # Perfectly separated: a finite, steep map, not an overflow.
    temperature, bias = fit_calibration([0, 1] * 50, [-2.0, 2.0] * 50)
    assert 0 < temperature < 1 and abs(bias) < 1e-6
    # Scores that rank backwards: the map stays increasing and flattens them towards the base rate.
    temperature, bias = fit_calibration([0, 1] * 50, [3.0, -3.0] * 50)
    assert temperature == 1 / MIN_SCALE
    assert abs(fake_probability(torch.tensor([3.0]), temperature, bias).item() - 0.5) < 0.01


def test_card_carries_the_temperature_and_version_1_cards_read_as_uncalibrated(tmp_path):
    model = create_model("artifact_cnn_tiny", hidden=8).eval()
    save_model(tmp_path / "m.safetensors", model, tiny_card(temperature=1.7, logit_bias=-0.3))
    card = load_model(tmp_path / "m.safetensors")[1]
    assert (card.temperature, card.logit_bias) == (1.7, -0.3)
    version_1 = json.loads(tiny_card().to_json())
    del version_1["temperature"], version_1["logit_bias"]
    version_1["format_version"] = 1
    card = ModelCard.from_json(json.dumps(version_1), tmp_path / "old.safetensors")
    assert (card.temperature, card.logit_bias) == (1.0, 0.0)


def test_detector_applies_the_checkpoint_calibration():
    torch.manual_seed(0)
    model = create_model("artifact_cnn_tiny", hidden=8).eval()
    card = tiny_card(temperature=3.0, logit_bias=0.4, preprocessing=Preprocessing(input_size=32, eval_crops=1))
    crops = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        logits = model(crops)
    probabilities = Detector(model, card).fake_probabilities(crops, [1, 1, 1, 1])
    assert torch.allclose(probabilities, torch.sigmoid(logits / 3.0 + 0.4), atol=1e-6)


def test_recalibrate_reproduces_what_training_fitted(trained_checkpoint, labelled_folder, tmp_path):
    model, trained = load_model(trained_checkpoint)
    uncalibrated = tmp_path / "uncalibrated.safetensors"
    save_model(uncalibrated, model, replace(trained, temperature=1.0, logit_bias=0.0, threshold=0.5))
    result = run_script("-m", "deepfake.recalibrate", "--weights", str(uncalibrated), "--data",
                        str(labelled_folder), "--workers", "0")
    assert result.returncode == 0, result.stderr
    recalibrated = load_model(uncalibrated)[1]
    for key in ("temperature", "logit_bias", "threshold", "threshold_rule"):
        assert getattr(recalibrated, key) == pytest.approx(getattr(trained, key), abs=1e-6), key
    assert recalibrated.validation_metrics["expected_calibration_error"] == pytest.approx(
        trained.validation_metrics["expected_calibration_error"], abs=1e-6)


@pytest.mark.slow
def test_a_learning_curve_point_keeps_its_own_training_share(trained_checkpoint, labelled_folder, tmp_path):
    # A checkpoint trained with --train-fraction 0.5: recalibrate finds its data (the summary counts only
    # the training images it kept), and evaluate's "train" side is exactly those images.
    model, trained = load_model(trained_checkpoint)
    half_train, _, half_summary = load_split([labelled_folder], trained.training["val_fraction"],
                                             trained.training["seed"], train_fraction=0.5)
    half = tmp_path / "half.safetensors"
    save_model(half, model, replace(trained, training={**trained.training, "train_fraction": 0.5,
                                                       "data": half_summary}))
    result = run_script("-m", "deepfake.recalibrate", "--weights", str(half), "--data", str(labelled_folder),
                        "--workers", "0")
    assert result.returncode == 0, result.stderr
    (evaluation,) = evaluate_checkpoints([half], [labelled_folder], split="train", workers=0, show_progress=False)
    assert sorted(evaluation.paths) == sorted(image.path for image in half_train)
    assert len(half_train) < trained.training["data"][0]["n_train"]
    described = run_script("load_model.py", "--weights", str(half))
    assert "0.5 of the training side used" in described.stdout, described.stderr


def test_recalibrate_refuses_other_data(trained_checkpoint, tmp_path):
    other = make_labelled_folder(tmp_path / "other", n_per_class=6, seed=5)
    result = run_script("-m", "deepfake.recalibrate", "--weights", str(trained_checkpoint), "--data", str(other),
                        "--out", str(tmp_path / "x.safetensors"), "--workers", "0")
    assert result.returncode == 2 and "trained on other data" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.safetensors").exists()
