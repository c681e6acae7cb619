"""The local service's API, through FastAPI's TestClient: the answers, the limits and what touches the disk."""
import asyncio
import base64
import io
import json
import re
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from conftest import ROOT, run_script, synthetic_image
from deepfake import load_detector

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from deepfake.serve import ServiceSettings, create_app  # noqa: E402
from deepfake.serve.model_queue import ModelQueue  # noqa: E402
from deepfake.serve.uploads import UploadRejected, receive_form  # noqa: E402


def png_bytes(image: Image.Image, format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def detector(trained_checkpoint):
    return load_detector(trained_checkpoint, device="cpu")


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """The system's temporary folder, redirected to an empty one this test can inspect."""
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    return system_tmp


def client_for(detector, **settings) -> TestClient:
    return TestClient(create_app(detector, ServiceSettings(**settings)))


@pytest.fixture
def client(detector, private_tmp):
    with client_for(detector) as test_client:
        yield test_client


def test_predict_answers_with_predict_pys_record(client, trained_checkpoint, tmp_path):
    path = tmp_path / "photo.png"
    synthetic_image(np.random.default_rng(3), fake=True, size=64).save(path)
    response = client.post("/v1/predict", files={"file": ("photo.png", path.read_bytes(), "image/png")})
    assert response.status_code == 200, response.text
    cli = run_script("predict.py", "--image_path", str(path), "--weights", str(trained_checkpoint), "--json")
    assert cli.returncode == 0, cli.stderr
    assert response.json() == dict(json.loads(cli.stdout), path="photo.png")


def test_batch_keeps_order_and_reports_each_failure(client):
    rng = np.random.default_rng(0)
    files = [("files", (f"img{i}.png", png_bytes(synthetic_image(rng, fake=bool(i % 2))), "image/png"))
             for i in range(5)]
    files.insert(2, ("files", ("notes.png", b"just some text, not a picture", "image/png")))
    response = client.post("/v1/predict/batch", files=files)
    assert response.status_code == 200
    answer = response.json()
    assert [record["path"] for record in answer["results"]] == ["img0.png", "img1.png", "notes.png", "img2.png",
                                                                 "img3.png", "img4.png"]
    assert answer["n_scored"] == 5 and answer["n_failed"] == 1
    failed = answer["results"][2]
    assert failed["status"] == 415 and failed["error"].startswith("notes.png: not an image or video")


def test_faces_explain_and_video_options(client, tmp_path):
    from test_faces_video import write_video
    astronaut = Image.fromarray(data.astronaut()).resize((256, 256))
    response = client.post("/v1/predict", files={"file": ("a.png", png_bytes(astronaut), "image/png")},
                           data={"faces": "true", "explain": "true"})
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["faces"] and record["explanation"].startswith("data:image/png;base64,")
    overlay = Image.open(io.BytesIO(base64.b64decode(record["explanation"].split(",", 1)[1])))
    from deepfake.inference.explain import LEGEND_HEIGHT
    assert overlay.size == (320, 256 + LEGEND_HEIGHT)  # the picture's own size, over a legend at least 320 wide
    clip = write_video(tmp_path / "clip.mp4", astronaut.resize((96, 96)))
    response = client.post("/v1/predict", files={"file": ("clip.bin", clip.read_bytes(), "application/octet-stream")},
                           data={"frames": "4", "aggregate": "max"})
    assert response.status_code == 200, response.text  # sniffed as a video from its bytes, whatever its name
    record = response.json()
    assert len(record["frames"]) == 4 and record["aggregation"] == "max"
    assert record["fake_probability"] == pytest.approx(max(frame["fake_probability"] for frame in record["frames"]),
                                                       abs=1e-6)


@pytest.mark.parametrize("fields, message", [({"frames": "0"}, "frames"), ({"aggregate": "loudest"}, "aggregate"),
                                             ({"faces": "maybe"}, "faces")])
def test_bad_options_get_422(client, fields, message):
    response = client.post("/v1/predict", data=fields,
                           files={"file": ("x.png", png_bytes(synthetic_image(np.random.default_rng(0), False)))})
    assert response.status_code == 422 and message in response.json()["detail"]


def test_the_type_is_sniffed_from_the_bytes_not_the_name(client):
    image = synthetic_image(np.random.default_rng(0), fake=False, size=64)
    assert client.post("/v1/predict", files={"file": ("photo.txt", png_bytes(image, "JPEG"), "text/plain")}
                       ).status_code == 200
    response = client.post("/v1/predict", files={"file": ("photo.jpg", b"<html>not a photo</html>", "image/jpeg")})
    assert response.status_code == 415 and "file name is not consulted" in response.json()["detail"]


def test_a_damaged_image_is_422_naming_the_clients_file_not_ours(client):
    whole = png_bytes(synthetic_image(np.random.default_rng(0), fake=False, size=64))
    response = client.post("/v1/predict", files={"file": ("holiday.png", whole[:200])})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith("holiday.png: ") and "part-0" not in detail and tempfile.gettempdir() not in detail


def test_a_decompression_bomb_gets_422(client):
    bomb = png_bytes(Image.new("1", (12_000, 12_000)))  # 144 megapixels in a few kilobytes
    assert len(bomb) < 100_000
    response = client.post("/v1/predict", files={"file": ("bomb.png", bomb)})
    assert response.status_code == 422 and "pixel limit" in response.json()["detail"]


def test_uploads_over_the_limit_get_413(detector, private_tmp):
    with client_for(detector, max_upload_mb=0.01) as small:
        big = png_bytes(Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)))
        response = small.post("/v1/predict", files={"file": ("big.png", big)})
        assert response.status_code == 413 and "--max-upload-mb" in response.json()["detail"]


