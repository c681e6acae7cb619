import json

import numpy as np

from conftest import run_script, synthetic_image
from deepfake.data.perturbations import ROBUSTNESS_SUITE, center_crop, downscale, gaussian_blur, jpeg


def test_each_perturbation_does_what_its_name_says():
    image = synthetic_image(np.random.default_rng(0), fake=True, size=100)
    pixels = np.asarray(image, dtype=float)
    assert downscale(0.5)(image).size == (50, 50)
    assert center_crop(0.8)(image).size == (80, 80)
    assert np.asarray(center_crop(0.8)(image))[0, 0].tolist() == np.asarray(image)[10, 10].tolist()
    blurred = np.asarray(gaussian_blur(1.0)(image), dtype=float)
    assert np.abs(np.diff(blurred, axis=1)).mean() < np.abs(np.diff(pixels, axis=1)).mean()
    error_q95 = np.abs(np.asarray(jpeg(95)(image), dtype=float) - pixels).mean()
    error_q50 = np.abs(np.asarray(jpeg(50)(image), dtype=float) - pixels).mean()
    assert 0 < error_q95 < error_q50
    assert set(ROBUSTNESS_SUITE) == {"jpeg_q95", "jpeg_q75", "jpeg_q50", "downscale_0.5x", "gaussian_blur_sigma1",
                                     "center_crop_0.8"}


def test_evaluate_robustness_table(trained_checkpoint, labelled_folder, tmp_path):
    result = run_script("evaluate.py", "--data", str(labelled_folder), "--weights", str(trained_checkpoint),
                        "--robustness", "--json", str(tmp_path / "r.json"), "--workers", "0")
    assert result.returncode == 0, result.stderr
    rows = json.loads((tmp_path / "r.json").read_text())["robustness"]
    assert [row["condition"] for row in rows] == ["clean", *ROBUSTNESS_SUITE]
    assert rows[0]["roc_auc_drop"] == 0.0
    # Downscaling by half erases the synthetic 2-pixel trace: the table must show the damage.
    downscaled = next(row for row in rows if row["condition"] == "downscale_0.5x")
    assert downscaled["roc_auc"] < rows[0]["roc_auc"]
    assert "robustness of best.safetensors" in result.stdout and "jpeg_q50" in result.stdout
