"""Data-parallel training: two gloo processes under torchrun take the same steps as one process; sharded
prediction and evaluation write what one process writes."""
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT, run_script
from deepfake.distributed import Cluster, GlobalBatchSampler
from deepfake.registry import create_model
from deepfake.training.trainer import seed_everything

# Flip-symmetric images at exactly the crop size and no degradations: the random flip and crop are then the
# identity, so the only difference left between the runs is who computes which half of each batch.
COMMON = ["--img-size", "32", "--epochs", "2", "--batch-size", "8", "--lr", "0.01", "--no-augment", "--eval-crops",
          "1", "--workers", "0"]
# Every layer of these is batch-independent (GroupNorm; frozen BatchNorm in eval mode) and drops nothing (each
# rank draws its own dropout masks), so two ranks must take exactly one process's steps: the smallest CNN trained
# whole, and a frozen MobileNetV2 whose head trains on features that rank 0 caches for both (the one path where
# ranks share work). A wide layer sums half-batch gradients in another order than the whole batch's, and Adam
# scales every coordinate to unit steps, so a weight whose gradient is float noise moves by up to --lr either way:
# in the pretrained run 1 weight in 10,000 may land apart (seen: 6 of 330,753 in MobileNetV2's head); all the
# others, and the tiny CNN's every weight, must match. (A fused ViT fine-tuning its last block also matched,
# 7 of 442,368 apart; it was dropped for the suite's time, 50 s, as it adds no path the tiny CNN lacks.)
RUNS = {
    "artifact_cnn_tiny": ([], {}),
    "mobilenet_v2": (["--model-kwargs", "dropout=0", "--trainable-blocks", "0"], {"dropout": 0, "trainable_blocks": 0}),
}


def symmetric_folder(root, n_per_class=20):
    rng = np.random.default_rng(5)
    for label, folder in enumerate(("real", "fake")):
        (root / folder).mkdir(parents=True)
        for index in range(n_per_class):
            half = rng.normal(128, 30, (32, 16, 3))
            if label:
                half[::2, ::2] += 40
            pixels = np.concatenate([half, half[:, ::-1]], axis=1).clip(0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / folder / f"{index:03d}.png")
    return root


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_global_batches_are_cut_into_equal_rank_slices_of_one_shuffle():
    single = list(GlobalBatchSampler(20, 8, Cluster(), seed=3))
    rank0 = list(GlobalBatchSampler(20, 8, Cluster(0, 2), seed=3))
    rank1 = list(GlobalBatchSampler(20, 8, Cluster(1, 2), seed=3))
    assert len(single) == len(rank0) == len(rank1) == 2  # 20 // 8: the incomplete batch is dropped
    assert [a + b for a, b in zip(rank0, rank1)] == single
    assert all(len(batch) == 4 for batch in rank0 + rank1)
    assert sorted(i for batch in single for i in batch) != list(range(16))  # shuffled, not the first 16
    with pytest.raises(ValueError, match="does not divide"):
        GlobalBatchSampler(20, 7, Cluster(0, 2), seed=3)


def test_balanced_epochs_draw_the_same_number_from_each_set():
    set_ids = [0] * 30 + [1] * 4 + [2] * 8
    sampler = GlobalBatchSampler(len(set_ids), 6, Cluster(), seed=1, set_ids=set_ids)
    order = sampler.epoch_order()
    assert len(order) == 42 and len(sampler) == 7
    counts = [sum(set_ids[i] == s for i in order) for s in range(3)]
    assert counts == [14, 14, 14]
    assert len(set(i for i in order if set_ids[i] == 0)) == 14  # the big set: a subset, no repeats
    assert set(i for i in order if set_ids[i] == 1) == {30, 31, 32, 33}  # the small one: all, repeated
    assert sampler.epoch_order() == order  # seeded
    assert GlobalBatchSampler(len(set_ids), 6, Cluster(), seed=2, set_ids=set_ids).epoch_order() != order


