"""Would the generators' frequency traces help the shipped model? A power-spectrum probe, clean and degraded.

    python experiments/spectrum_probe.py [--weights W] --data DIR [DIR ...]

Durall et al. (CVPR 2020) tell GAN images from photos by the azimuthal average of the log power spectrum
alone. For each set this fits logistic regression on those 1-D spectra (at the set's native resolution,
grey levels) over the training split the checkpoint recorded, then reports validation ROC-AUC, clean and
under each degradation of evaluate.py's robustness suite, for: the spectrum alone; the checkpoint; and their
unweighted fusion, the sum of both scores each standardised over the images scored (no label and no
validation-fitted weight enters it). The evidence for what "How the model looks at an image" in
weights/MODEL_CARD.md says about high-frequency traces on these sets.
"""
import argparse
import math
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


from deepfake.data.datasets import discover_roots, select_split  # noqa: E402
from deepfake.evaluation.evaluate import evaluate_detector, recorded_split  # noqa: E402
from deepfake.data.images import load_rgb_image  # noqa: E402
from deepfake.inference.detector import DEFAULT_WEIGHTS, load_detector  # noqa: E402
from deepfake.data.perturbations import ROBUSTNESS_SUITE, Perturbed  # noqa: E402


def radial_log_spectrum(image: Image.Image, side: int) -> np.ndarray:
    """Mean log power at each integer radius of the centred 2-D spectrum, from DC to the Nyquist radius.

    A degraded image is resized back to `side` first, as a user's picture would be, so the feature keeps its
    length; whatever the degradation removed stays removed."""
    grey = image.convert("L")
    if grey.size != (side, side):
        grey = grey.resize((side, side), Image.BICUBIC)
    pixels = np.asarray(grey, dtype=np.float32)
    power = np.abs(np.fft.fftshift(np.fft.fft2(pixels - pixels.mean()))) ** 2
    rows, columns = np.indices(power.shape)
    radius = np.hypot(rows - side // 2, columns - side // 2).astype(int).ravel()
    profile = np.bincount(radius, np.log(power.ravel() + 1e-8)) / np.bincount(radius)
    return profile[: side // 2]


def standardised(scores) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    return (scores - scores.mean()) / scores.std()


def logit(probability: float) -> float:
    probability = min(max(probability, 1e-7), 1 - 1e-7)
    return math.log(probability / (1 - probability))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    parser.add_argument("--data", nargs="+", required=True)
    args = parser.parse_args()
    detector = load_detector(args.weights, device="cpu")
    split = recorded_split(detector.card)
    print("validation ROC-AUC: 1-D power spectrum + logistic regression / the checkpoint / their fusion")
    for root in args.data:
        roots = discover_roots([root])
        train = select_split(roots, "train", **split)
        validation = select_split(roots, "val", **split)
        side = min(load_rgb_image(train[0].path).size)
        spectrum_model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=5000)).fit(
            [radial_log_spectrum(load_rgb_image(image.path), side) for image in train],
            [image.label for image in train])
        clean_images = {image.path: load_rgb_image(image.path) for image in validation}
        for condition, perturb in {"clean": lambda image: image, **ROBUSTNESS_SUITE}.items():
            evaluation = evaluate_detector(detector, validation, show_progress=False,
                                           transform=Perturbed(perturb, detector.transform))
            spectra = [radial_log_spectrum(perturb(clean_images[path]), side) for path in evaluation.paths]
            spectrum_scores = spectrum_model.decision_function(spectra)
            model_scores = [logit(probability) for probability in evaluation.fake_probabilities]
            fused = standardised(spectrum_scores) + standardised(model_scores)
            cells = [roc_auc_score(evaluation.labels, scores) for scores in (spectrum_scores, model_scores, fused)]
            print(f"{Path(root).name:<16} {condition:<21} " + " / ".join(f"{cell:.4f}" for cell in cells),
                  flush=True)


if __name__ == "__main__":
    main()
