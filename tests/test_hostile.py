"""Files and requests crafted to hurt: each case failed before the hardening that the hostile-files issue asked
for (a quadratic pattern, unbounded memory, a traceback, a held slot), with a time or memory budget where the
failure was time or memory. Small inputs that show the growth; the service through its test client."""
import asyncio
import csv
import io
import json
import os
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from conftest import run_script, synthetic_image
from deepfake.errors import DeepfakeError
from deepfake.provenance import read_evidence
from deepfake.provenance.xmp import read_xmp


def png_with_text(path: Path, key: str, text: str, compressed: bool = True) -> Path:
    info = PngImagePlugin.PngInfo()
    if compressed:
        info.add_text(key, text, zip=True)
    else:
        info.add_text(key, text)
    Image.new("RGB", (64, 64), (90, 120, 150)).save(path, pnginfo=info)
    return path


def seconds(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


# ---------------------------------------------------------------- 1. metadata parsers in bounded time
def test_a_png_of_repeated_generation_settings_is_read_in_bounded_time(tmp_path):
    # 144 KB of text in a file of about 1 KB: the old pattern took about 40 s on it (quadratic), stalling the
    # service; 9 KB took 0.15 s, so 144 KB would take 16**2 times that.
    path = png_with_text(tmp_path / "bomb.png", "parameters", "Steps: 1," * 16000)
    assert path.stat().st_size < 4096
    elapsed, evidence = seconds(read_evidence, path)
    assert elapsed < 1.0, elapsed
    assert all(item.kind != "png_text" or item.says != "ai_generated" for item in evidence)  # no second key


def test_real_generation_settings_are_still_found_after_a_long_prompt(tmp_path):
    prompt = "a photo of a lighthouse at dusk, " * 200  # 6.6 KB of prompt, then the settings line
    path = png_with_text(tmp_path / "a1111.png", "parameters",
                         prompt + "\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x512")
    evidence = read_evidence(path)
    assert any(item.kind == "png_text" and "Sampler: Euler a" in item.detail for item in evidence), evidence


def test_a_jpeg_with_a_64_kb_exif_description_is_read_in_bounded_time(tmp_path):
    exif = Image.Exif()
    exif[0x010E] = "Steps: 1," * 7200  # ImageDescription, 64 KB (a JPEG segment's most): 7 s before
    path = tmp_path / "long_exif.jpg"
    Image.new("RGB", (64, 64)).save(path, exif=exif.tobytes())
    elapsed, _ = seconds(read_evidence, path)
    assert elapsed < 1.0, elapsed


def test_deeply_nested_xmp_is_refused_in_bounded_time():
    depth = 10_000  # 238 KB kept a worker 12 s before (quadratic in the depth)
    packet = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/">' + b"<CreatorTool>" * depth + b"Midjourney"
              + b"</CreatorTool>" * depth + b"</x:xmpmeta>")
    elapsed, evidence = seconds(read_xmp, packet)
    assert elapsed < 1.0, elapsed
    assert [item.says for item in evidence] == ["unknown"] and "nests over" in evidence[0].detail


# ---------------------------------------------------------------- 2. videos in bounded memory
def test_an_unknown_length_is_sampled_evenly_in_bounded_memory():
    from deepfake.data.video import EvenSample, VideoFrame
    sample, most_held = EvenSample(8), 0
    for index in range(5000):
        if sample.wants(index):
            sample.add(VideoFrame(index, index / 30, None))
        most_held = max(most_held, len(sample.kept))
    frames = sample.frames()
    assert most_held <= 16  # 2N, whatever the length (all 5,000 frames were kept before)
    assert len(frames) == 8 and frames[0].index == 0 and frames[-1].index >= 5000 * 3 // 4
    gaps = np.diff([frame.index for frame in frames])
    assert gaps.max() <= 2 * gaps.min()  # evenly spread


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    pytest.importorskip("av")
    from deepfake.samples import write_synthetic_clip
    return write_synthetic_clip(tmp_path_factory.mktemp("video") / "clip.mp4", n_frames=120)


