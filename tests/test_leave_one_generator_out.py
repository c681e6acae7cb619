"""The leave-one-generator-out protocol (tools/leave_one_generator_out.py) on a tiny corpus made here: what each
run trains on and is scored against, and one real run end to end."""
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import TINY_TRAINING, load_tool, synthetic_image

FAMILIES = {"gen-a": "GenA", "gen-b": "GenB"}


def write_corpus(root: Path) -> Path:
    """sources/: two generators (fakes only), a camera source (reals only), a shared set (both); pool/: reals."""
    rng = np.random.default_rng(0)
    layout = {"sources/gen-a/fake": 1, "sources/gen-b/fake": 1, "sources/cams/real": 0,
              "sources/shared-x/real": 0, "sources/shared-x/fake": 1, "pool/real/cams": 0}
    for folder, label in layout.items():
        (root / folder).mkdir(parents=True)
        for index in range(10):
            synthetic_image(rng, fake=bool(label)).save(root / folder / f"{index:02d}.png")
    return root


def write_manifest(path: Path) -> Path:
    entries = []
    for name, family in FAMILIES.items():
        entries.append(f'''[[source]]
name = "{name}"
repo = "someone/{name}"
commit = "{"a" * 40}"
include = ["*"]
class = "fake"
family = "{family}"
made_by = "{family}"
licence = "MIT"
''')
    entries.append(f'''[[source]]
name = "cams"
repo = "someone/cams"
commit = "{"b" * 40}"
include = ["*"]
class = "real"
family = "cameras"
made_by = "cameras"
licence = "CC0"

[[shared]]
name = "shared-x"
folder = "shared-x"
family = "GenX"
made_by = "X"
reals = "photos"
licence = "research"
''')
    path.write_text("\n".join(entries))
    return path


def test_each_family_leaves_training_whole_reals_included(tmp_path, capsys):
    logo = load_tool("leave_one_generator_out")
    corpus = write_corpus(tmp_path / "corpus")
    manifest = write_manifest(tmp_path / "sources.toml")
    assert logo.main(["--corpus", str(corpus), "--manifest", str(manifest), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["GenA: hold out gen-a; train on cams, gen-b, shared-x",
                     "GenB: hold out gen-b; train on cams, gen-a, shared-x",
                     "GenX: hold out shared-x; train on cams, gen-a, gen-b"]
    run = logo.plan(corpus, {"GenX": ["shared-x"]}, ["GenX"])[0]
    assert run["held_out"] == ["shared-x"] and all("shared-x" not in root for root in run["train_roots"])


@pytest.mark.slow
def test_one_family_end_to_end(tmp_path):
    logo = load_tool("leave_one_generator_out")
    corpus = write_corpus(tmp_path / "corpus")
    manifest = write_manifest(tmp_path / "sources.toml")
    out = tmp_path / "logo"
    flags = [*TINY_TRAINING, "--epochs", "1", "--val-fraction", "0.3"]
    assert logo.main(["--corpus", str(corpus), "--manifest", str(manifest), "--out", str(out), "--family", "GenA",
                      "--", *flags]) == 0
    result = json.loads((out / "logo.json").read_text())["results"][0]
    assert result["family"] == "GenA" and result["pool"]["n_fake"] == 10 and result["pool"]["n_real"] == 10
    assert 0 <= result["pool"]["roc_auc"] <= 1 and "own reals" not in result
    from deepfake.checkpoint import load_model
    trained_on = [entry["name"] for entry in load_model(out / "gena" / "best.safetensors")[1].training["data"]]
    assert trained_on == ["cams", "gen-b", "shared-x"]  # never the held-out generator, never the pool
    assert "| **mean** / **worst** | | | **" in (out / "logo.md").read_text()

    # The same protocol for a fixed checkpoint (a peer): nothing trained, every family scored, each folder once.
    # This one trained on gen-b and shared-x: those families are in-distribution, so only GenA is held out.
    peer = tmp_path / "peer"
    assert logo.main(["--corpus", str(corpus), "--manifest", str(manifest), "--out", str(peer), "--weights",
                      str(out / "gena" / "best.safetensors"), "--max-per-folder", "4"]) == 0
    results = {entry["family"]: entry for entry in json.loads((peer / "logo.json").read_text())["results"]}
    assert [results[family]["seen"] for family in ("GenA", "GenB", "GenX")] == [False, True, True]
    assert results["GenA"]["pool"]["n_fake"] == results["GenA"]["pool"]["n_real"] == 4
    assert results["GenX"]["own reals"]["n_real"] == 4 and "own reals" not in results["GenA"]
    worst = f"| **mean** / **worst** | | | **{results['GenA']['pool']['roc_auc']:.3f}** / "
    assert worst in (peer / "logo.md").read_text() and "GenB (seen in training)" in (peer / "logo.md").read_text()
