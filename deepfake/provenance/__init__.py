"""Provenance: what a file says about where it came from (C2PA, XMP, PNG text, EXIF, invisible watermarks),
reported beside the model's score as separate evidence."""
from .evidence import EVIDENCE_MODES, KINDS, SAYS, Evidence, compact, deciding_evidence
from .reader import READERS, read_evidence

__all__ = ["EVIDENCE_MODES", "KINDS", "SAYS", "Evidence", "READERS", "compact", "deciding_evidence",
           "read_evidence"]