def test_epoch_size_caps_an_epoch_with_a_fresh_draw_each_time():
    set_ids = [0] * 30 + [1] * 4 + [2] * 8
    sampler = GlobalBatchSampler(len(set_ids), 6, Cluster(), seed=1, set_ids=set_ids, epoch_size=12)
    order = sampler.epoch_order()
    assert len(order) == 12 and len(sampler) == 2
    assert [sum(set_ids[i] == s for i in order) for s in range(3)] == [4, 4, 4]
    plain = GlobalBatchSampler(42, 6, Cluster(), seed=1, epoch_size=18)
    assert len(plain.epoch_order()) == 18 == len(set(plain.epoch_order())) and len(plain) == 3
    assert GlobalBatchSampler(42, 6, Cluster(), seed=2, epoch_size=18).epoch_order() != plain.epoch_order()
    assert len(GlobalBatchSampler(42, 6, Cluster(), seed=1, epoch_size=1000)) == 7  # at most one pass


@pytest.mark.slow
@pytest.mark.parametrize("arch", list(RUNS))
def test_two_process_ddp_matches_a_single_process_run(tmp_path, arch):
    flags, model_kwargs = RUNS[arch]
    allowed_apart = 0.0 if arch == "artifact_cnn_tiny" else 1e-4
    run = ["--arch", arch, *flags, *COMMON]
    data = symmetric_folder(tmp_path / "data")
    single = run_script("train.py", "--data", str(data), *run, "--out", str(tmp_path / "single"))
    assert single.returncode == 0, single.stderr

    environment = dict(os.environ, OMP_NUM_THREADS="1")
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
                          str(ROOT / "train.py"), "--data", str(data), *run, "--out", str(tmp_path / "ddp")],
                         capture_output=True, text=True, cwd=ROOT, timeout=600, env=environment)
    assert ddp.returncode == 0, ddp.stderr
    assert "2 processes" in ddp.stdout and ddp.stdout.count("epoch 2/2") == 1  # only rank 0 speaks

    def final_state(run):
        return torch.load(tmp_path / run / "last.pt", weights_only=True)

    one, two = final_state("single"), final_state("ddp")
    assert one["model"].keys() == two["model"].keys()
    apart = sum((~torch.isclose(tensor, two["model"][name], atol=1e-5, rtol=1e-4)).sum().item()
                for name, tensor in one["model"].items())
    assert apart <= allowed_apart * sum(tensor.numel() for tensor in one["model"].values()), apart
    # Validation was scored half by each rank and gathered: the same metrics as one process.
    for row_one, row_two in zip(one["history"], two["history"]):
        assert row_one["val_roc_auc"] == pytest.approx(row_two["val_roc_auc"], abs=1e-6)
        assert row_one["train_loss"] == pytest.approx(row_two["train_loss"], abs=1e-4)
    # And training moved the weights: equal because both took the same steps, not because neither took any.
    seed_everything(0)
    initial = create_model(arch, **model_kwargs).state_dict()
    assert max((one["model"][name] - initial[name]).abs().max().item() for name in one["model"]) > 1e-2


# ---------------------------------------------------------------- sharded prediction and evaluation
# Both runs merge the shards back into one process's order before any metric (merged_scores), so every sum
# runs in the same order; what differs is each image's score itself: a rank convolves a half batch, and the
# CPU kernels (oneDNN) block and vectorise by batch size, which moves a probability in the ninth decimal
# (seen in CI: ECE 0.3833405417 against 0.3833405433). Counts, paths, labels and the confusion matrix must
# match exactly; every float within FIGURE_TOLERANCE.
FIGURE_TOLERANCE = 1e-6


def assert_same_figures(sharded, single, where: str = "") -> None:
    """`sharded` equals `single` with floats compared to FIGURE_TOLERANCE (absolute) and everything else exact;
    the failure names the key path that differs."""
    if isinstance(single, float) or isinstance(sharded, float):
        both_numbers = all(isinstance(value, (int, float)) for value in (sharded, single))
        assert both_numbers and sharded == pytest.approx(single, abs=FIGURE_TOLERANCE), where
    elif isinstance(single, dict):
        assert isinstance(sharded, dict) and sharded.keys() == single.keys(), where
        for key in single:
            assert_same_figures(sharded[key], single[key], f"{where}.{key}")
    elif isinstance(single, (list, tuple)):
        assert isinstance(sharded, (list, tuple)) and len(sharded) == len(single), where
        for index, (left, right) in enumerate(zip(sharded, single)):
            assert_same_figures(left, right, f"{where}[{index}]")
    else:
        assert sharded == single, where


