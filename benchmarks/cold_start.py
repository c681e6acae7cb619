"""Cold start: wall time of `python predict.py --image_path one.jpg` against `python -c "import torch"`.

    python benchmarks/cold_start.py [--runs 5] [--weights W]

Both run as fresh processes, alternating, several times; the medians are compared (target: <= 1.5x).
"""
import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wall(command) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--weights", default=None, help="checkpoint to start (default: the shipped weights)")
    args = parser.parse_args()
    weights = ["--weights", args.weights] if args.weights else []
    sys.path.insert(0, str(ROOT))
    from deepfake.samples import write_samples
    image = write_samples(tempfile.mkdtemp())[0]
    predict, import_torch = [], []
    for _ in range(args.runs):
        import_torch.append(wall([sys.executable, "-c", "import torch"]))
        predict.append(wall([sys.executable, "predict.py", "--image_path", str(image), *weights]))
    torch_median, predict_median = statistics.median(import_torch), statistics.median(predict)
    print(f"python -c 'import torch'            median {torch_median:.2f}s over {args.runs} runs")
    print(f"python predict.py --image_path one  median {predict_median:.2f}s over {args.runs} runs")
    print(f"ratio predict / import torch: {predict_median / torch_median:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
