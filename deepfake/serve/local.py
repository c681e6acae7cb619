"""The service on this machine, for scripts that need a live one (the docs' screenshots, benchmarks/serve.py, the
browser test): `python -m deepfake.serve` on a free loopback port, as a user starts it, and the flags headless
Chromium needs here. Standard library only."""
import contextlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator, Optional, Tuple

# As root in a container, and with no network: no sandbox, and none of Chromium's background connections.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def find_chromium() -> Optional[str]:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_service(weights, timeout_s: float = 120, cwd: Optional[Path] = None) -> Iterator[Tuple[str, int]]:
    """`python -m deepfake.serve` on a free loopback port: (its URL, its pid) once /v1/health answers; stopped
    on leaving."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "deepfake.serve", "--port", str(port), "--weights", str(weights)],
                              cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
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
