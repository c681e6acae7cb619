"""What every subcommand shares: one error style (run_cli), the flags several take, and output paths checked
before any work."""
import argparse
import os
import sys
from pathlib import Path
from typing import Callable, List, Optional

from ..errors import DeepfakeError

DEFAULT_DATA = "data"


def is_main_rank() -> bool:
    """Rank 0 of a torchrun launch, or a plain process: torchrun's RANK read before torch (and the Cluster,
    distributed.start_cluster) loads, so that errors and output checks cost no import; later code asks the
    Cluster."""
    return os.environ.get("RANK", "0") == "0"


def run_cli(main: Callable[[Optional[List[str]]], int]) -> Callable[[Optional[List[str]]], None]:
    """User errors become one line on stderr and exit 2; Ctrl-C exits 130 without a traceback."""
    def wrapped(argv: Optional[List[str]] = None) -> None:
        try:
            sys.exit(main(argv))
        except DeepfakeError as error:
            if is_main_rank():  # under torchrun every rank fails alike: say it once
                print(f"error: {error}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)
        except BrokenPipeError:
            # `predict.py ... | head`: the reader left; stop quietly like other Unix tools.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(141)
    return wrapped


def weights_argument(parser: argparse.ArgumentParser, nargs=None) -> None:
    from ..shipped_weights import DEFAULT_WEIGHTS
    parser.add_argument("--weights", nargs=nargs, default=[str(DEFAULT_WEIGHTS)] if nargs else str(DEFAULT_WEIGHTS),
                        help="checkpoint file (.safetensors, or a training state last.pt); default: the shipped "
                             "weights/deepfake_cnn.safetensors")


def face_detector_argument(parser: argparse.ArgumentParser, default: Optional[str]) -> None:
    from ..faces.detectors import FACE_DETECTORS
    parser.add_argument("--face-detector", choices=list(FACE_DETECTORS), default=default,
                        help="which finds the faces under --faces: mtcnn (a CNN cascade; the default) or haar "
                             "(OpenCV's frontal cascade, faster, misses turned and small faces)"
                             + ("" if default else "; default: the one a face-trained checkpoint was trained with"))


def device_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--amp", action="store_true",
                        help="mixed precision: bfloat16 on CPUs and GPUs that have it (float16 with loss scaling "
                             "on older GPUs); about 2x faster on recent hardware, results differ slightly")


def check_scoring_arguments(args) -> None:
    """The flags predict.py, evaluate.py and the service share, checked before anything loads: one line each."""
    if getattr(args, "batch_size", 1) < 1:
        raise DeepfakeError(f"--batch-size must be at least 1, not {args.batch_size}")
    if (getattr(args, "workers", None) or 0) < 0:
        raise DeepfakeError(f"--workers must be at least 0 (0: decode in the main process), not {args.workers}")
    from ..inference.options import check_threshold
    check_threshold(getattr(args, "threshold", None))
    from ..distributed import default_device
    default_device(args.device)


def loader_arguments(parser: argparse.ArgumentParser, batch_size: int = 32) -> None:
    parser.add_argument("--batch-size", type=int, default=batch_size,
                        help="images per forward pass (default %(default)s); lower it if memory runs short")
    parser.add_argument("--workers", type=int, default=None,
                        help="decoding processes (default: one per spare CPU core, at most 4; 0: decode in the "
                             "main process)")


def prepare_output_file(path: Optional[str], flag: str) -> None:
    """Checked before any work: its folder is made if missing; a folder in its place, or a folder that cannot
    be made, is one error now rather than a traceback after the results are computed."""
    if path is None:
        return
    target = Path(path)
    if target.is_dir():
        raise DeepfakeError(f"{flag} {path}: is a folder; give a file name")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise DeepfakeError(f"{flag} {path}: {target.parent} is a file, not a folder") from None
    except PermissionError:
        raise DeepfakeError(f"{flag} {path}: permission denied making {target.parent}") from None
    if not os.access(target.parent, os.W_OK):
        raise DeepfakeError(f"{flag} {path}: cannot write in {target.parent} (permission denied)")


def prepare_output_folder(path: Optional[str], flag: str) -> None:
    """Made now if missing; a file in its place is one error before any work."""
    if path is None:
        return
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise DeepfakeError(f"{flag} {path}: is a file; give a folder")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise DeepfakeError(f"{flag} {path}: a parent of it is a file, not a folder") from None
    except PermissionError:
        raise DeepfakeError(f"{flag} {path}: permission denied") from None
