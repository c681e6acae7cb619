"""The stress sweep: lighting and resolution perturbations, FGSM/PGD evasion and its guarantees."""
import json

import numpy as np
import pytest
import torch

from conftest import make_labelled_folder, run_script, synthetic_image
from deepfake import load_detector
from deepfake.evaluation.attacks import fake_logit, fgsm_evasion, pgd_evasion
from deepfake.data.datasets import discover_labelled_images
from deepfake.data.perturbations import STRESS_FAMILIES, brightness, contrast, down_up, gamma
from deepfake.evaluation.stress import evasion_rows


@pytest.fixture(scope="module")
def detector(trained_checkpoint):
    return load_detector(trained_checkpoint, device="cpu")


def test_lighting_and_resolution_perturbations():
    image = synthetic_image(np.random.default_rng(1), fake=False, size=64)
    mean = np.asarray(image, dtype=float).mean()
    assert np.asarray(brightness(0.5)(image), dtype=float).mean() == pytest.approx(mean / 2, rel=0.05)
    assert np.asarray(contrast(0.5)(image), dtype=float).std() < np.asarray(image, dtype=float).std()
    assert np.asarray(gamma(1.4)(image), dtype=float).mean() < mean < np.asarray(gamma(0.7)(image)).mean()
    assert down_up(0.25)(image).size == (64, 64)
    assert STRESS_FAMILIES["resolution"]["upscale_1.5x"](image).size == (96, 96)
    assert STRESS_FAMILIES["resolution"]["native"](image) is image


def test_zero_budget_changes_nothing_and_budgets_are_respected(detector):
    pixels = torch.rand(3, 40, 40)
    preprocessing = detector.card.preprocessing
    assert torch.equal(pgd_evasion(detector.model, preprocessing, pixels, 0.0), pixels)
    assert torch.equal(fgsm_evasion(detector.model, preprocessing, pixels, 0.0), pixels)
    epsilon = 4 / 255
    adversarial = pgd_evasion(detector.model, preprocessing, pixels, epsilon, steps=10)
    assert (adversarial - pixels).abs().max() <= epsilon + 1e-6
    assert adversarial.min() >= 0 and adversarial.max() <= 1


def test_pgd_lowers_the_fake_logit(detector):
    pixels = torch.from_numpy(np.asarray(synthetic_image(np.random.default_rng(3), fake=True), dtype=np.float32)
                              / 255).permute(2, 0, 1)
    preprocessing = detector.card.preprocessing
    with torch.no_grad():
        clean = fake_logit(detector.model, preprocessing, pixels)
        attacked = fake_logit(detector.model, preprocessing,
                              pgd_evasion(detector.model, preprocessing, pixels, 8 / 255))
    assert attacked < clean


def test_larger_budget_never_lowers_the_evasion_rate(detector, tmp_path):
    folder = make_labelled_folder(tmp_path / "data", n_per_class=12, seed=9)
    fakes = [image.path for image in discover_labelled_images(folder) if image.label == 1]
    rows = evasion_rows(detector, fakes, epsilons=(0.0, 0.5 / 255, 2 / 255, 8 / 255), show_progress=False)
    for attack in ("fgsm", "pgd"):
        rates = [row["evasion_rate"] for row in rows if row["attack"] == attack]
        assert rates[0] == 0.0  # a zero budget evades nothing
        assert rates == sorted(rates)


@pytest.mark.slow
def test_evaluate_stress_cli(trained_checkpoint, labelled_folder, tmp_path):
    out = tmp_path / "stress.json"
    result = run_script("evaluate.py", "--data", str(labelled_folder), "--weights", str(trained_checkpoint),
                        "--stress", "--stress-images", "20", "--attack-images", "4",
                        "--transfer-from", str(trained_checkpoint),
                        "--json", str(out), "--plots", str(tmp_path / "plots"), "--workers", "0")
    assert result.returncode == 0, result.stderr
    stress = json.loads(out.read_text())["stress"]
    assert [row["condition"] for row in stress["lighting"]] == list(STRESS_FAMILIES["lighting"])
    assert [row["condition"] for row in stress["resolution"]] == list(STRESS_FAMILIES["resolution"])
    assert {row["attack"] for row in stress["adversarial"]} == {"fgsm", "pgd"}
    assert {row["epsilon"] for row in stress["adversarial"]} == {"1/255", "2/255", "4/255", "8/255"}
    assert {row["attack"] for row in stress["transfer"]} == {"fgsm_transfer", "pgd_transfer"}
    assert stress["runtime_seconds"] > 0 and stress["n_images"] == 20
    assert "stress sweep of best.safetensors" in result.stdout
    assert (tmp_path / "plots" / "stress.png").stat().st_size > 10_000
