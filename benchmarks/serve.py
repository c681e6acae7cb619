"""The service under load, against folder prediction on the same images in the same run.

    python benchmarks/serve.py [--requests 200] [--soak 2000] [--images 100] [--weights W]

Reference: Detector.predict_paths over the images, which is what `predict.py --image_path FOLDER` runs (same
decoding workers, batches of 32). Then `python -m deepfake.serve` is started on a loopback port and driven
by 1, 8 and 32 concurrent clients (threads with keep-alive connections, each POSTing one image to
/v1/predict at a time) for --requests requests per level; each level reports throughput, p50/p99 latency and
the errors (anything but 200). Last, a soak of --soak requests at 8 clients samples the server's resident
memory as it goes: flat means it does not grow with the request count. Traffic goes to 127.0.0.1 only, and
every loop is bounded by its request count.
"""
import argparse
import http.client
import json
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))  # a sibling benchmark's images, also when run from another folder

from deepfake import load_detector  # noqa: E402
from deepfake.inference.detector import DEFAULT_WEIGHTS  # noqa: E402
from inference import jpeg_folder  # noqa: E402  (benchmarks/inference.py: the same images it times)
from deepfake.serve.local import running_service  # noqa: E402

BOUNDARY = "deepfake-benchmark"


def multipart_body(path: Path) -> bytes:
    return (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{path.name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + path.read_bytes() + \
        f"\r\n--{BOUNDARY}--\r\n".encode()


def folder_rate(weights: str, paths: list) -> float:
    detector = load_detector(weights, device="cpu")
    list(detector.predict_paths(paths[:32]))  # warm-up: the first batch pays for allocation and worker start
    start = time.perf_counter()
    results = list(detector.predict_paths(paths))
    return len(results) / (time.perf_counter() - start)


def drive(port: int, bodies: list, clients: int, requests: int, on_done=lambda count: None) -> dict:
    """`requests` POSTs spread over `clients` threads; returns rate, latencies and the non-200 count."""
    latencies, errors, lock = [], [], threading.Lock()
    counter = iter(range(requests))

    def client():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                break
            start = time.perf_counter()
            try:
                connection.request("POST", "/v1/predict", body=bodies[index % len(bodies)], headers=headers)
                response = connection.getresponse()
                payload = response.read()
                ok = response.status == 200 and "fake_probability" in json.loads(payload)
            except (OSError, http.client.HTTPException, ValueError):
                ok = False
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            with lock:
                latencies.append(time.perf_counter() - start)
                if not ok:
                    errors.append(index)
                on_done(len(latencies))
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    ordered = sorted(latencies)
    return {"rate": requests / elapsed, "p50_ms": 1000 * statistics.median(ordered),
            "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], "errors": len(errors)}


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--folder", default=str(ROOT.parent / "shared" / "datasets" / "diffusion-coco" / "fake")
                        if (ROOT.parent / "shared").is_dir() else "")
    parser.add_argument("--weights", default=str(DEFAULT_WEIGHTS))
    parser.add_argument("--requests", type=int, default=200, help="requests per concurrency level")
    parser.add_argument("--soak", type=int, default=2000, help="requests of the memory soak at 8 clients (0: skip)")
    args = parser.parse_args()
    paths = jpeg_folder(args.images, args.folder)
    bodies = [multipart_body(path) for path in paths]
    reference = folder_rate(args.weights, paths)
    print(f"folder mode (predict_paths, {len(paths)} images): {reference:.1f} images/s")
    levels = {}
    with running_service(args.weights) as (url, pid):
        port = int(url.rsplit(":", 1)[1])
        drive(port, bodies, 8, 32)  # warm-up
        for clients in (1, 8, 32):
            levels[clients] = result = drive(port, bodies, clients, args.requests)
            print(f"{clients:>2} clients, {args.requests} requests: {result['rate']:.1f} requests/s, p50 "
                  f"{result['p50_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms, errors {result['errors']}")
        samples = []
        if args.soak:
            step = max(1, args.soak // 8)
            samples.append((0, rss_mb(pid)))
            soak = drive(port, bodies, 8, args.soak,
                         on_done=lambda count: samples.append((count, rss_mb(pid))) if count % step == 0 else None)
            print(f"soak, 8 clients, {args.soak} requests: {soak['rate']:.1f} requests/s, errors {soak['errors']}")
            print("server RSS (MB) after N requests: " + ", ".join(f"{n}: {mb:.0f}" for n, mb in samples))
        peak = rss_mb(pid, "VmHWM")
    print(f"server peak RSS {peak:.0f} MB")
    print(f"ratio: 8 clients / folder mode {levels[8]['rate'] / reference:.2f} (target >= 0.8); 1 client "
          f"{levels[1]['rate'] / reference:.2f}; 32 clients {levels[32]['rate'] / reference:.2f}")
    if len(samples) > 2:
        settled = samples[1][1]  # after the first step: allocator pools and caches filled
        print(f"ratio: RSS at the end / after {samples[1][0]} requests {samples[-1][1] / settled:.3f} "
              f"(flat: about 1)")


if __name__ == "__main__":
    main()
