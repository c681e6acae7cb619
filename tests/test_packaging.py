"""The package as pip sees it: the pins, the extras, the wheel's contents, and a wheel that predicts on its own."""
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from conftest import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def pins(lines) -> set:
    """`name==version` requirements, names normalised as pip does; comments, hashes and -r lines dropped."""
    found = set()
    for line in lines:
        line = line.split("#", 1)[0].split(" --hash", 1)[0].strip()
        if line and not line.startswith("-"):
            name, version = line.split("==")
            found.add(f"{re.sub(r'[-_.]+', '-', name).lower()}=={version}")
    return found


def extra(name: str) -> set:
    """An extra's pins, with deepfake[...] self-references expanded."""
    found = set()
    for requirement in PROJECT["optional-dependencies"][name]:
        inner = re.fullmatch(r"deepfake\[(.+)\]", requirement)
        found |= set().union(*(extra(part) for part in inner[1].split(","))) if inner else pins([requirement])
    return found


def test_requirements_txt_installs_the_core_and_every_extra_but_dev():
    assert pins((ROOT / "requirements.txt").read_text().splitlines()) == pins(PROJECT["dependencies"]) | extra("all")
    dev_only = pins((ROOT / "requirements-dev.txt").read_text().splitlines())
    assert dev_only == extra("dev") - extra("all") - pins(PROJECT["dependencies"])
    assert set(PROJECT["optional-dependencies"]) >= {"faces", "video", "report", "onnx", "serve", "dev", "all"}


def test_the_listed_packages_are_the_package_folders():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(path.parent.relative_to(ROOT).parts) for path in (ROOT / "deepfake").rglob("__init__.py")}
    assert listed - {"deepfake.weights"} == on_disk


@pytest.mark.parametrize("blocked, code, extra_name", [
    ("av", "from deepfake.data.video import sample_frames; sample_frames('clip.mp4')", "video"),
    ("captum", "import deepfake.inference.explain", "report"),
    ("onnxruntime", "from deepfake.inference.onnx_backend import load_onnx_model; load_onnx_model('m.onnx')", "onnx"),
    ("uvicorn", "from deepfake.cli import serve_main; serve_main([])", "serve"),
])
def test_a_missing_extra_is_one_line_naming_it(blocked, code, extra_name, tmp_path):
    (tmp_path / "clip.mp4").write_bytes(b"\0" * 64)
    (tmp_path / "m.onnx").write_bytes(b"\0" * 64)
    program = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); sys.modules[{blocked!r}] = None\n"
               f"from deepfake.errors import DeepfakeError\n"
               f"try:\n    {code}\nexcept DeepfakeError as error:\n    print(error)\n")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"pip install 'deepfake[{extra_name}]'" in result.stdout and len(result.stdout.splitlines()) == 1


@pytest.mark.slow
def test_the_wheel_installs_and_predicts_outside_the_repository(tmp_path):
    """Build the wheel from the tracked files alone, install it with its `all` extra into a fresh venv and run
    its console script away from the repository. The venv sees this environment's packages through a .pth
    file (no 5-GB reinstall of torch), and pip installs with --no-index: the extras' pins must then all be
    met by what requirements.txt installed, or the install fails."""
    source = tmp_path / "source"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout: the tracked files are unknown")
    for name in tracked.stdout.splitlines():
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    built = subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"),
                            str(source)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((tmp_path / "dist").glob("deepfake-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    (site / "project_environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run([*pip, "--python", str(python), "install", "--no-index", f"{wheel}[all]"],
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]

    away = tmp_path / "elsewhere"
    away.mkdir()
    from deepfake.samples import write_samples
    sample = write_samples(away / "samples")[0]
    where = subprocess.run([str(python), "-c", "import deepfake, deepfake.inference.detector as d; "
                            "print(deepfake.__file__); print(d.DEFAULT_WEIGHTS)"],
                           cwd=away, capture_output=True, text=True, timeout=300)
    package_file, weights = where.stdout.split()
    assert Path(package_file).is_relative_to(site) and Path(weights) == site / "deepfake" / "weights" / \
        "deepfake_cnn.safetensors"
    assert (site / "deepfake" / "weights" / "MODEL_CARD.md").is_file() and (site / "deepfake" / "serve" /
                                                                             "page.html").is_file()
    assert (site / "deepfake" / "weights" / "deepfake_cnn.replay.safetensors").is_file()  # what adapt replays
    assert (site / "deepfake" / "weights" / "deepfake_faces.safetensors").is_file()  # what --faces scores with
    predicted = subprocess.run([str(venv / "bin" / "deepfake-predict"), "--image_path", str(sample), "--json"],
                               cwd=away, capture_output=True, text=True, timeout=600)
    assert predicted.returncode == 0, predicted.stderr
    record = json.loads(predicted.stdout)
    assert record["label"] in ("real", "fake") and 0 <= record["fake_probability"] <= 1
