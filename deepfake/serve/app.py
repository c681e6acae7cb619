"""The service's routes: /v1/predict, /v1/predict/batch, /v1/health, /v1/model and the page at /.

A request goes: Origin check (a web page on another site may not post to it) -> API key (when set) -> the
body streamed into a private folder within a deadline (uploads.py: 413 past the size limit, 408 past the
time limit) -> admission, only once the body is complete (at most queue_size requests scoring, else 503 with
Retry-After) -> each file sniffed, decoded and cropped on a worker thread -> the model's thread
(model_queue.py) -> predict.py's JSON record, with the client's file name as its "path". The folder is
removed when the request ends, on error too.
"""
import asyncio
import json
import logging
import re
import secrets
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Callable, List, Optional

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi_offline import FastAPIOffline

from .. import __version__
from ..checkpoint import describe
from ..data.images import data_uri
from ..data.video import VIDEO_EXTENSIONS
from ..errors import DeepfakeError
from ..inference.aggregate import AGGREGATIONS
from ..inference.detector import Detector
from ..inference.options import PredictOptions
from ..inference.records import CSV_COLUMNS, FORMULA_STARTS, REAL_MEANS
from .model_queue import ModelQueue
from .settings import ServiceSettings
from .uploads import Upload, UploadRejected, receive_form

log = logging.getLogger("deepfake.serve")

# The page fetches nothing from anywhere but this service: inline script and style, previews from blob: URLs,
# overlays as data: URLs.
PAGE_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; "
               "media-src blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
TRUE, FALSE = {"1", "true", "on", "yes"}, {"", "0", "false", "off", "no"}
MAX_FRAMES = 256


