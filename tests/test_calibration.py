import json

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from deepfake import create_model
from deepfake.calibration import MIN_INVERSE_TEMPERATURE, fake_probability, fit_temperature
from deepfake.checkpoint import ModelCard, load_model, save_model
from deepfake.inference import Detector
from deepfake.metrics import expected_calibration_error
from deepfake.transforms import Preprocessing


def tiny_card(**overrides) -> ModelCard:
    values = dict(arch="artifact_cnn_tiny", model_kwargs={"hidden": 8}, preprocessing=Preprocessing(input_size=32))
    return ModelCard(**dict(values, **overrides))


def overconfident_scores(true_temperature: float, n: int = 20000, seed: int = 0):
    """Logits whose honest probabilities are sigmoid(logit / true_temperature), and labels drawn from those."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 4, n)
    labels = (rng.random(n) < 1 / (1 + np.exp(-logits / true_temperature))).astype(int)
    return labels, logits


@pytest.mark.parametrize("true_temperature", [0.5, 1.0, 2.5])
def test_fit_recovers_the_temperature_that_generated_the_labels(true_temperature):
    labels, logits = overconfident_scores(true_temperature)
    assert fit_temperature(labels, logits) == pytest.approx(true_temperature, rel=0.1)


def test_fitted_temperature_fixes_calibration_and_keeps_the_ranking():
    labels, logits = overconfident_scores(2.5)
    raw = fake_probability(torch.tensor(logits)).numpy()
    calibrated = fake_probability(torch.tensor(logits), fit_temperature(labels, logits)).numpy()
    assert expected_calibration_error(labels, raw) > 0.08
    assert expected_calibration_error(labels, calibrated) < 0.02
    # The ranking is untouched (up to ties where float32 sigmoids saturate at 0 or 1).
    assert roc_auc_score(labels, calibrated) == pytest.approx(roc_auc_score(labels, logits), abs=1e-4)


def test_unidentifiable_or_anti_informative_scores_keep_probabilities_sane():
    assert fit_temperature([1, 1, 1], [0.3, 2.0, -1.0]) == 1.0
    assert fit_temperature([], []) == 1.0
    # Scores that rank backwards: the best positive temperature flattens them towards 0.5.
    temperature = fit_temperature([0, 1] * 50, [3.0, -3.0] * 50)
    assert temperature == 1 / MIN_INVERSE_TEMPERATURE
    assert abs(fake_probability(torch.tensor([3.0]), temperature).item() - 0.5) < 0.01


def test_card_carries_the_temperature_and_version_1_cards_read_as_uncalibrated(tmp_path):
    model = create_model("artifact_cnn_tiny", hidden=8).eval()
    save_model(tmp_path / "m.safetensors", model, tiny_card(temperature=1.7))
    assert load_model(tmp_path / "m.safetensors")[1].temperature == 1.7
    version_1 = json.loads(tiny_card().to_json())
    del version_1["temperature"]
    version_1["format_version"] = 1
    assert ModelCard.from_json(json.dumps(version_1), tmp_path / "old.safetensors").temperature == 1.0


def test_detector_applies_the_checkpoint_temperature():
    torch.manual_seed(0)
    model = create_model("artifact_cnn_tiny", hidden=8).eval()
    card = tiny_card(temperature=3.0, preprocessing=Preprocessing(input_size=32, eval_crops=1))
    crops = torch.randn(4, 1, 3, 32, 32)
    with torch.no_grad():
        logits = model(crops.flatten(0, 1))
    probabilities = Detector(model, card).fake_probabilities(crops)
    assert torch.allclose(probabilities, torch.sigmoid(logits / 3.0), atol=1e-6)
