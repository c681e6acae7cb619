"""Regenerate the pictures README.md shows, from the project's own code and data it may publish.

    python tools/make_docs_pictures.py [--shared ../shared/datasets]

- docs/training_curves.png: the shipped model's own training history (read from its checkpoint);
- docs/roc.png, docs/confusion_matrix.png, docs/reliability.png, ...: the shipped model on the validation
  split of the shared sets (only numbers are drawn; no dataset image is copied);
- docs/gradcam_astronaut.png: Grad-CAM (converted Meso4_DF, else the shipped model) on scikit-image's
  public-domain astronaut photo;
- docs/report.png: a screenshot (headless Chromium) of an HTML report on synthetic images, whose thumbnails
  are therefore safe to publish;
- docs/web.png: the service's page (python -m deepfake.serve, in headless Chromium through Playwright) after
  scoring the public-domain sample photos with the shipped weights (`--only web` makes this one alone);
- docs/stress.png is copied from runs/card/plots/stress.png, which tools/model_card_figures.sh draws.
"""
import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from deepfake import load_detector  # noqa: E402
from deepfake.evaluation.evaluate import evaluate_checkpoints  # noqa: E402
from deepfake.inference.explain import explain_result  # noqa: E402
from deepfake.inference.detector import DEFAULT_WEIGHTS  # noqa: E402
from deepfake.reporting.plots import save_evaluation_plots, save_training_curves  # noqa: E402
from deepfake.reporting.report import write_report  # noqa: E402
from deepfake.samples import write_samples  # noqa: E402

from deepfake.serve.local import CHROMIUM_ARGS  # noqa: E402

CHROMIUM_FLAGS = ["--headless", *CHROMIUM_ARGS]  # a screenshot straight from the command line


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--out", default=str(ROOT / "docs"))
    parser.add_argument("--only", choices=("web",), default=None, help="make this picture alone")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    if args.only == "web":
        with tempfile.TemporaryDirectory() as scratch:
            screenshot_service_page(Path(scratch), out / "web.png")
        return
    detector = load_detector(DEFAULT_WEIGHTS, device="cpu")
    history = detector.card.training["history"]
    names = ", ".join(entry["name"] for entry in detector.card.training["data"])
    # The checkpoint carries its history up to the epoch it kept, which need not be the last one trained.
    save_training_curves(history, out / "training_curves.png",
                         f"shipped {detector.card.arch} on {names}: epochs 1-{len(history)}, the last one kept")

    sets = sorted(str(p) for p in Path(args.shared).iterdir() if p.is_dir())
    evaluation = evaluate_checkpoints([DEFAULT_WEIGHTS], sets, split="val", show_progress=False)[0]
    report = evaluation.report
    save_evaluation_plots(evaluation.labels, evaluation.fake_probabilities, report["threshold"],
                          report["confusion_matrix"], out,
                          f"shipped weights on the validation split of {names}: "
                          f"{report['n_real']} real, {report['n_fake']} fake")

    with tempfile.TemporaryDirectory() as scratch:
        # The shipped model finds no evidence in natural photos at whole-image scale (a flat map: see the model
        # card), so the README's Grad-CAM example uses converted Meso4_DF weights when they are at hand.
        astronaut = write_samples(scratch)[0]
        meso = ROOT / "runs" / "card" / "meso" / "Meso4_DF.safetensors"
        explainer = load_detector(meso, device="cpu") if meso.exists() else detector
        record = explainer.predict(astronaut).to_dict()
        picture, _, _ = explain_result(explainer, astronaut, record)
        picture.save(out / "gradcam_astronaut.png")

        chromium = shutil.which("chromium")
        if chromium is None:  # a fresh machine may lack it: keep the other pictures, say which one was not made
            print("chromium not found: docs/report.png left as it was", file=sys.stderr)
        else:
            screenshot_synthetic_report(chromium, Path(scratch), out / "report.png")
            screenshot_service_page(Path(scratch), out / "web.png")
    stress = ROOT / "runs" / "card" / "plots" / "stress.png"
    if stress.exists():
        (out / "stress.png").write_bytes(stress.read_bytes())
    for path in sorted(out.glob("*.png")):
        print(path.relative_to(ROOT))


def screenshot_synthetic_report(chromium: str, scratch: Path, png: Path) -> None:
    """An HTML report of a tiny model on the tests' synthetic images, whose thumbnails are safe to publish."""
    from deepfake.samples import make_labelled_folder  # synthetic real/fake images, safe to publish
    synthetic = make_labelled_folder(scratch / "synthetic", n_per_class=24)
    run = scratch / "run"
    subprocess.run([sys.executable, str(ROOT / "train.py"), "--data", str(synthetic), "--arch",
                    "artifact_cnn_tiny", "--epochs", "4", "--img-size", "32", "--batch-size", "8", "--lr", "0.01",
                    "--workers", "0", "--out", str(run)], check=True, capture_output=True)
    synthetic_eval = evaluate_checkpoints([run / "best.safetensors"], [synthetic], show_progress=False)[0]
    plots = save_evaluation_plots(synthetic_eval.labels, synthetic_eval.fake_probabilities,
                                  synthetic_eval.report["threshold"], synthetic_eval.report["confusion_matrix"],
                                  scratch / "plots", "tiny model on synthetic images")
    page = write_report(synthetic_eval, plots, scratch / "report.html")
    subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={scratch}/chromium",
                    "--window-size=1100,1500", f"--screenshot={png}", page.as_uri()],
                   check=True, capture_output=True)


def screenshot_service_page(scratch: Path, png: Path) -> None:
    """The service's page with the four sample photos scored by the shipped weights, faces and Grad-CAM on."""
    from playwright.sync_api import sync_playwright
    from deepfake.serve.local import find_chromium, running_service
    samples = write_samples(scratch / "samples")
    with running_service(DEFAULT_WEIGHTS) as (url, _), sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 1500})
        page.goto(url + "/")
        page.locator("#model", has_text="threshold").wait_for(timeout=60_000)
        page.check("#faces")
        page.check("#explain")
        page.set_input_files("#picker", [str(path) for path in samples])
        page.locator(".probability").nth(len(samples) - 1).wait_for(timeout=300_000)
        page.screenshot(path=str(png))
        browser.close()


if __name__ == "__main__":
    main()
