"""What a second newcomer found on a fresh clone: each case failed before (overlays that overwrote each other,
output paths that gave tracebacks after the work was done, a quoted glob, a silent skip, one error per source
of an empty mirror, a quiet tiny evaluation). The adaptation's reproducibility is in test_adapt.py, the fresh
clone's evaluate.py and train.py in test_shipped.py."""
import json
from pathlib import Path

import numpy as np

from conftest import run_script, synthetic_image


def save(path: Path, seed: int, format: str = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    synthetic_image(np.random.default_rng(seed), fake=bool(seed % 2), size=64).save(path, format=format)
    return path


def test_overlays_of_inputs_that_share_a_name_never_overwrite_each_other(trained_checkpoint, tmp_path):
    inputs = [save(tmp_path / "in" / "a" / "x.png", 0), save(tmp_path / "in" / "b" / "x.webp", 1),
              save(tmp_path / "in" / "p.jpg", 2), save(tmp_path / "in" / "p.png", 3)]
    result = run_script("predict.py", "--image_path", str(tmp_path / "in"), "--weights", str(trained_checkpoint),
                        "--json", "--explain", str(tmp_path / "why"), "--workers", "0")
    assert result.returncode == 0, result.stderr
    overlays = {json.loads(line)["path"]: json.loads(line)["explanation"] for line in result.stdout.splitlines()}
    assert set(overlays) == {str(path) for path in inputs}
    assert len(set(overlays.values())) == 4 and all(Path(overlay).is_file() for overlay in overlays.values())
    assert len(list((tmp_path / "why").iterdir())) == 4
    again = run_script("predict.py", "--image_path", str(inputs[0]), "--weights", str(trained_checkpoint), "--json",
                       "--explain", str(tmp_path / "why"))
    assert json.loads(again.stdout)["explanation"] == overlays[str(inputs[0])]  # the same input, the same name


def test_missing_output_folders_are_made_before_the_work(trained_checkpoint, tmp_path):
    image = save(tmp_path / "photo.png", 0)
    out = tmp_path / "nodir" / "sub" / "out.csv"
    result = run_script("predict.py", "--image_path", str(image), "--weights", str(trained_checkpoint),
                        "--csv", str(out))
    assert result.returncode == 0, result.stderr
    assert out.read_text().splitlines()[0].startswith("path,")


def test_evaluate_writes_its_json_into_a_folder_it_makes_and_warns_on_a_tiny_set(trained_checkpoint, tmp_path,
                                                                                   labelled_folder):
    out = tmp_path / "nodir" / "metrics.json"
    result = run_script("evaluate.py", "--data", str(labelled_folder), "--weights", str(trained_checkpoint),
                        "--json", str(out), "--workers", "0")
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["n_real"] == 24
    assert "warning: 24 real and 24 fake images scored; below 50 per class the metrics are noise" in result.stderr


def test_a_quoted_glob_is_expanded(trained_checkpoint, tmp_path):
    for index in range(2):
        save(tmp_path / "imgs" / f"{index}.webp", index, "WEBP")
    save(tmp_path / "imgs" / "other.png", 5)
    result = run_script("predict.py", "--image_path", str(tmp_path / "imgs" / "*.webp"), "--weights",
                        str(trained_checkpoint), "--json")
    assert result.returncode == 0, result.stderr
    assert sorted(Path(json.loads(line)["path"]).name for line in result.stdout.splitlines()) == ["0.webp", "1.webp"]
    nothing = run_script("predict.py", "--image_path", str(tmp_path / "imgs" / "*.gif"), "--weights",
                         str(trained_checkpoint))
    assert nothing.returncode == 2 and "no file matches this pattern" in nothing.stderr


def test_a_folder_scores_an_image_named_without_an_extension(trained_checkpoint, tmp_path):
    save(tmp_path / "inbox" / "photo.png", 0)
    save(tmp_path / "inbox" / "IMG_0001", 1, "JPEG")  # as some cameras and downloads name files
    (tmp_path / "inbox" / "README").write_text("not a picture")
    result = run_script("predict.py", "--image_path", str(tmp_path / "inbox"), "--weights",
                        str(trained_checkpoint), "--json", "--workers", "0")
    assert result.returncode == 0, result.stderr
    assert sorted(Path(json.loads(line)["path"]).name for line in result.stdout.splitlines()) == [
        "IMG_0001", "photo.png"]


def test_a_mirror_holding_none_of_the_sources_is_one_error(tmp_path):
    (tmp_path / "mirror").mkdir()
    result = run_script("-m", "deepfake.corpus", "build", "--mirror", str(tmp_path / "mirror"), "--out",
                        str(tmp_path / "corpus"), "--no-progress")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "holds none of the manifest's" in lines[0], result.stderr
    assert not (tmp_path / "corpus" / "CORPUS.md").exists()