def test_a_video_without_a_declared_length_keeps_at_most_twice_the_frames_asked(clip, monkeypatch):
    from deepfake.data import video
    monkeypatch.setattr(video, "_frame_count", lambda container, stream: 0)  # as a crafted MKV declares
    converted = []
    original = video.frame_image
    monkeypatch.setattr(video, "frame_image", lambda frame: converted.append(1) or original(frame))
    frames = video.sample_frames(clip, n_frames=4)
    assert len(frames) == 4 and frames[0].index == 0 and frames[-1].index >= 90
    assert len(converted) <= 2 * 4 + np.log2(120) * 4  # converted only at the stride, not every frame


def test_video_frames_over_the_pixel_limit_are_refused(clip, monkeypatch):
    from deepfake.data import video
    monkeypatch.setattr(video, "MAX_FRAME_PIXELS", 64 * 48 - 1)
    with pytest.raises(DeepfakeError, match="over the .*-pixel limit for a frame"):
        video.sample_frames(clip, n_frames=4)


def test_large_kept_frames_are_reduced_to_the_kept_size(clip, monkeypatch):
    from deepfake.data import video
    monkeypatch.setattr(video, "KEPT_FRAME_PIXELS", 32 * 24)
    assert {frame.image.size for frame in video.sample_frames(clip, n_frames=2)} == {(32, 24)}


# ---------------------------------------------------------------- 3. a damaged EXIF block is the file's error
def jpeg_with_damaged_exif() -> bytes:
    """A 64-px JPEG whose EXIF orientation asks for a rotation and whose Software tag's number was changed
    to StripByteCounts (0x0131 -> 0x0117): PIL reads it, and exif_transpose's rewrite raises struct.error."""
    exif = Image.Exif()
    exif[0x0112], exif[0x0131] = 6, "sw"
    exif[0x8769] = {0x9003: "2020:01:01", 0x829A: (1, 100)}
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(buffer, "JPEG", exif=exif.tobytes())
    data = bytearray(buffer.getvalue())
    data[data.find(b"Exif\0\0") + 6 + 23] = 0x17
    return bytes(data)


def test_a_damaged_exif_block_is_one_error_naming_the_file(tmp_path):
    from deepfake.data.images import load_rgb_image
    path = tmp_path / "damaged_exif.jpg"
    path.write_bytes(jpeg_with_damaged_exif())
    with pytest.raises(DeepfakeError, match="damaged_exif.jpg: corrupt image"):
        load_rgb_image(path)


def test_a_folder_with_a_damaged_exif_block_scores_the_rest(trained_checkpoint, tmp_path):
    (tmp_path / "damaged_exif.jpg").write_bytes(jpeg_with_damaged_exif())
    synthetic_image(np.random.default_rng(0), fake=False, size=64).save(tmp_path / "good.png")
    result = run_script("predict.py", "--image_path", str(tmp_path), "--weights", str(trained_checkpoint),
                        "--json", "--workers", "0")
    records = {Path(record["path"]).name: record for record in map(json.loads, result.stdout.splitlines())}
    assert "label" in records["good.png"] and "corrupt image" in records["damaged_exif.jpg"]["error"]
    assert result.returncode == 1 and "Traceback" not in result.stderr