class FileProblem(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def parse_options(fields: dict, settings: ServiceSettings) -> PredictOptions:
    def flag(name: str) -> bool:
        value = fields.get(name, "").strip().lower()
        if value not in TRUE | FALSE:
            raise FileProblem(422, f"form field {name}={fields[name]!r}: say true or false")
        return value in TRUE

    frames = fields.get("frames", "").strip() or str(settings.frames)
    if not (frames.isascii() and frames.isdigit()) or not 1 <= int(frames) <= MAX_FRAMES:  # "²".isdigit()
        raise FileProblem(422, f"form field frames={frames!r}: a whole number from 1 to {MAX_FRAMES}")
    aggregate = fields.get("aggregate", "").strip() or "mean"
    if aggregate not in AGGREGATIONS:
        raise FileProblem(422, f"form field aggregate={aggregate!r}: one of {', '.join(sorted(AGGREGATIONS))}")
    return PredictOptions(faces=flag("faces"), face_detector=settings.face_detector, frames=int(frames),
                          aggregate=aggregate, explain=flag("explain"))


def page_html() -> str:
    """The page, with the definitions it shares with predict.py --csv written into it (records.py)."""
    page = resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")
    for name, value in (("CSV_COLUMNS", list(CSV_COLUMNS)), ("FORMULA_STARTS", list(FORMULA_STARTS)),
                        ("REAL_MEANS", REAL_MEANS)):
        # The page holds `/*NAME*/[]` or `/*NAME*/""`: an empty value of the right type until it is filled.
        page = re.sub(rf'/\*{name}\*/(\[\]|"")', lambda _: json.dumps(value), page)
    return page


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def cross_site(request: Request, allowed_origins) -> Optional[str]:
    """Why a request that changes state comes from a page of another site, or None. Browsers name the page's
    origin on every POST; curl and scripts send none, and are let through (the API key guards them)."""
    origin = request.headers.get("origin")
    if request.method in SAFE_METHODS or origin is None:
        return None
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    if origin.rstrip("/").lower() == own.lower() or origin.rstrip("/") in allowed_origins:
        return None
    return (f"cross-origin request from {origin[:200]} refused: only this service's own page ({own}) may post "
            f"to it (allow another with --allow-origin ORIGIN)")


def error(status: int, message: str, headers: Optional[dict] = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status, headers=headers)


class Service:
    """The state behind the routes: one detector, its model thread, the admission count, the private folder."""

    def __init__(self, detector: Detector, settings: ServiceSettings):
        self.detector, self.settings = detector, settings
        self.model_queue = ModelQueue(detector, settings.max_batch)
        self.in_flight = 0  # scoring now; touched on the event loop's thread only
        self.receiving = 0  # bodies arriving now; likewise
        self.root = Path(tempfile.mkdtemp(prefix="deepfake-serve-"))  # mode 0700: this user's alone
        self._limiter: Optional[anyio.CapacityLimiter] = None

    def close(self) -> None:
        self.model_queue.close()
        shutil.rmtree(self.root, ignore_errors=True)

    async def on_worker(self, function: Callable, *args):
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(max(1, self.settings.workers))
        return await anyio.to_thread.run_sync(function, *args, limiter=self._limiter)

    async def predict_file(self, upload: Upload, options: PredictOptions) -> dict:
        """predict.py's JSON record for one uploaded file, or FileProblem."""
        if upload.size == 0:
            raise FileProblem(422, f"{upload.name}: empty file")
        extension = upload.extension
        if extension is None:
            raise FileProblem(415, f"{upload.name}: not an image or video this service reads (its first bytes "
                                   f"match no format it knows; the file name is not consulted)")
        path = upload.path.rename(upload.path.with_name(upload.path.name + extension))
        detector = self.detector
        try:
            if extension not in VIDEO_EXTENSIONS and not detector.scores_faces(options) and not options.explain:
                # A plain image: decoded here, on a worker thread; only the model's half waits for its thread,
                # which batches it with whatever else is waiting.
                crops, evidence = await self.on_worker(detector.prepare, path)
                probability = await asyncio.wrap_future(self.model_queue.score(crops))
                record = detector.verdict(path, probability, evidence).to_dict()
            else:  # faces, videos and Grad-CAM: the whole file on the model's thread
                record = await asyncio.wrap_future(self.model_queue.call(lambda: self._predict_whole(path, options)))
        except DeepfakeError as problem:  # the message names our file: name the client's instead
            raise FileProblem(422, str(problem).replace(str(path), upload.name)) from None
        record["path"] = upload.name
        return record

    def _predict_whole(self, path: Path, options: PredictOptions) -> dict:
        prediction = self.detector.predict_file(path, options)
        record = prediction.to_dict()
        if prediction.explanation is not None:
            record.update(prediction.explanation.fields(data_uri(prediction.explanation.picture)))
        return record

    def admit(self) -> Optional[JSONResponse]:
        if self.in_flight >= self.settings.queue_size:
            return error(503, f"busy: {self.in_flight} requests in progress (--queue-size "
                              f"{self.settings.queue_size}); retry shortly", {"Retry-After": "1"})
        self.in_flight += 1
        return None

    async def handle(self, request: Request, answer: Callable) -> JSONResponse:
        """The body into a private folder within the deadline, then admission, `answer(form)`, the folder
        removed."""
        settings = self.settings
        if self.receiving >= settings.max_receiving:
            return error(503, f"busy: {self.receiving} uploads arriving; retry shortly", {"Retry-After": "1"})
        self.receiving += 1
        folder = Path(tempfile.mkdtemp(prefix="request-", dir=self.root))
        try:
            try:
                form = await asyncio.wait_for(
                    receive_form(request.headers.get("content-type", ""), request.headers.get("content-length"),
                                 request.stream(), folder, settings.limit_bytes), settings.upload_timeout_s)
            except asyncio.TimeoutError:
                return error(408, f"the upload did not arrive within {settings.upload_timeout_s:g} s "
                                  f"(--upload-timeout); send it again on a faster connection")
            finally:
                self.receiving -= 1
            refused = self.admit()
            if refused is not None:
                return refused
            try:
                return await answer(form)
            finally:
                self.in_flight -= 1
        except (UploadRejected, FileProblem) as problem:
            return error(problem.status, str(problem))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    async def record_or_problem(self, upload: Upload, options: PredictOptions) -> dict:
        try:
            return await self.predict_file(upload, options)
        except FileProblem as problem:
            return {"path": upload.name, "error": str(problem), "status": problem.status}


def create_app(detector: Detector, settings: Optional[ServiceSettings] = None) -> FastAPI:
    """The FastAPI app over `detector`."""
    settings = settings or ServiceSettings()
    service = Service(detector, settings)

    async def lifespan(app):
        yield
        service.close()

    # FastAPI's own /docs and /redoc, with their scripts served from the fastapi-offline wheel, not a CDN.
    app = FastAPIOffline(title="deepfake", version=__version__, lifespan=lifespan,
                  description="Is an image or a video a deepfake or AI-generated? Label 1 = fake, 0 = real. "
                              "Scores are the shipped model's calibrated P(fake), compared with a threshold "
                              "chosen on validation data.")
    app.state.service = service

    @app.middleware("http")
    async def require_api_key(request: Request, call_next):
        refused = cross_site(request, settings.allowed_origins)
        if refused:
            return error(403, refused)
        if settings.api_key and request.url.path.startswith("/v1/"):
            given = request.headers.get("x-api-key") or ""
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() == "bearer":
                given = given or token
            if not secrets.compare_digest(given.encode(), settings.api_key.encode()):
                return error(401, "missing or wrong API key: send it as 'Authorization: Bearer KEY' or "
                                  "'X-API-Key: KEY'", {"WWW-Authenticate": "Bearer"})
        return await call_next(request)

    upload_body = {"content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"], "properties": {
            "file": {"type": "string", "format": "binary", "description": "an image or a video"},
            "faces": {"type": "boolean", "description": "score each detected face; the most suspicious decides"},
            "frames": {"type": "integer", "minimum": 1, "maximum": MAX_FRAMES,
                       "description": f"frames sampled per video (default {settings.frames})"},
            "aggregate": {"type": "string", "enum": sorted(AGGREGATIONS), "description": "frames -> video score"},
            "explain": {"type": "boolean", "description": "add a Grad-CAM overlay as a PNG data URL"}}}}}}
    batch_body = {"content": {"multipart/form-data": {"schema": dict(
        upload_body["content"]["multipart/form-data"]["schema"], required=["files"], properties=dict(
            {key: value for key, value in upload_body["content"]["multipart/form-data"]["schema"]["properties"]
             .items() if key != "file"},
            files={"type": "array", "items": {"type": "string", "format": "binary"}}))}}}

    @app.post("/v1/predict", openapi_extra={"requestBody": upload_body},
              summary="One file: predict.py's JSON record (label, fake_probability, faces, frames, evidence)")
    async def predict(request: Request):
        async def answer(form):
            if len(form.files) != 1:
                raise FileProblem(422, f"send exactly one file in the 'file' field (got {len(form.files)}); "
                                       f"several go to /v1/predict/batch")
            return JSONResponse(await service.predict_file(form.files[0], parse_options(form.fields, settings)))
        return await service.handle(request, answer)

    @app.post("/v1/predict/batch", openapi_extra={"requestBody": batch_body},
              summary="Several files: one record each, in the order sent; a file that fails has an error")
    async def predict_batch(request: Request):
        async def answer(form):
            if not form.files:
                raise FileProblem(422, "send one or more files in the 'files' field")
            options = parse_options(form.fields, settings)
            records: List[dict] = await asyncio.gather(*(service.record_or_problem(upload, options)
                                                         for upload in form.files))
            failed = sum("error" in record for record in records)
            return JSONResponse({"results": records, "n_scored": len(records) - failed, "n_failed": failed})
        return await service.handle(request, answer)

    @app.get("/v1/health", summary="The model, the package version, the threshold and the load")
    async def health():
        return {"status": "ok", "model": detector.card.arch, "version": __version__,
                "threshold": detector.threshold, "device": str(detector.device),
                "queue": {"in_flight": service.in_flight, "limit": settings.queue_size},
                "max_upload_mb": settings.max_upload_mb, "aggregations": sorted(AGGREGATIONS)}

    @app.get("/v1/model", summary="The model card's summary: data, preprocessing, calibration, metrics")
    async def model():
        return describe(detector.card, detector.model)

    page = page_html()

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home():
        return HTMLResponse(page, headers={"Content-Security-Policy": PAGE_POLICY,
                                           "X-Content-Type-Options": "nosniff"})

    return app