def test_the_limit_stops_reading_the_body_early(tmp_path):
    """An undeclared (chunked) body is refused at the chunk that crosses the limit: the rest is never read."""
    read = []

    async def chunks():
        yield b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.png\"\r\n\r\n"
        for index in range(1000):
            read.append(index)
            yield b"\0" * 1024

    with pytest.raises(UploadRejected) as refused:
        asyncio.run(receive_form("multipart/form-data; boundary=b", None, chunks(), tmp_path, 10 * 1024))
    assert refused.value.status == 413 and len(read) <= 11


def test_nothing_is_written_outside_a_private_folder_and_it_is_removed(detector, private_tmp, tmp_path):
    seen = []
    with client_for(detector) as client:
        service = client.app.state.service
        prepare = detector.prepare

        def recording_prepare(path):
            seen.append(Path(path))
            return prepare(path)

        detector.prepare = recording_prepare
        try:
            image = png_bytes(synthetic_image(np.random.default_rng(0), fake=False))
            hostile = "../../../" + str(tmp_path / "escaped.png")
            assert client.post("/v1/predict", files={"file": (hostile, image)}).json()["path"] == "escaped.png"
            client.post("/v1/predict", files={"file": ("bad.png", b"\x89PNG\r\n\x1a\n broken")})  # an error, too
            client.post("/v1/predict", files={"file": ("..", image)})
        finally:
            del detector.prepare
        assert seen and all(service.root in path.parents for path in seen)
        assert all("escaped" not in path.name for path in seen)
        assert service.root.parent == private_tmp and (service.root.stat().st_mode & 0o077) == 0
        assert list(service.root.iterdir()) == []  # every request's folder is gone, the failed one's too
        assert [entry.name for entry in private_tmp.iterdir()] == [service.root.name]
    assert not (tmp_path / "escaped.png").exists()
    assert list(private_tmp.iterdir()) == []  # the service's own folder goes when it stops


