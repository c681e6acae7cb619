"""The service's settings: plain data, importable without the web stack (the command line reads its defaults)."""
from dataclasses import dataclass
from typing import Optional, Tuple


@dataclass
class ServiceSettings:
    max_upload_mb: float = 50.0  # the largest request body
    api_key: Optional[str] = None
    queue_size: int = 64  # predict requests in the building at once; one more gets 503
    workers: int = 2  # threads that decode and crop uploads
    max_batch: int = 32  # images per model call
    frames: int = 16  # a video's frames when the request does not say
    face_detector: Optional[str] = None  # faces=true's detector; None: the checkpoint's own, else the default
    # A body must arrive whole within this many seconds (50 MB at 1.4 MB/s): a client that trickles its upload
    # gets 408, and holds no admission slot meanwhile, since admission comes after the body.
    upload_timeout_s: float = 36.0
    # Bodies being received at once; with the deadline above, slow clients hold these for a bounded time.
    max_receiving: int = 256
    # Origins (scheme://host:port) besides the service's own that may POST to it: browsers send a multipart
    # form cross-site with no preflight, so without this check any page a user visits could upload to it.
    allowed_origins: Tuple[str, ...] = ()

    @property
    def limit_bytes(self) -> int:
        return int(self.max_upload_mb * 2**20)
