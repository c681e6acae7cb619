"""`deepfake serve`: the HTTP service and its page over one detector."""
import argparse
import os
import sys
from typing import List, Optional

from ..errors import DeepfakeError
from .common import check_scoring_arguments, face_detector_argument, weights_argument

def get_serve_parser() -> argparse.ArgumentParser:
    from ..data.datasets import worker_count
    from ..serve.settings import ServiceSettings
    parser = argparse.ArgumentParser(prog="deepfake-serve", description="Serve the detector on HTTP: a JSON API "
                                     "(/v1/predict, /v1/predict/batch, /v1/health, /v1/model, docs at /docs) and "
                                     "a web page at /.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; there is no TLS)")
    parser.add_argument("--port", type=int, default=8000)
    weights_argument(parser)
    parser.add_argument("--workers", type=int, default=max(1, worker_count(None)),
                        help="threads that decode and crop uploads while the model scores (default: one per "
                             "spare core); the model itself runs on one thread, batching what waits")
    parser.add_argument("--max-upload-mb", type=float, default=50.0,
                        help="largest request body, in MB (default 50); larger ones get 413 before being read")
    parser.add_argument("--api-key", default=os.environ.get("DEEPFAKE_API_KEY"),
                        help="require this key (Authorization: Bearer KEY, or X-API-Key) on /v1/; default: the "
                             "DEEPFAKE_API_KEY environment variable, which keeps it out of the process list")
    parser.add_argument("--queue-size", type=int, default=64,
                        help="predict requests being scored at once, counted once their upload is complete "
                             "(default 64); one more gets 503 and Retry-After")
    parser.add_argument("--upload-timeout", type=float, default=ServiceSettings.upload_timeout_s, metavar="S",
                        help="seconds a request body may take to arrive (default %(default)s); a slower upload "
                             "gets 408, so stalled clients cannot hold the service")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                        help="a web origin (https://tools.example.org) whose pages may post to the service; "
                             "by default only the service's own page may (browsers post forms cross-site "
                             "without asking); repeat for several")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: cuda when available)")
    face_detector_argument(parser, None)
    return parser


def serve_main(argv: Optional[List[str]] = None) -> int:
    args = get_serve_parser().parse_args(argv)
    import ipaddress

    from ..extras import needs
    from ..inference.detector import load_detector
    with needs("the service (python -m deepfake.serve)"):
        import uvicorn

        from ..serve import ServiceSettings, create_app
    if args.max_upload_mb <= 0 or args.queue_size < 1 or args.workers < 1 or args.upload_timeout <= 0:
        raise DeepfakeError("--max-upload-mb and --upload-timeout must be above 0, --queue-size and --workers at "
                            "least 1")
    check_scoring_arguments(args)
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    if not loopback:
        print(f"warning: serving on {args.host} over plain HTTP (no TLS): uploads, results and any API key "
              f"cross the network readable; put a TLS proxy in front", file=sys.stderr)
    detector = load_detector(args.weights, args.device)
    settings = ServiceSettings(max_upload_mb=args.max_upload_mb, api_key=args.api_key or None,
                               queue_size=args.queue_size, workers=args.workers, face_detector=args.face_detector,
                               upload_timeout_s=args.upload_timeout,
                               allowed_origins=tuple(origin.rstrip("/") for origin in args.allow_origin))
    print(f"deepfake-serve: {detector.card.arch} on {detector.device}, threshold {detector.threshold:.4f}; page at "
          f"http://{args.host}:{args.port}/, API docs at /docs", file=sys.stderr)
    uvicorn.run(create_app(detector, settings), host=args.host, port=args.port, log_level="info")
    return 0
