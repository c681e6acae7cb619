"""Whatever a folder holds, prediction scores what it can, names what it cannot, and never crashes."""
import io
import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from conftest import run_script, synthetic_image
from deepfake import DeepfakeError
from deepfake.data.datasets import iter_image_files
from deepfake.data.images import load_rgb_image


def encoded(format_name: str) -> bytes:
    buffer = io.BytesIO()
    synthetic_image(np.random.default_rng(5), fake=False, size=40).save(buffer, format_name)
    return buffer.getvalue()


JPEG, PNG = encoded("JPEG"), encoded("PNG")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(max_size=2048))
def test_random_bytes_never_escape_as_anything_but_our_error(tmp_path, payload):
    path = tmp_path / "fuzz.jpg"
    path.write_bytes(payload)
    try:
        assert load_rgb_image(path).mode == "RGB"
    except DeepfakeError as error:
        assert str(path) in str(error)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(original=st.sampled_from([JPEG, PNG]), data=st.data())
def test_mutated_real_files_decode_or_fail_cleanly(tmp_path, original, data):
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8))):
        mutated[data.draw(st.integers(0, len(mutated) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(mutated)))
    path = tmp_path / "mutant.png"
    path.write_bytes(bytes(mutated[:cut]))
    try:
        assert load_rgb_image(path).mode == "RGB"
    except DeepfakeError as error:
        assert str(path) in str(error)


def test_extension_that_lies_is_decoded_by_content(tmp_path):
    path = tmp_path / "really_a_png.jpg"
    path.write_bytes(PNG)
    assert load_rgb_image(path).size == (40, 40)


def test_unreadable_file_is_reported(tmp_path, monkeypatch):
    path = tmp_path / "secret.png"
    path.write_bytes(PNG)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Image, "open", denied)  # chmod 000 does not stop root, who runs CI
    with pytest.raises(DeepfakeError, match="permission denied"):
        load_rgb_image(path)


def test_symlink_loop_and_broken_symlink_do_not_hang_or_crash(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.png").write_bytes(PNG)
    os.symlink(tmp_path, tmp_path / "photos" / "loop")
    os.symlink(tmp_path / "gone.png", tmp_path / "photos" / "dangling.png")
    problems = []
    found = list(iter_image_files(tmp_path / "photos", on_error=problems.append))
    assert [p.name for p in found].count("a.png") == 1
    assert any("symlink loop" in problem for problem in problems)
    with pytest.raises(DeepfakeError, match="broken symlink"):
        load_rgb_image(tmp_path / "photos" / "dangling.png")


@pytest.fixture(scope="module")
def hostile_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    (folder / "good.jpg").write_bytes(JPEG)
    (folder / "tiny.png").write_bytes(b"")
    Image.new("RGB", (3, 2), (200, 10, 10)).save(folder / "three_by_two.png")  # smaller than any crop
    Image.new("P", (64, 64)).save(folder / "palette.gif")
    (folder / "truncated.jpg").write_bytes(JPEG[: len(JPEG) // 3])
    (folder / "notes.png").write_text("not an image at all")
    os.symlink(folder / "absent.jpg", folder / "dangling.jpg")
    return folder


def test_folder_of_hostile_files_scores_the_good_and_counts_the_bad(trained_checkpoint, hostile_folder):
    result = run_script("predict.py", "--image_path", str(hostile_folder), "--weights", str(trained_checkpoint),
                        "--json", "--workers", "0")
    assert result.returncode == 1  # some files failed
    records = [json.loads(line) for line in result.stdout.splitlines()]
    scored = sorted(r["path"].rsplit("/", 1)[-1] for r in records if "error" not in r)
    failed = sorted(r["path"].rsplit("/", 1)[-1] for r in records if "error" in r)
    assert scored == ["good.jpg", "palette.gif"]
    assert failed == ["dangling.jpg", "notes.png", "three_by_two.png", "tiny.png", "truncated.jpg"]
    assert "2 scored, 5 failed" in result.stderr
    for name, reason in [("tiny.png", "empty file"), ("truncated.jpg", "truncated"),
                         ("notes.png", "not an image"), ("dangling.jpg", "broken symlink"),
                         ("three_by_two.png", "3x2 pixels is too small to judge")]:
        assert any(name in line and reason in line for line in result.stderr.splitlines()), (name, result.stderr)
    assert "Traceback" not in result.stderr


def test_strict_makes_the_first_failure_fatal(trained_checkpoint, hostile_folder):
    result = run_script("predict.py", "--image_path", str(hostile_folder), "--weights", str(trained_checkpoint),
                        "--strict", "--workers", "0")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: ") and "(--strict)" in result.stderr
    assert "Traceback" not in result.stderr
