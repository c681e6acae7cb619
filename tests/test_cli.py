"""End to end through the root scripts, as a user runs them: train -> evaluate -> predict -> load_model."""
import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from conftest import ROOT, TINY_TRAINING, make_labelled_folder, run_script, synthetic_image
from deepfake.checkpoint import load_model


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.stderr


def test_train_writes_checkpoint_state_and_log(trained_checkpoint):
    run_dir = trained_checkpoint.parent
    assert trained_checkpoint.is_file() and (run_dir / "last.pt").is_file()
    log_lines = (run_dir / "log.csv").read_text().splitlines()
    assert log_lines[0].startswith("epoch,train_loss,val_roc_auc") and len(log_lines) == 5


def test_init_from_fine_tunes_a_trained_detector(trained_checkpoint, labelled_folder, tmp_path):
    """--init-from starts every weight, head included, from the checkpoint; the card says where it came from."""
    args = ["--data", str(labelled_folder), "--img-size", "32", "--batch-size", "8", "--workers", "0",
            "--epochs", "1", "--lr", "1e-12", "--weight-decay", "0"]
    result = run_script("train.py", *args, "--arch", "artifact_cnn_tiny", "--init-from", str(trained_checkpoint),
                        "--out", str(tmp_path / "tuned"))
    assert result.returncode == 0, result.stderr
    tuned, card = load_model(tmp_path / "tuned" / "best.safetensors")
    source, source_card = load_model(trained_checkpoint)
    for (name, after), before in zip(tuned.named_parameters(), source.parameters()):
        assert torch.allclose(after, before, atol=1e-6), name  # a step of lr 1e-12 moves nothing
    assert card.training["initialised_from"]["weights"] == str(trained_checkpoint)
    assert card.training["initialised_from"]["data"] == source_card.training["data"]
    assert card.training["initialised_from"]["split"] == {name: source_card.training[name]
                                                          for name in ("seed", "val_fraction", "split_by")}
    described = run_script("load_model.py", "--weights", str(tmp_path / "tuned" / "best.safetensors"))
    assert f"started from    the checkpoint then at {trained_checkpoint} (artifact_cnn_tiny), trained on " in described.stdout
    other = run_script("train.py", *args, "--arch", "artifact_cnn", "--init-from", str(trained_checkpoint),
                       "--out", str(tmp_path / "other"))
    assert_one_line_error(other, str(trained_checkpoint), "--arch artifact_cnn", "artifact_cnn_tiny")
    both = run_script("train.py", *args, "--arch", "artifact_cnn_tiny", "--init-from", str(trained_checkpoint),
                      "--init-cnn", str(trained_checkpoint), "--out", str(tmp_path / "both"))
    assert_one_line_error(both, "pass one of them")


