"""The service's page in a real browser: headless Debian chromium, driven by Playwright (it never downloads a
browser of its own here). Skips where chromium is absent; .ci/run installs it."""
import json
import urllib.request

import numpy as np
import pytest

from conftest import synthetic_image
from deepfake.serve.local import CHROMIUM_ARGS, find_chromium, running_service

CHROMIUM = find_chromium()
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine (apt-get install chromium)")]


def post_file(url: str, path) -> dict:
    """POST /v1/predict with one file, multipart by hand (the standard library has no multipart encoder)."""
    boundary = "deepfake-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"{url}/v1/predict", data=body,
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def test_the_page_shows_the_apis_verdict(trained_checkpoint, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    image = tmp_path / "suspect.png"
    synthetic_image(np.random.default_rng(5), fake=True, size=96).save(image)
    with running_service(trained_checkpoint) as (url, _), playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(url + "/")
            page.locator("#model", has_text="threshold").wait_for(timeout=30_000)
            page.set_input_files("#picker", str(image))
            shown = page.locator('article[data-file="suspect.png"] .probability')
            shown.wait_for(timeout=60_000)
            record = post_file(url, image)
            assert float(shown.get_attribute("data-value")) == record["fake_probability"]
            assert shown.inner_text() == f"{record['fake_probability']:.4f}"
            verdict = page.locator('article[data-file="suspect.png"] .verdict').inner_text()
            assert verdict == record["label"].upper()
            # Beside a "real" verdict, and only there, the page says what it is worth.
            real_means = page.locator('article[data-file="suspect.png"] .real-means')
            assert real_means.count() == (record["label"] == "real")
        finally:
            browser.close()