def numbers_as_floats(fields):
    """A text row with its decimal numbers as floats (paths and labels stay text), for assert_same_figures."""
    def value(field):
        try:
            return float(field) if "." in field else field
        except ValueError:
            return field
    return [value(field) for field in fields]


def csv_rows(path):
    import csv
    with open(path, newline="") as handle:
        return [numbers_as_floats(row) for row in csv.reader(handle)]


def stdout_rows(text: str):
    return [numbers_as_floats(line.split("\t")) for line in text.splitlines()]


def test_figures_are_compared_to_the_tolerance_and_everything_else_exactly():
    single = {"roc_auc": 0.75, "confusion_matrix": [[4, 1], [2, 3]], "arch": "a", "note": None}
    assert_same_figures(dict(single, roc_auc=0.75 + FIGURE_TOLERANCE / 2), single)
    for changed in ({"roc_auc": 0.75 + 10 * FIGURE_TOLERANCE}, {"confusion_matrix": [[5, 0], [2, 3]]},
                    {"arch": "b"}, {"note": 0.0}):
        with pytest.raises(AssertionError):
            assert_same_figures(dict(single, **changed), single)
    assert stdout_rows("a.png\tfake\t0.5000") == [["a.png", "fake", 0.5]]


def torchrun(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_addr", "127.0.0.1", "--master_port", str(free_port()), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))


@pytest.mark.slow
def test_sharded_prediction_writes_what_one_process_writes(tmp_path, trained_checkpoint):
    """Good images, a corrupt one and a video: rank 0 merges both shards into the single-process CSV and
    stdout, row for row (probabilities to FIGURE_TOLERANCE), and the failure is reported once, with the same
    exit code."""
    from test_faces_video import write_video
    folder = symmetric_folder(tmp_path / "mixed", n_per_class=5)
    (folder / "real" / "002_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    write_video(folder / "fake" / "clip.mp4", Image.open(folder / "fake" / "000.png").resize((64, 64)), n_frames=4)
    common = ["--image_path", str(folder), "--weights", str(trained_checkpoint), "--workers", "0"]
    single = run_script("predict.py", *common, "--csv", str(tmp_path / "single.csv"))
    sharded = torchrun(str(ROOT / "predict.py"), *common, "--csv", str(tmp_path / "sharded.csv"))
    assert single.returncode == 1 and sharded.returncode == 1  # one file failed, in both
    assert_same_figures(csv_rows(tmp_path / "sharded.csv"), csv_rows(tmp_path / "single.csv"))
    assert_same_figures(stdout_rows(sharded.stdout), stdout_rows(single.stdout))
    assert sharded.stderr.count("skipped:") == 1 and sharded.stderr.count("11 scored, 1 failed") == 1
    assert "11 scored, 1 failed" in single.stderr
    assert "clip.mp4" in single.stdout  # the video was scored, by one rank or the other


@pytest.mark.slow
def test_sharded_evaluation_gathers_every_score_before_the_metrics(tmp_path, trained_checkpoint):
    folder = symmetric_folder(tmp_path / "data", n_per_class=9)  # odd: the shards differ in size
    common = ["--data", str(folder), "--weights", str(trained_checkpoint), "--workers", "0"]
    single = run_script("evaluate.py", *common, "--json", str(tmp_path / "single.json"))
    sharded = torchrun(str(ROOT / "evaluate.py"), *common, "--json", str(tmp_path / "sharded.json"))
    assert single.returncode == 0 and sharded.returncode == 0, sharded.stderr
    one, two = (json.loads((tmp_path / f"{name}.json").read_text()) for name in ("single", "sharded"))
    one.pop("images_per_second"), two.pop("images_per_second")
    assert_same_figures(two, one)
    assert one["n_real"] + one["n_fake"] == 18 and two["confusion_matrix"] == one["confusion_matrix"]
    refused = torchrun(str(ROOT / "evaluate.py"), *common, "--robustness")
    assert refused.returncode != 0 and refused.stderr.count("run in one process") == 1