@pytest.mark.slow
def test_training_records_its_degradations(labelled_folder, tmp_path):
    result = run_script("train.py", "--data", str(labelled_folder), *TINY_TRAINING, "--epochs", "1",
                         "--augment-probability", "0.5",
                        "--reframe-probability", "0.25", "--relight-probability", "0.3", "--mixup", "0.2",
                        "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    training = load_model(tmp_path / "best.safetensors")[1].training
    augmentation = training["augmentation"]
    assert augmentation["downscale_probability"] == augmentation["blur_probability"] == 0.5
    assert augmentation["jpeg_probability"] == 0.5 and augmentation["reframe_probability"] == 0.25
    assert augmentation["relight_probability"] == 0.3 and training["mixup_alpha"] == 0.2
    # Every setting of the run is recorded by its TrainConfig name; those of the machine are not.
    from dataclasses import fields
    from deepfake.training.trainer import MACHINE_SETTINGS, TrainConfig
    settings = {field.name for field in fields(TrainConfig)} - set(MACHINE_SETTINGS) - {"pseudo_fakes"}
    assert settings <= set(training) and not set(MACHINE_SETTINGS) & set(training)
    assert training["arch"] == "artifact_cnn_tiny" and training["data_dirs"] == [str(labelled_folder)]


@pytest.mark.slow
def test_training_with_resize_scores_the_whole_image(labelled_folder, tmp_path):
    from deepfake.data.transforms import EvalTransform
    result = run_script("train.py", "--data", str(labelled_folder), "--arch", "artifact_cnn_tiny", "--epochs", "1",
                        "--img-size", "32", "--resize", "32", "--batch-size", "8", "--workers", "0",
                        "--mirror-views", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    preprocessing = load_model(tmp_path / "best.safetensors")[1].preprocessing
    assert preprocessing.resize == 32 and preprocessing.mirror_views
    # A large square image becomes one view of all of it; a 2:1 image, the distinct crops of its resized copy;
    # each followed by its mirror.
    assert EvalTransform(preprocessing)(Image.new("RGB", (300, 300))).shape == (2, 3, 32, 32)
    assert EvalTransform(preprocessing)(Image.new("RGB", (400, 200))).shape == (6, 3, 32, 32)
    described = run_script("load_model.py", "--weights", str(tmp_path / "best.safetensors"))
    assert "shorter side resized to 32 px, then 32x32 crops" in described.stdout
    assert "each also mirrored" in described.stdout


def test_evaluate_prints_and_writes_all_metrics(trained_checkpoint, tmp_path):
    held_out = make_labelled_folder(tmp_path / "held_out", n_per_class=16, seed=7)
    out = tmp_path / "metrics.json"
    result = run_script("evaluate.py", "--data", str(held_out), "--weights", str(trained_checkpoint),
                        "--json", str(out), "--workers", "0")
    assert result.returncode == 0, result.stderr
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc", "average_precision", "threshold",
                 "confusion matrix"):
        assert name in result.stdout
    report = json.loads(out.read_text())
    for key in ("accuracy", "precision", "recall", "f1", "roc_auc", "average_precision", "threshold",
                "n_real", "n_fake", "confusion_matrix"):
        assert key in report
    assert (report["n_real"], report["n_fake"]) == (16, 16)
    assert report["roc_auc"] > 0.9  # the tiny model learned the synthetic trace on unseen images


def test_evaluate_writes_per_image_scores(trained_checkpoint, labelled_folder, tmp_path):
    out = tmp_path / "scores.csv"
    result = run_script("evaluate.py", "--data", str(labelled_folder), "--weights", str(trained_checkpoint),
                        "--scores", str(out), "--workers", "0")
    assert result.returncode == 0, result.stderr
    rows = out.read_text().splitlines()
    assert rows[0] == "path,label,fake_probability" and len(rows) == 49
    assert {row.split(",")[1] for row in rows[1:]} == {"0", "1"}


def test_evaluate_one_class_folder_says_what_is_undefined(trained_checkpoint, tmp_path):
    only_fake = make_labelled_folder(tmp_path / "only_fake", n_per_class=6, seed=3)
    shutil.rmtree(only_fake / "real")
    result = run_script("evaluate.py", "--data", str(only_fake), "--weights", str(trained_checkpoint),
                        "--workers", "0")
    assert result.returncode == 0, result.stderr
    assert "roc_auc is undefined: needs both classes" in result.stdout
    assert "recall" in result.stdout


def test_evaluate_val_split_matches_training(trained_checkpoint, labelled_folder, tmp_path):
    result = run_script("evaluate.py", "--data", str(labelled_folder), "--weights", str(trained_checkpoint),
                        "--split", "val", "--workers", "0", "--json", str(tmp_path / "val.json"))
    assert result.returncode == 0, result.stderr
    assert "10 real, 10 fake" not in result.stdout and "5 real, 5 fake" in result.stdout
    # Same images, same temperature, same threshold: evaluate.py reproduces what training recorded,
    # calibration error included (the temperature is applied in both places, or in neither).
    card = load_model(trained_checkpoint)[1]
    measured = json.loads((tmp_path / "val.json").read_text())
    for key in ("roc_auc", "accuracy", "expected_calibration_error"):
        assert measured[key] == pytest.approx(card.validation_metrics[key], abs=1e-5), key
    assert card.temperature > 0 and card.training["history"][-1]["temperature"] == round(card.temperature, 4)


def test_predict_folder_plain_and_json_skipping_a_corrupt_file(trained_checkpoint, tmp_path):
    folder = tmp_path / "inbox"
    (folder / "nested").mkdir(parents=True)
    rng = np.random.default_rng(11)
    synthetic_image(rng, fake=True).save(folder / "a_fake.png")
    synthetic_image(rng, fake=False).save(folder / "nested" / "b_real.png")
    (folder / "c_broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    result = run_script("predict.py", "--image_path", str(folder), "--weights", str(trained_checkpoint), "--json")
    assert result.returncode == 1  # some files failed: the exit code says so
    records = [json.loads(line) for line in result.stdout.splitlines()]
    # The failed file has its record too, in its place, so a pipeline can tell "skipped" from "never seen".
    assert [r["path"].split("/")[-1] for r in records] == ["a_fake.png", "c_broken.jpg", "b_real.png"]
    failed = records.pop(1)
    assert set(failed) == {"path", "error"} and failed["error"] == "truncated image"  # said once, not nested
    assert all(set(r) == {"path", "label", "fake_probability", "decided_by", "evidence"} for r in records)
    assert all(r["evidence"] == [] and r["decided_by"] == "model" for r in records)  # no metadata, no say
    assert [r["label"] for r in records] == ["fake", "real"]
    assert "c_broken.jpg" in result.stderr and "2 scored, 1 failed" in result.stderr
    as_csv = run_script("predict.py", "--image_path", str(folder), "--weights", str(trained_checkpoint), "--csv",
                        str(tmp_path / "out.csv"))
    assert as_csv.returncode == 1
    rows = list(csv.DictReader(open(tmp_path / "out.csv")))
    assert [row["path"].split("/")[-1] for row in rows] == ["a_fake.png", "c_broken.jpg", "b_real.png"]
    assert rows[1]["error"] == "truncated image" and rows[1]["label"] == ""
    assert rows[0]["error"] == "" and rows[0]["label"] == "fake"

    plain = run_script("predict.py", "--image_path", str(folder / "a_fake.png"), "--weights", str(trained_checkpoint))
    assert plain.returncode == 0, plain.stderr
    path, label, probability = plain.stdout.strip().split("\t")
    assert path.endswith("a_fake.png") and label == "fake" and 0.0 <= float(probability) <= 1.0


def test_load_model_describes_the_checkpoint(trained_checkpoint):
    result = run_script("load_model.py", "--weights", str(trained_checkpoint))
    assert result.returncode == 0, result.stderr
    for fragment in ("artifact_cnn_tiny", "parameters", "32x32", "threshold", "normalisation", "trained on",
                     "validation", "deepfake 0."):
        assert fragment in result.stdout
    assert "mirrored" not in result.stdout  # train.py's default


@pytest.mark.parametrize("script, args, fragments", [
    ("predict.py", ["--image_path", "{tmp}/absent.jpg"], ["absent.jpg", "no such file"]),
    ("predict.py", ["--image_path", "{tmp}/notes.txt"], ["notes.txt", "not an image"]),
    ("predict.py", ["--image_path", "{tmp}/broken.png"], ["broken.png", "corrupt or truncated"]),
    ("predict.py", ["--image_path", "{tmp}/empty_dir"], ["empty_dir", "holds no images"]),
    # A large truncated JPEG fails its check at the smallest decoding scale, before the (absent) model loads.
    ("predict.py", ["--image_path", "{tmp}/truncated.jpg", "--weights", "{tmp}/absent.safetensors"],
     ["truncated.jpg", "truncated image"]),
    ("predict.py", ["--image_path", "{tmp}/ok.png", "--weights", "{tmp}/absent.safetensors"],
     ["absent.safetensors", "no such checkpoint"]),
    ("predict.py", ["--image_path", "{tmp}/ok.png", "--weights", "{tmp}/notes.txt"], ["notes.txt", "not a"]),
    ("evaluate.py", ["--data", "{tmp}/empty_dir"], ["empty_dir", "real/"]),
    ("train.py", ["--data", "{tmp}/empty_dir"], ["empty_dir", "real/"]),
    ("train.py", ["--data", "{tmp}/absent_dir"], ["absent_dir", "no such folder"]),
    ("train.py", ["--data", "{tmp}/empty_dir", "--augment-probability", "1.5"], ["--augment-probability", "1.5"]),
    ("train.py", ["--data", "{tmp}/empty_dir", "--resize", "64"], ["--resize", "64", "--img-size"]),
    ("train.py", ["--data", "{tmp}/empty_dir", "--reframe-probability", "2"], ["--reframe-probability", "2"]),
    ("train.py", ["--data", "{tmp}/empty_dir", "--ema-decay", "1"], ["--ema-decay", "1"]),
    ("train.py", ["--data", "{tmp}/empty_dir", "--relight-probability", "-0.5"], ["--relight-probability", "-0.5"]),
    ("train.py", ["--data", "{tmp}/empty_dir", "--mixup", "-1"], ["--mixup", "-1"]),
    ("train.py", ["--data", "{tmp}/empty_dir", "--weight-decay", "-0.1"], ["--weight-decay", "-0.1"]),
    ("train.py", ["--data", "{tmp}/empty_dir", "--train-fraction", "0"], ["--train-fraction", "0"]),
    ("train.py", ["--data", "{tmp}/empty_dir", "--reals-only"], ["--reals-only", "--pseudo-fakes"]),
    ("train.py", ["--data", "{tmp}/empty_dir", "--epoch-size", "-1"], ["--epoch-size", "-1"]),
    ("-m", ["deepfake.synthesize", "sbi", "--data", "{tmp}/absent_dir", "--out", "{tmp}/out"],
     ["absent_dir", "no such folder"]),
    ("-m", ["deepfake.synthesize", "autoencoder", "--data", "{tmp}/empty_dir", "--out", "{tmp}/out",
            "--taef2", "{tmp}/empty_dir"], ["taef2_encoder.pth", "no such file", "--taef2"]),
    ("load_model.py", ["--weights", "{tmp}/notes.txt"], ["notes.txt"]),
    ("predict.py", ["--image_path", "{tmp}/ok.png", "--backend", "onnx", "--weights", "{tmp}/absent.onnx"],
     ["absent.onnx", "no such ONNX file"]),
    ("predict.py", ["--image_path", "{tmp}/ok.png", "--backend", "onnx", "--weights", "{tmp}/notes.txt"],
     ["notes.txt", "export this checkpoint first"]),
    ("predict.py", ["--image_path", "{tmp}/ok.png", "--backend", "onnx", "--explain", "{tmp}/maps"],
     ["--explain", "torch backend"]),
    ("-m", ["deepfake.export", "--weights", "{tmp}/absent.safetensors", "--onnx", "{tmp}/x.onnx"],
     ["absent.safetensors", "no such checkpoint"]),
])
def test_user_errors_are_one_line(tmp_path, script, args, fragments):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "empty_dir").mkdir()
    Image.new("RGB", (16, 16)).save(tmp_path / "ok.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 256, (800, 800, 3), dtype=np.uint8))
    jpeg = io.BytesIO()
    noise.save(jpeg, format="JPEG", quality=90)
    (tmp_path / "truncated.jpg").write_bytes(jpeg.getvalue()[: len(jpeg.getvalue()) * 9 // 10])
    result = run_script(script, *[arg.format(tmp=tmp_path) for arg in args])
    assert_one_line_error(result, *fragments)


def test_evaluate_compares_several_checkpoints_in_one_table(trained_checkpoint, labelled_folder, tmp_path):
    other = tmp_path / "other.safetensors"
    shutil.copy(trained_checkpoint, other)
    out = tmp_path / "comparison.json"
    result = run_script("evaluate.py", "--data", str(labelled_folder), "--weights", str(trained_checkpoint),
                        str(other), "--json", str(out), "--workers", "0")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[1].split()[:3] == ["checkpoint", "accuracy", "precision"] and "images_per_second" in lines[1]
    assert lines[2].startswith("best.safetensors") and lines[3].startswith("other.safetensors")
    assert lines[2].split()[1:-1] == lines[3].split()[1:-1]  # same weights, same metrics
    reports = json.loads(out.read_text())
    assert [Path(r["weights"]).name for r in reports] == ["best.safetensors", "other.safetensors"]


@pytest.mark.slow
def test_amp_trains_and_predicts_close_to_float32(labelled_folder, trained_checkpoint, tmp_path):
    """--amp (bfloat16 autocast on this CPU): training runs end to end; prediction stays near float32."""
    trained = run_script("train.py", "--data", str(labelled_folder), *TINY_TRAINING, "--epochs", "1",
                          "--amp", "--out", str(tmp_path))
    assert trained.returncode == 0, trained.stderr
    assert json.loads(run_script("load_model.py", "--weights", str(tmp_path / "best.safetensors"), "--json")
                      .stdout)["training"]["amp"] is True

    def probabilities(*flags):
        result = run_script("predict.py", "--image_path", str(labelled_folder / "fake"), "--json",
                            "--weights", str(trained_checkpoint), *flags)
        assert result.returncode == 0, result.stderr
        return np.array([json.loads(line)["fake_probability"] for line in result.stdout.splitlines()])

    full, mixed = probabilities(), probabilities("--amp")
    # bfloat16 keeps 8 significant bits per activation: on this tiny one-epoch model that moves a probability
    # by up to 0.021 (0.013 over 200 images on the shipped weights). A float16 or bfloat16 sigmoid, or a
    # calibration applied in low precision, would move it by far more.
    assert len(full) == 24 and np.abs(full - mixed).max() < 0.03


def make_video_folder(root: Path, seed: int, n_videos: int = 4, frames: int = 3) -> Path:
    rng = np.random.default_rng(seed)
    for label, folder in enumerate(("real", "fake")):
        for video in range(n_videos):
            (root / folder / f"{video:03d}").mkdir(parents=True)
            for frame in range(frames):
                synthetic_image(rng, fake=bool(label)).save(root / folder / f"{video:03d}" / f"{frame}.png")
    return root


@pytest.mark.parametrize("rule", ["mean", "max"])
def test_per_video_metrics_score_each_sub_folder_once(trained_checkpoint, tmp_path, rule):
    # Two --data folders that both hold real/000 etc.: 16 videos, not 8.
    first, second = make_video_folder(tmp_path / "a", seed=1), make_video_folder(tmp_path / "b", seed=2)
    result = run_script("evaluate.py", "--data", str(first), str(second), "--weights", str(trained_checkpoint),
                        "--per-video", rule, "--workers", "0", "--json", str(tmp_path / "r.json"),
                        "--scores", str(tmp_path / "s.csv"), "--report", str(tmp_path / "report.html"))
    assert result.returncode == 0, result.stderr
    assert f"Per video: 16 videos (8 real, 8 fake), each scored by the {rule} of its frames" in \
        (tmp_path / "report.html").read_text()
    videos = json.loads((tmp_path / "r.json").read_text())["per_video"]
    assert (videos["n_videos"], videos["n_real"], videos["n_fake"], videos["aggregate"]) == (16, 8, 8, rule)
    assert f"16 videos (8 real, 8 fake; 3.0 frames each on average, their {rule})" in result.stdout
    frames = {}
    for row in csv.DictReader(open(tmp_path / "s.csv")):
        frames.setdefault((Path(row["path"]).parent, int(row["label"])), []).append(float(row["fake_probability"]))
    combine = {"mean": np.mean, "max": np.max}[rule]
    expected = roc_auc_score([label for _, label in frames], [combine(scores) for scores in frames.values()])
    assert videos["roc_auc"] == pytest.approx(expected)


# ---------------------------------------------------------------- bad flags: one line, exit 2, in-process
@pytest.mark.parametrize("script, argv, fragments", [
    ("predict.py", ["--image_path", "{ok}", "--device", "gpu"], ["--device gpu", "not a device", "cpu, cuda"]),
    ("predict.py", ["--image_path", "{ok}", "--device", "cuda"], ["--device cuda", "no CUDA GPU", "--device cpu"]),
    ("predict.py", ["--image_path", "{ok}", "--threshold", "1.5"], ["--threshold", "between 0 and 1", "1.5"]),
    ("predict.py", ["--image_path", "{ok}", "--batch-size", "0"], ["--batch-size must be at least 1, not 0"]),
    ("predict.py", ["--image_path", "{ok}", "--workers", "-1"], ["--workers must be at least 0", "not -1"]),
    ("predict.py", ["--image_path", "{ok}", "--csv", "{tmp}"], ["--csv", "is a folder"]),
    ("predict.py", ["--image_path", "{ok}", "--explain", "{ok}"], ["--explain", "is a file; give a folder"]),
    ("predict.py", ["--image_path", "{ok}", "--csv", "{ok}/sub/out.csv"], ["--csv", "is a file, not a folder"]),
    ("evaluate.py", ["--data", "{tmp}", "--json", "{ok}/m.json"], ["--json", "is a file, not a folder"]),
    ("evaluate.py", ["--data", "{tmp}", "--plots", "{ok}"], ["--plots", "is a file; give a folder"]),
    ("evaluate.py", ["--data", "{tmp}", "--device", "cuda:0"], ["--device cuda:0", "no CUDA GPU"]),
    ("evaluate.py", ["--data", "{tmp}", "--threshold", "-0.1"], ["--threshold", "-0.1"]),
    ("evaluate.py", ["--data", "{tmp}", "--batch-size", "0"], ["--batch-size must be at least 1"]),
    ("train.py", ["--data", "{tmp}", "--device", "cuda"], ["--device cuda", "no CUDA GPU"]),
    ("train.py", ["--data", "{tmp}", "--device", "gpu"], ["--device gpu", "not a device"]),
    ("-m", ["deepfake.serve", "--device", "cuda"], ["--device cuda", "no CUDA GPU"]),
])
def test_bad_flags_are_one_line_before_any_work(tmp_path, monkeypatch, script, argv, fragments):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # the same answer on a machine with a GPU
    Image.new("RGB", (64, 64)).save(tmp_path / "ok.png")
    result = run_script(script, *[arg.format(tmp=tmp_path, ok=tmp_path / "ok.png") for arg in argv])
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_train_with_only_data_trains_the_shipped_recipe(monkeypatch, tmp_path):
    """`python train.py --data DIR` trains what ships: the architecture and recipe of tools/recipe.sh."""
    import re

    import deepfake.training.trainer as trainer
    from deepfake import cli
    from deepfake.checkpoint import load_model
    from deepfake.inference.detector import DEFAULT_WEIGHTS
    configs = []
    monkeypatch.setattr(trainer, "fit", configs.append)
    assert cli.train_main(["--data", str(tmp_path)]) == 0
    config = configs.pop()
    recipe = re.search(r"RECIPE=\((.*?)\)", (ROOT / "tools" / "recipe.sh").read_text(), re.S).group(1).split()
    # A flag followed by another flag (or by nothing) is a switch, such as --balance-sets.
    flags = {token: (recipe[i + 1] if i + 1 < len(recipe) and not recipe[i + 1].startswith("--") else True)
             for i, token in enumerate(recipe) if token.startswith("--")}
    assert config.arch == flags["--arch"] == load_model(DEFAULT_WEIGHTS)[1].arch
    assert (config.resize, config.img_size) == (int(flags["--resize"]), int(flags["--img-size"]))
    assert (config.lr, config.weight_decay) == (float(flags["--lr"]), float(flags["--weight-decay"]))
    assert config.relight_probability == float(flags["--relight-probability"])
    assert config.balance_sets and flags["--balance-sets"] is True
    # Another architecture takes the plain defaults; a flag given wins over the recipe.
    assert cli.train_main(["--data", str(tmp_path), "--arch", "artifact_cnn_tiny"]) == 0
    plain = configs.pop()
    assert (plain.img_size, plain.resize, plain.lr, plain.balance_sets) == (128, 0, 5e-4, False)
    assert cli.train_main(["--data", str(tmp_path), "--img-size", "96", "--no-balance-sets"]) == 0
    given = configs.pop()
    assert (given.img_size, given.resize, given.balance_sets) == (96, 96, False)


def test_every_train_flag_is_a_config_field_and_python_trains_what_the_cli_trains(monkeypatch, tmp_path):
    """Training defaults live in TrainConfig alone: train.py's flags are its fields (none dropped), their
    defaults are its defaults, and `fit(TrainConfig(...))` from Python trains what `train.py` trains."""
    from dataclasses import fields

    import deepfake.training.trainer as trainer
    from deepfake import cli
    from deepfake.cli.train import get_train_parser
    from deepfake.training.config import TrainConfig
    names = {field.name for field in fields(TrainConfig)}
    parser = get_train_parser()
    dests = {action.dest for action in parser._actions if action.dest != "help"}
    assert dests - names == {"trainable_blocks"}  # the one flag that is not a field: it goes into model_kwargs
    assert parser.get_default("epochs") == TrainConfig.epochs and parser.get_default("seed") == TrainConfig.seed
    configs = []
    monkeypatch.setattr(trainer, "fit", configs.append)
    assert cli.train_main(["--data", str(tmp_path)]) == 0
    from_cli = configs.pop()
    from_python = TrainConfig(data_dirs=[str(tmp_path)], show_progress=from_cli.show_progress)
    assert from_cli == from_python
    assert from_python == TrainConfig.for_arch("mobilenet_v2", data_dirs=[str(tmp_path)],
                                               show_progress=from_cli.show_progress)
    assert (from_python.arch, from_python.img_size, from_python.resize) == ("mobilenet_v2", 224, 224)
    tiny = TrainConfig.for_arch("artifact_cnn_tiny", data_dirs=[str(tmp_path)], lr=1e-3)
    assert (tiny.img_size, tiny.resize, tiny.lr) == (128, 0, 1e-3)  # plain defaults; a value given wins


def test_a_tiny_validation_split_is_warned_about(labelled_folder, tmp_path):
    from deepfake.training.trainer import TrainConfig, fit
    said = []
    fit(TrainConfig(data_dirs=[str(labelled_folder)], out_dir=str(tmp_path), arch="artifact_cnn_tiny", epochs=1,
                    img_size=32, batch_size=8, workers=0, show_progress=False, device="cpu"), log=said.append)
    warning = [line for line in said if line.startswith("warning: the validation split holds")]
    assert len(warning) == 1 and "below 50 images per class" in warning[0]


def test_predict_takes_several_paths_each_once(trained_checkpoint, tmp_path):
    rng = np.random.default_rng(4)
    for name in ("a.png", "b.png"):
        synthetic_image(rng, fake=False, size=64).save(tmp_path / name)
    result = run_script("predict.py", "--image_path", str(tmp_path / "a.png"), str(tmp_path / "b.png"),
                        str(tmp_path), "--weights", str(trained_checkpoint), "--json")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["path"].rsplit("/", 1)[-1] for line in result.stdout.splitlines()] == ["a.png", "b.png"]


def test_a_broken_symlink_given_directly_says_so(tmp_path):
    import os

    os.symlink(tmp_path / "gone.png", tmp_path / "link.png")
    result = run_script("predict.py", "--image_path", str(tmp_path / "link.png"))
    assert result.returncode == 2 and "link.png: broken symlink (it points to" in result.stderr and "gone.png" in result.stderr


def test_predict_help_and_a_bad_flag_never_import_torch():
    import subprocess
    import sys
    probe = ("import sys\nfrom deepfake.cli.predict import get_predict_parser\n"
             "get_predict_parser().parse_args(['--image_path', 'x.png'])\nprint('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert result.stdout.strip() == "False", result.stderr


def test_on_a_terminal_results_and_the_bar_never_share_a_line(trained_checkpoint, tmp_path):
    """Under a pseudo-terminal (stdout and stderr both a tty, as for a person): every result and the summary
    stand on their own; the bar only ever shares a line with its own redraws."""
    import os
    import pty
    import subprocess
    import sys
    rng = np.random.default_rng(8)
    for index in range(40):
        synthetic_image(rng, fake=bool(index % 2), size=64).save(tmp_path / f"{index:02d}.png")
    primary, secondary = pty.openpty()
    process = subprocess.Popen([sys.executable, str(ROOT / "predict.py"), "--image_path", str(tmp_path), "--weights",
                                str(trained_checkpoint), "--batch-size", "4", "--workers", "0"],
                               stdout=secondary, stderr=secondary, cwd=ROOT)
    os.close(secondary)
    seen = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the terminal closed: the program ended
            break
        if not chunk:
            break
        seen += chunk
    assert process.wait(timeout=120) == 0
    segments = [segment.strip() for line in seen.decode().splitlines() for segment in line.split("\r")]
    segments = [segment for segment in segments if segment and not segment.startswith("\x1b")]
    results = [segment for segment in segments if "\t" in segment]
    assert len(results) == 40 and all(segment.startswith(str(tmp_path)) for segment in results)
    assert not any("%|" in segment and "\t" in segment for segment in segments)
    assert "40 scored, 0 failed" in segments


def test_one_deepfake_command_lists_every_subcommand_and_each_alias_runs_the_same(trained_checkpoint, tmp_path,
                                                                                 capsys):
    """`deepfake SUBCOMMAND` (and `python -m deepfake`) is every job; the root scripts, the deepfake-* console
    scripts and `python -m deepfake.X` stay as aliases of the same functions."""
    import tomllib

    from deepfake import cli
    from deepfake.cli.subcommands import SUBCOMMANDS, dispatch
    assert set(SUBCOMMANDS) == {"predict", "train", "evaluate", "info", "adapt", "serve", "corpus", "export",
                                "convert", "recalibrate", "synthesize"}
    with pytest.raises(SystemExit) as exit_code:
        cli.main(["--help"])
    listed = capsys.readouterr().out
    assert exit_code.value.code == 0 and all(f"\n  {name} " in listed for name in SUBCOMMANDS)
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["deepfake"] == "deepfake.cli:main"
    for script, target in scripts.items():  # every console script names a function of deepfake.cli
        assert callable(getattr(cli, target.split(":")[1])), script
    for command in SUBCOMMANDS.values():
        assert callable(getattr(cli, command.main)) and command.main.endswith("_main")
    image = tmp_path / "photo.png"
    synthetic_image(np.random.default_rng(1), fake=True, size=64).save(image)
    via_alias = run_script("predict.py", "--image_path", str(image), "--weights", str(trained_checkpoint), "--json")
    assert dispatch(["predict", "--image_path", str(image), "--weights", str(trained_checkpoint), "--json"]) == 0
    assert capsys.readouterr().out == via_alias.stdout
    with pytest.raises(SystemExit) as exit_code:
        cli.main(["nope"])
    assert exit_code.value.code == 2 and "error: no subcommand 'nope'" in capsys.readouterr().err
