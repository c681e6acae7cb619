"""A prediction as users read it outside Python: the CSV row of predict.py --csv and of the service page's
download (the page is served with these very columns, so the two never drift), and what a "real" verdict means.
A prediction's JSON record is Prediction.to_dict()."""
CSV_COLUMNS = ("path", "kind", "label", "fake_probability", "n_faces", "n_frames", "aggregation", "note",
               "explanation", "decided_by", "evidence", "error", "model")
# What a "real" verdict is worth (weights/MODEL_CARD.md: near chance on generators the model never saw): said
# once per run on a terminal, and beside every verdict on the service's page.
REAL_MEANS = "'real' means the model found no sign of generation, not that the picture is authentic"


# A spreadsheet runs a cell that starts with one of these as a formula: a file named "=HYPERLINK(...).jpg"
# would become a link in the user's sheet. OWASP's advice: prefix such a cell with a quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def csv_row(record: dict) -> dict:
    """predict.py's CSV row for one JSON record: a scored file, or a failed one ({"path", "error"}); text
    cells that a spreadsheet would run as a formula are escaped."""
    if "error" in record:
        row = {"path": record["path"], "error": record["error"]}
    else:
        from ..provenance.evidence import compact as compact_evidence  # not at import: `predict --help` stays light
        frames = record.get("frames")
        faces = record.get("faces")
        row = {"path": record["path"], "kind": "video" if frames is not None else "image",
               "label": record["label"], "fake_probability": record["fake_probability"],
               "n_faces": "" if faces is None else len(faces), "n_frames": "" if frames is None else len(frames),
               "aggregation": record.get("aggregation", ""), "note": record.get("note", ""),
               "explanation": record.get("explanation", ""), "decided_by": record["decided_by"],
               "evidence": compact_evidence(record["evidence"]), "model": record.get("model", "")}
    return {key: spreadsheet_safe(value) for key, value in row.items()}
