"""Shared fixtures: small synthetic labelled folders, made fresh in a temp dir for each test session.

The "fake" images carry a faint 2-pixel checkerboard, a stand-in for the periodic upsampling traces of
generators, so a tiny CNN learns the task in a few epochs and the end-to-end tests check real learning.
"""
import contextlib
import importlib.util
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deepfake.samples import face_image, make_labelled_folder, synthetic_image  # noqa: F401 (the tests' images)

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"


# The smallest training run the tests make: the tiny architecture on 32-px crops, in the test's own process.
TINY_TRAINING = ("--arch", "artifact_cnn_tiny", "--img-size", "32", "--batch-size", "8", "--workers", "0")


def tiny_card(**overrides):
    """The card of the smallest architecture, for checkpoint tests that need no trained model."""
    from deepfake.checkpoint import ModelCard
    from deepfake.preprocessing import Preprocessing
    values = dict(arch="artifact_cnn_tiny", model_kwargs={"hidden": 8}, preprocessing=Preprocessing(input_size=32),
                  threshold=0.37, threshold_rule="balanced_accuracy on the validation split")
    return ModelCard(**dict(values, **overrides))


def make_face_folder(root: Path, n_per_class: int = 6, seed: int = 0) -> Path:
    """real/ holds faces (the astronaut's, reframed and tinted), fake/ the synthetic fakes: a face method has
    landmarks to find in every real image."""
    make_labelled_folder(root, n_per_class, seed)
    rng = np.random.default_rng(seed)
    for path in sorted((root / "real").iterdir()):
        face_image(rng).save(path)
    return root


@pytest.fixture(scope="session")
def labelled_folder(tmp_path_factory) -> Path:
    return make_labelled_folder(tmp_path_factory.mktemp("labelled"))


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory, labelled_folder) -> Path:
    """A tiny model trained through the real train.py CLI, shared by the tests that need a checkpoint.

    In a process of its own: whichever test first asks for it may have patched this one (argparse, say)."""
    out = tmp_path_factory.mktemp("run")
    result = run_process("train.py", "--data", str(labelled_folder), "--arch", "artifact_cnn_tiny", "--epochs", "4",
                        "--img-size", "32", "--batch-size", "8", "--lr", "0.01", "--workers", "0", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out / "best.safetensors"


def run_script(script: str, *args: str) -> subprocess.CompletedProcess:
    """Run a root script (or `-m deepfake.X`) as a user does, from the project root, in this process.

    The entry point is the one the script calls (cli.run_cli), so one-line errors, exit codes and output are the
    user's. What only a new process shows (signals, import side effects, installed entry points) uses run_process."""
    from deepfake import cli
    # Each root script NAME.py and each `python -m deepfake.NAME` calls deepfake.cli.NAME and nothing else
    # (test_layers checks the modules' __main__); tools/ scripts are scripts of their own.
    module = args[0] if script == "-m" else script
    name = module.removeprefix("deepfake.") if script == "-m" else module.removesuffix(".py")
    if "/" in name or "." in name or not callable(getattr(cli, name, None)):
        return run_process(script, *args)
    argv = list(args[1:] if script == "-m" else args)
    out, err = io.StringIO(), io.StringIO()
    with working_directory(ROOT), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            getattr(cli, name)(argv)
            code = 0
        except SystemExit as stopped:
            code = stopped.code if isinstance(stopped.code, int) else (0 if stopped.code is None else 1)
    return subprocess.CompletedProcess([script, *args], code, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def working_directory(path: Path):
    """contextlib.chdir, which needs Python 3.11; the project supports 3.10."""
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def run_process(script: str, *args: str) -> subprocess.CompletedProcess:
    """Run a root script, `-m module` or tools/ script in a new Python, from the project root."""
    target = [script] if script.startswith("-") else [str(ROOT / script)]
    return subprocess.run([sys.executable, *target, *args], capture_output=True, text=True, cwd=ROOT, timeout=600)


def load_tool(name: str):
    """tools/NAME.py (or experiments/NAME.py) as a module: scripts, not part of the package, whose pieces are
    tested."""
    path = next(path for path in (ROOT / "tools" / f"{name}.py", ROOT / "experiments" / f"{name}.py") if path.exists())
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


requires_shared_data = pytest.mark.skipif(not SHARED_DATASETS.is_dir(),
                                          reason="../shared/datasets is not beside the project")
