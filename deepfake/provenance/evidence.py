"""One piece of provenance evidence: what a file's metadata or watermark declares, beside the model's score."""
from dataclasses import asdict, dataclass
from typing import List, Optional, Sequence

KINDS = ("c2pa", "xmp", "png_text", "exif", "watermark")
SAYS = ("ai_generated", "ai_edited", "camera", "unknown")

# How predict.py uses evidence: "decide" lets an AI-generation declaration set the label, "report" only lists it,
# "off" skips reading (for speed).
EVIDENCE_MODES = ("decide", "report", "off")

DETAIL_CHARS = 300  # a detail quotes metadata written by whoever made the file: keep it one readable line


@dataclass(frozen=True)
class Evidence:
    kind: str      # one of KINDS: where it was read
    says: str      # one of SAYS
    detail: str    # what exactly was read, in words
    verified: bool  # True only for a C2PA claim whose signature chains to a trust anchor the user supplied
    decisive: bool = True  # False for notes (a bound hit, a broken store) and weak traces: they never decide

    def __post_init__(self):
        if self.kind not in KINDS or self.says not in SAYS:
            raise ValueError(f"evidence kind {self.kind!r} / says {self.says!r} is not in {KINDS} / {SAYS}")
        object.__setattr__(self, "detail", one_line(self.detail))

    def to_dict(self) -> dict:
        record = asdict(self)
        del record["decisive"]
        return record


def note(kind: str, detail: str) -> Evidence:
    """A reader's remark (a limit reached, a malformed store): says nothing either way, never decides."""
    return Evidence(kind, "unknown", detail, verified=False, decisive=False)


def one_line(text: str, limit: int = DETAIL_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def deciding_evidence(evidence: Optional[Sequence[Evidence]]) -> Optional[Evidence]:
    """The declaration that decides a label under --evidence decide: the first that says ai_generated and may
    decide (a verified one first). Absence of metadata is never evidence, so no declaration decides nothing."""
    candidates = [item for item in evidence or () if item.says == "ai_generated" and item.decisive]
    candidates.sort(key=lambda item: not item.verified)  # stable: verified first, then reading order
    return candidates[0] if candidates else None


def compact(evidence: Optional[List[dict]]) -> str:
    """One CSV cell from a prediction record's evidence: kind:says per item, "(verified)" where it is, e.g.
    "c2pa:ai_generated (verified); exif:camera"; "" for none found, "not read" under --evidence off."""
    if evidence is None:
        return "not read"
    return "; ".join(f"{item['kind']}:{item['says']}{' (verified)' if item['verified'] else ''}" for item in evidence)
