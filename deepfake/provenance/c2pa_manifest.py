"""C2PA Content Credentials, read with the C2PA SDK (c2pa-python): who made the claim, what its actions declare
(IPTC digital source types), and whether it holds: a valid signature by a trusted signer (verified), a valid
one by a signer on no trust list the user gave (well-formed, unverified), or a broken claim (the file changed
after signing, or the manifest was moved from another file), which then proves nothing about this file.

Nothing is fetched: remote manifests and OCSP are off, and trust anchors come only from the user."""
import io
from functools import lru_cache
from pathlib import Path
from typing import List, Optional, Union

from ..errors import DeepfakeError
from .evidence import Evidence, note
from .vocabulary import digital_source_type

# The formats the SDK reads embedded manifests from, by what the file's bytes say it is.
MIME_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "TIFF": "image/tiff",
              "GIF": "image/gif", ".mp4": "video/mp4", ".mov": "video/quicktime", ".m4v": "video/x-m4v",
              ".avi": "video/avi"}
ACTION_LABELS = ("c2pa.actions", "c2pa.actions.v2")
STRENGTH = ("ai_generated", "ai_edited", "camera", "unknown")  # what a manifest says when actions disagree


@lru_cache(maxsize=4)
def _context(trust_anchors: Optional[str]):
    import c2pa
    settings = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
    if trust_anchors:
        settings["trust"] = {"trust_anchors": trust_anchors}
    return c2pa.Context.from_dict(settings)


def load_trust_anchors(path) -> Optional[str]:
    """The PEM text of --trust-anchors, checked to hold at least one certificate."""
    if path is None:
        return None
    try:
        text = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        raise DeepfakeError(f"{path}: cannot read trust anchors ({error})") from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise DeepfakeError(f"{path}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    return text


def _declared(manifest: dict) -> tuple:
    """(says, words) from the actions' digital source types: the strongest declaration wins."""
    types = []
    for assertion in manifest.get("assertions") or []:
        if assertion.get("label") in ACTION_LABELS:
            for action in (assertion.get("data") or {}).get("actions") or []:
                if action.get("digitalSourceType"):
                    types.append((action.get("action", "action"), *digital_source_type(action["digitalSourceType"])))
    if not types:
        return "unknown", "no digital source type declared"
    says = min((declared for _, declared, _ in types), key=STRENGTH.index)
    return says, ", ".join(f"{action}: {name}" for action, _, name in types)


def _generator(manifest: dict) -> str:
    info = manifest.get("claim_generator_info") or []
    names = [" ".join(str(item.get(key, "")) for key in ("name", "version")).strip() for item in info
             if isinstance(item, dict)]
    return ", ".join(name for name in names if name) or str(manifest.get("claim_generator") or "unnamed")


def _signer(manifest: dict) -> str:
    signature = manifest.get("signature_info") or {}
    return f"{signature.get('common_name') or signature.get('issuer') or 'unknown signer'}" + (
        f" (issuer {signature['issuer']})" if signature.get("issuer") and signature.get("common_name") else "")


def read_c2pa(source: Union[bytes, Path], container: Optional[str],
              trust_anchors: Optional[str] = None) -> List[Evidence]:
    """`source`: an image's bytes, or a video's path (streamed); `container`: PIL's format name for an image, or
    a video's suffix. Formats the SDK cannot read give []."""
    mime = MIME_TYPES.get(container or "")
    if mime is None:
        return []
    if isinstance(source, bytes) and b"c2pa" not in source:
        return []  # every embedded manifest store is a JUMBF box labelled "c2pa": skip the SDK's parse
    import c2pa
    try:
        with (io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")) as stream:
            reader = c2pa.Reader.try_create(mime, stream, context=_context(trust_anchors))
            if reader is None:
                return []
            with reader:
                manifest = reader.get_active_manifest() or {}
                state = reader.get_validation_state()
                results = (reader.get_validation_results() or {}).get("activeManifest") or {}
    except c2pa.C2paError as error:
        return [note("c2pa", f"C2PA store present but unreadable ({error}); it says nothing either way")]
    failures = [item.get("code", "") for item in results.get("failure") or []]
    says, declared = _declared(manifest)
    who = f"claim by {_generator(manifest)}, signed by {_signer(manifest)}"
    if state == "Trusted":
        return [Evidence("c2pa", says, f"C2PA {who}; {declared}; signature trusted", verified=True)]
    broken = [code for code in failures if code != "signingCredential.untrusted"]
    if state == "Valid" and not broken:
        return [Evidence("c2pa", says, f"C2PA {who}; {declared}; well-formed, but the signer is on no trust list "
                                       f"given (--trust-anchors)", verified=False)]
    return [note("c2pa", f"C2PA {who}; {declared}; claim invalid ({', '.join(broken) or state}): the file changed "
                         f"after signing or the manifest belongs to another file, so it proves nothing here")]
