"""The service's page in a real browser: headless Debian chromium, driven by Playwright (it never downloads a
browser of its own here). Skips where chromium is absent; .ci/run installs it."""
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from conftest import ROOT, synthetic_image

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine (apt-get install chromium)")]
# As root in a container, and with no network: no sandbox, and none of chromium's background connections.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_service(weights, timeout_s: float = 120):
    """`python -m deepfake.serve` on a free loopback port, as a user starts it: (its URL, its pid); stopped on
    leaving."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "deepfake.serve", "--port", str(port), "--weights", str(weights)],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{url}/v1/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the service did not start: {server.stderr.read()[-2000:]}")
                time.sleep(0.3)
        yield url, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


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