# ---------------------------------------------------------------- 5. a small PNG of many pixels
def test_the_watermark_check_skips_a_huge_picture_in_bounded_memory(tmp_path):
    path = tmp_path / "huge.png"
    Image.new("RGB", (4104, 4104), (30, 30, 30)).save(path)  # 17 megapixels in a few kilobytes
    assert path.stat().st_size < 200_000
    tracemalloc.start()
    try:
        evidence = read_evidence(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert any(item.kind == "watermark" and "not checked" in item.detail for item in evidence), evidence
    assert peak < 100 * 2**20, peak  # the check would have taken about 500 MB here (3.7 GB at 9440 x 9440)


# ---------------------------------------------------------------- the command line's smaller cases
def test_a_fifo_in_a_folder_is_skipped_and_the_run_finishes(trained_checkpoint, tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    synthetic_image(np.random.default_rng(0), fake=True, size=64).save(folder / "good.png")
    os.mkfifo(folder / "pipe.jpg")
    result = run_script("predict.py", "--image_path", str(folder), "--weights", str(trained_checkpoint),
                        "--workers", "0")
    assert "good.png" in result.stdout
    assert "pipe.jpg: not a regular file" in result.stderr
    alone = run_script("predict.py", "--image_path", str(folder / "pipe.jpg"), "--weights", str(trained_checkpoint))
    assert alone.returncode == 2 and "not a regular file" in alone.stderr


def test_a_symlink_loop_is_called_a_loop(tmp_path):
    from deepfake.data.images import load_rgb_image
    os.symlink(tmp_path / "b.jpg", tmp_path / "a.jpg")
    os.symlink(tmp_path / "a.jpg", tmp_path / "b.jpg")
    with pytest.raises(DeepfakeError, match="a.jpg: symlink loop"):
        load_rgb_image(tmp_path / "a.jpg")
    result = run_script("predict.py", "--image_path", str(tmp_path / "a.jpg"))
    assert result.returncode == 2 and "symlink loop" in result.stderr and "broken" not in result.stderr


def test_csv_cells_that_a_spreadsheet_would_run_are_escaped():
    # `predict.py --image_path .` names files relatively: a file called "=HYPERLINK(...).jpg" starts its cell.
    from deepfake.inference.records import csv_row
    scored = {"path": '=HYPERLINK("http://x.example","open").jpg', "label": "fake", "fake_probability": 0.9,
              "decided_by": "model", "evidence": [], "note": "+note"}
    failed = {"path": "@sum(1).png", "error": "-corrupt"}
    for row in (csv_row(scored), csv_row(failed)):
        cells = [cell for cell in row.values() if isinstance(cell, str)]
        assert cells and all(not cell.startswith(("=", "+", "-", "@")) for cell in cells), row
    assert csv_row(scored)["path"] == "'" + scored["path"] and csv_row(scored)["fake_probability"] == 0.9


def test_results_are_written_as_they_are_scored(trained_checkpoint, tmp_path, monkeypatch):
    """An interrupted run keeps the rows already scored (it kept only the CSV's header)."""
    from deepfake.inference import detector as detector_module
    folder = tmp_path / "inbox"
    folder.mkdir()
    for index in range(3):
        synthetic_image(np.random.default_rng(index), fake=True, size=64).save(folder / f"{index}.png")
    real_predict_files = detector_module.Detector.predict_files

    def interrupted(self, paths, *args, **kwargs):
        results = real_predict_files(self, paths, *args, **kwargs)
        yield next(results)
        raise KeyboardInterrupt

    monkeypatch.setattr(detector_module.Detector, "predict_files", interrupted)
    out = tmp_path / "out.csv"
    result = run_script("predict.py", "--image_path", str(folder), "--weights", str(trained_checkpoint),
                        "--csv", str(out), "--workers", "0")
    assert result.returncode == 130
    assert len(list(csv.DictReader(out.open()))) == 1 and len(result.stdout.splitlines()) == 1


@pytest.mark.parametrize("change, message", [
    (lambda card: card.pop("preprocessing"), "missing field 'preprocessing'"),
    (lambda card: card.update(threshold="high"), "threshold is str"),
    (lambda card: card.update(model_kwargs=[1]), "model_kwargs is list"),
    (lambda card: card.update(class_names=None), "malformed"),
])
def test_malformed_checkpoint_metadata_is_one_line(trained_checkpoint, tmp_path, change, message):
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file
    with safe_open(trained_checkpoint, "pt") as handle:
        metadata = handle.metadata()
    card = json.loads(metadata["deepfake"])
    change(card)
    crafted = tmp_path / "crafted.safetensors"
    save_file(load_file(trained_checkpoint), crafted, metadata=dict(metadata, deepfake=json.dumps(card)))
    result = run_script("load_model.py", "--weights", str(crafted))
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------- the service
fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from deepfake import load_detector  # noqa: E402
from deepfake.serve import ServiceSettings, create_app  # noqa: E402


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def detector(trained_checkpoint):
    return load_detector(trained_checkpoint, device="cpu")


def test_a_damaged_exif_block_fails_its_file_not_the_batch(detector):
    good = png(synthetic_image(np.random.default_rng(0), fake=True, size=64))
    with TestClient(create_app(detector)) as client:
        response = client.post("/v1/predict/batch", files=[("files", ("good.png", good, "image/png")),
                                                           ("files", ("bad.jpg", jpeg_with_damaged_exif(), "image/jpeg"))])
        single = client.post("/v1/predict", files={"file": ("bad.jpg", jpeg_with_damaged_exif(), "image/jpeg")})
    assert response.status_code == 200, response.text
    assert response.json()["n_scored"] == 1 and "corrupt image" in response.json()["results"][1]["error"]
    assert single.status_code == 422 and single.json()["detail"].startswith("bad.jpg: corrupt image")


def test_a_stalled_upload_gets_408_and_holds_no_admission_slot(detector, tmp_path):
    app = create_app(detector, ServiceSettings(upload_timeout_s=0.3, queue_size=1))
    service = app.state.service
    admitted_during_upload = []

    class StalledRequest:
        headers = {"content-type": "multipart/form-data; boundary=xyz"}

        async def stream(self):
            yield b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\n"
            admitted_during_upload.append(service.in_flight)
            await asyncio.sleep(30)  # a client that stops sending
            yield b""

    async def never_called(form):
        raise AssertionError("answered a request whose body never arrived")

    start = time.perf_counter()
    response = asyncio.run(service.handle(StalledRequest(), never_called))
    assert time.perf_counter() - start < 5
    assert response.status_code == 408 and b"upload-timeout" in response.body
    assert admitted_during_upload == [0] and service.in_flight == 0 and service.receiving == 0
    service.close()


def test_cross_site_posts_are_refused(detector):
    image = png(synthetic_image(np.random.default_rng(0), fake=True, size=64))
    app = create_app(detector, ServiceSettings(allowed_origins=("https://tools.example.org",)))
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        def post(origin):
            headers = {"Origin": origin} if origin else {}
            return client.post("/v1/predict", files={"file": ("a.png", image, "image/png")}, headers=headers)
        refused = post("http://evil.example")
        assert refused.status_code == 403 and "cross-origin" in refused.json()["detail"]
        assert post("http://127.0.0.1:8000").status_code == 200  # the service's own page
        assert post("https://tools.example.org").status_code == 200  # --allow-origin
        assert post(None).status_code == 200  # curl and scripts send no Origin
        assert client.get("/v1/health", headers={"Origin": "http://evil.example"}).status_code == 200


@pytest.mark.parametrize("frames", ["²", "١٢"])  # superscript two and Arabic-Indic digits pass str.isdigit()
def test_unicode_digits_in_frames_get_422(detector, frames):
    image = png(synthetic_image(np.random.default_rng(0), fake=True, size=64))
    with TestClient(create_app(detector)) as client:
        response = client.post("/v1/predict", files={"file": ("a.png", image, "image/png")}, data={"frames": frames})
    assert response.status_code == 422 and "whole number" in response.json()["detail"]


def test_an_overlong_multipart_boundary_gets_400(detector):
    boundary = "b" * 300
    body = f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\r\nx\r\n--{boundary}--\r\n"
    with TestClient(create_app(detector)) as client:
        response = client.post("/v1/predict", content=body.encode(),
                               headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert response.status_code == 400 and "malformed multipart" in response.json()["detail"]


def test_zlib_bomb_text_chunk_is_bounded():
    """zTXt inflates at most MAX_TEXT_BYTES + 1 bytes, whatever it would expand to."""
    from deepfake.provenance.png_text import MAX_TEXT_BYTES, read_png_text
    text = zlib.compress(b"a" * (MAX_TEXT_BYTES * 4), 9)
    chunk_body = b"comment\0\0" + text
    import struct
    chunk = struct.pack(">I", len(chunk_body)) + b"zTXt" + chunk_body + struct.pack(">I", zlib.crc32(b"zTXt" + chunk_body))
    data = png(Image.new("RGB", (8, 8)))
    data = data[:33] + chunk + data[33:]
    elapsed, evidence = seconds(read_png_text, data)
    assert elapsed < 1.0 and "not read" in evidence[-1].detail