def test_the_api_key_guards_the_api(detector, private_tmp):
    with client_for(detector, api_key="s3cret") as client:
        assert client.get("/v1/health").status_code == 401
        assert client.get("/v1/health", headers={"X-API-Key": "wrong"}).status_code == 401
        refused = client.post("/v1/predict", files={"file": ("x.png", b"")})
        assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
        assert client.get("/v1/health", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.get("/v1/model", headers={"X-API-Key": "s3cret"}).status_code == 200
        assert client.get("/").status_code == 200  # the page holds no data; it asks for the key itself


def test_a_full_queue_answers_503_with_retry_after(detector, private_tmp):
    with client_for(detector, queue_size=2) as client:
        client.app.state.service.in_flight = 2  # two requests in progress
        response = client.post("/v1/predict", files={"file": ("x.png", b"")})
        assert response.status_code == 503 and response.headers["Retry-After"] == "1"
        assert client.get("/v1/health").json()["queue"] == {"in_flight": 2, "limit": 2}  # health still answers
        client.app.state.service.in_flight = 0


def test_waiting_images_are_scored_as_one_batch(detector):
    calls = []
    real = detector.fake_probabilities

    def counting(crops, crops_per_image):
        calls.append(len(crops_per_image))
        return real(crops, crops_per_image)

    detector.fake_probabilities = counting
    model_queue = ModelQueue(detector, max_batch=32)
    try:
        gate = threading.Event()
        blocker = model_queue.call(gate.wait)  # the model's thread is busy...
        images = [synthetic_image(np.random.default_rng(i), fake=bool(i % 2)) for i in range(6)]
        futures = [model_queue.score(detector.transform(image)) for image in images]  # ...while six arrive
        gate.set()
        scores = [future.result(timeout=60) for future in futures]
        assert blocker.result(timeout=60) is True
        assert calls == [6]
        assert scores == pytest.approx(detector.score_images(images), abs=1e-6)
    finally:
        model_queue.close()
        del detector.fake_probabilities


def test_health_model_and_openapi(client, detector):
    health = client.get("/v1/health").json()
    assert health["status"] == "ok" and health["model"] == detector.card.arch
    assert health["threshold"] == detector.threshold and health["version"]
    card = client.get("/v1/model").json()
    assert card["arch"] == detector.card.arch and card["threshold"] == detector.threshold
    assert "validation_metrics" in card and card["parameters"] > 0
    schema = client.get("/openapi.json").json()
    assert {"/v1/predict", "/v1/predict/batch", "/v1/health", "/v1/model"} <= set(schema["paths"])
    docs = client.get("/docs").text
    assert "swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()  # served by the service itself


def test_the_page_is_self_contained(client):
    response = client.get("/")
    page = response.text
    assert response.status_code == 200 and "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # no external script, style or image
    from deepfake.inference.records import CSV_COLUMNS, FORMULA_STARTS, REAL_MEANS
    columns = json.loads(re.search(r"const CSV_COLUMNS = (\[.*?\]);", page, re.S).group(1))
    assert tuple(columns) == CSV_COLUMNS  # the page's CSV download has predict.py --csv's columns
    assert tuple(json.loads(re.search(r"const FORMULA_STARTS = (\[.*?\]);", page).group(1))) == FORMULA_STARTS
    page_says = json.loads(re.search(r'const REAL_MEANS = (".*?");', page).group(1))
    assert page_says == REAL_MEANS  # the page and predict.py say one thing


def test_a_picture_too_small_to_judge_is_422(client):
    import io
    buffer = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buffer, format="PNG")
    response = client.post("/v1/predict", files={"file": ("dot.png", buffer.getvalue(), "image/png")})
    assert response.status_code == 422
    assert response.json()["detail"] == "dot.png: 1x1 pixels is too small to judge (the shorter side must be at " \
                                        "least 32 px)"


def test_a_public_host_warns_that_there_is_no_tls(monkeypatch, capsys):
    import uvicorn
    from deepfake.cli import serve_main
    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **kwargs: served.append((host, port)))
    assert serve_main(["--host", "0.0.0.0", "--port", "9"]) == 0
    assert "no TLS" in capsys.readouterr().err and served == [("0.0.0.0", 9)]
    assert serve_main(["--host", "127.0.0.1"]) == 0
    assert "no TLS" not in capsys.readouterr().err


def test_python_m_deepfake_serve_has_the_documented_flags():
    result = run_script("-m", "deepfake.serve", "--help")
    assert result.returncode == 0
    for flag in ("--host", "--port", "--weights", "--workers", "--max-upload-mb", "--api-key"):
        assert flag in result.stdout
    assert (ROOT / "deepfake" / "serve" / "page.html").exists()
