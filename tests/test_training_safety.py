"""Training never loses work: killed runs resume to the same result; divergence stops before damage."""
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import ROOT, make_labelled_folder, run_script
from deepfake.training.trainer import TrainConfig, fit

TINY = ["--arch", "artifact_cnn_tiny", "--epochs", "3", "--batch-size", "8", "--lr", "0.01", "--img-size", "32",
        "--workers", "0"]


def without_timing(log_csv):
    return [line.rsplit(",", 1)[0] for line in log_csv.read_text().splitlines()]  # last column is seconds


@pytest.fixture(scope="module")
def bigger_folder(tmp_path_factory):
    # Enough images that an epoch lasts a few hundred milliseconds, so the kill lands inside one.
    return make_labelled_folder(tmp_path_factory.mktemp("bigger"), n_per_class=120, seed=2)


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_matches_an_uninterrupted_run(bigger_folder, tmp_path):
    interrupted = tmp_path / "interrupted"
    process = subprocess.Popen([sys.executable, str(ROOT / "train.py"), "--data", str(bigger_folder), *TINY,
                                "--out", str(interrupted)], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (interrupted / "last.pt").exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len((interrupted / "log.csv").read_text().splitlines()) - 1 < 3, "the kill came after the run ended"

    resumed = run_script("train.py", "--data", str(bigger_folder), *TINY, "--out", str(interrupted), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout

    straight = run_script("train.py", "--data", str(bigger_folder), *TINY, "--out", str(tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr
    # Same seed, same data, same machine: the same validation metrics, resumed or not.
    assert without_timing(interrupted / "log.csv") == without_timing(tmp_path / "straight" / "log.csv")


@pytest.mark.slow
def test_resume_with_a_different_schedule_is_refused(labelled_folder, tmp_path):
    out = ["--out", str(tmp_path / "run")]
    first = run_script("train.py", "--data", str(labelled_folder), *TINY, *out)
    assert first.returncode == 0, first.stderr
    longer = [arg if arg != "3" else "5" for arg in TINY]
    result = run_script("train.py", "--data", str(labelled_folder), *longer, *out, "--resume")
    assert result.returncode == 2 and "--epochs 3" in result.stderr and "Traceback" not in result.stderr
    # --balance-sets changes the batches per epoch, so the schedule too.
    result = run_script("train.py", "--data", str(labelled_folder), *TINY, *out, "--resume", "--balance-sets")
    assert result.returncode == 2 and "without --balance-sets" in result.stderr and "Traceback" not in result.stderr


def test_ctrl_c_says_where_to_resume(labelled_folder, tmp_path):
    messages = []

    def interrupt_after_first_epoch(message):
        messages.append(message)
        if message.startswith("epoch 1/"):
            raise KeyboardInterrupt

    config = TrainConfig(data_dirs=[str(labelled_folder)], out_dir=str(tmp_path), arch="artifact_cnn_tiny",
                         epochs=3, batch_size=8, img_size=32, workers=0, show_progress=False)
    with pytest.raises(KeyboardInterrupt):
        fit(config, log=interrupt_after_first_epoch)
    assert "holds the state after epoch 1" in messages[-1] and "--resume" in messages[-1]
    assert (tmp_path / "last.pt").is_file() and (tmp_path / "best.safetensors").is_file()


def test_non_finite_loss_stops_without_touching_the_best_checkpoint(labelled_folder, tmp_path, monkeypatch):
    config = TrainConfig(data_dirs=[str(labelled_folder)], out_dir=str(tmp_path), arch="artifact_cnn_tiny",
                         epochs=2, batch_size=8, img_size=32, workers=0, show_progress=False)
    real_loss = torch.nn.functional.binary_cross_entropy_with_logits
    calls = {"n": 0}

    def diverging_loss(logits, labels):
        calls["n"] += 1
        # 38 training images in global batches of 8 (the incomplete one dropped): 4 steps per epoch, so the
        # 7th call is epoch 2, batch 2 (counting from 0).
        return real_loss(logits, labels) * (float("nan") if calls["n"] > 6 else 1.0)

    import deepfake.training.engine as engine
    monkeypatch.setattr(engine.F, "binary_cross_entropy_with_logits", diverging_loss)
    saved = {}

    def remember_best(message):
        if message.startswith("epoch 1/"):
            saved["best"] = (tmp_path / "best.safetensors").read_bytes()

    with pytest.raises(engine.NonFiniteLossError, match="at batch 2"):
        fit(config, log=remember_best)
    assert (tmp_path / "best.safetensors").read_bytes() == saved["best"]


def test_single_class_data_is_refused_up_front(tmp_path):
    folder = make_labelled_folder(tmp_path / "data", n_per_class=6)
    for image in (folder / "fake").iterdir():
        os.remove(image)
    result = run_script("train.py", "--data", str(folder), *TINY, "--out", str(tmp_path / "run"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "the training split has {'n_real': 4, 'n_fake': 0}: training needs real and fake images" in result.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_training_runs_without_the_report_extra(labelled_folder, tmp_path):
    """A plain pip install (no matplotlib) trains: the curves are skipped, the checkpoint and log.csv are not."""
    import subprocess
    import sys
    probe = f"""
import sys
sys.modules["matplotlib"] = None  # as if the report extra were not installed: importing it fails
from deepfake.cli import train_main
train_main(["--data", {str(labelled_folder)!r}, "--arch", "artifact_cnn_tiny", "--epochs", "1", "--img-size", "32",
            "--batch-size", "8", "--workers", "0", "--out", {str(tmp_path)!r}])
"""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "best.safetensors").exists() and (tmp_path / "log.csv").exists()
    assert not (tmp_path / "training_curves.png").exists()


@pytest.mark.parametrize("change, message", [
    (dict(epochs=0), "--epochs and --batch-size must be at least 1"),
    (dict(resize=16), "--resize must be 0 or at least --img-size (32), not 16"),
    (dict(relight_probability=1.5), "--relight-probability must be between 0 and 1, not 1.5"),
    (dict(val_fraction=1.0), "--val-fraction must be between 0 and 1"),
    (dict(ema_decay=1.0), "--ema-decay must be 0 (off) or between 0 and 1"),
    (dict(reals_only=True), "--reals-only leaves out every fake"),
    (dict(model_kwargs={"depth": 3}), "takes no argument depth"),
    (dict(device="gpu"), "--device gpu: not a device"),
])
def test_the_config_checks_itself_for_python_callers_too(tmp_path, change, message):
    """fit() from Python gets train.py's one-line errors, before any folder is read (this one does not exist)."""
    from deepfake.errors import DeepfakeError
    settings = dict(data_dirs=[str(tmp_path / "absent")], arch="artifact_cnn_tiny", img_size=32, device="cpu")
    with pytest.raises(DeepfakeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        TrainConfig(**{**settings, **change})
