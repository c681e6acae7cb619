#!/usr/bin/env bash
# Every in-distribution figure in weights/MODEL_CARD.md, measured on the shipped weights (or W=FILE): per set,
# on its validation split, ROC-AUC and the rest, ECE, the robustness table, video level on faceswap-frames;
# MesoNet's four published checkpoints on the same images; the 5%-false-positive operating point; the face
# detector. Needs ../shared/ beside the project. Writes JSON/CSV into runs/card/ (OUT=DIR to change).
# Leave-one-set-out and reals-only are trained models of their own: experiments/cross_domain.sh, experiments/reals_only.sh.
# SKIP_MESO=1 keeps MesoNet's files from an earlier run (they do not depend on W); SKIP_STRESS=1 leaves the
# stress sweep out.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
D=../shared/datasets
W=${W:-weights/deepfake_cnn.safetensors}
OUT=${OUT:-runs/card}
SETS=(faces-stylegan diffusion-coco faceswap-frames dfdc-faces)
mkdir -p "$OUT/meso"

# The four published MesoNet checkpoints, converted (not committed: they derive from MesoNet's files).
for name in Meso4_DF Meso4_F2F MesoInception_DF MesoInception_F2F; do
  [ -n "${SKIP_MESO:-}" ] && break
  $PY -m deepfake.convert mesonet ../shared/anchors/mesonet/weights/$name.h5 "$OUT/meso/$name.safetensors"
done

for set in "${SETS[@]}"; do
  per_video=""
  if [ "$set" = faceswap-frames ]; then per_video=--per-video; fi  # a video = one sub-folder, mean of its frames
  $PY evaluate.py --data $D/$set --split val --weights "$W" $per_video --robustness --json "$OUT/$set.json" \
    --scores "$OUT/$set.scores.csv"
  # MesoNet records no split: --split val gives it the training default's, the shipped model's images.
  [ -n "${SKIP_MESO:-}" ] || $PY evaluate.py --data $D/$set --split val --weights "$OUT"/meso/*.safetensors --scores "$OUT/$set.meso.csv" \
    --json "$OUT/$set.meso.json" > /dev/null
done

# The operating point for moderation: the threshold that flags at most 5% of all validation reals, and each
# set's recall and false-positive rate there; MesoNet's at its own such threshold.
$PY - "$OUT" "${SETS[@]}" <<'PYTHON'
import csv, sys
from deepfake.evaluation.metrics import binary_metrics, choose_threshold
out, sets = sys.argv[1], sys.argv[2:]
rows = {name: list(csv.DictReader(open(f"{out}/{name}.scores.csv"))) for name in sets}
labels = [int(r["label"]) for name in sets for r in rows[name]]
scores = [float(r["fake_probability"]) for name in sets for r in rows[name]]
threshold = choose_threshold(labels, scores, "fpr_5")
print(f"fpr_5 threshold on all validation reals: {threshold:.4f}")
for name in sets:
    m = binary_metrics([int(r["label"]) for r in rows[name]], [float(r["fake_probability"]) for r in rows[name]],
                       threshold)
    (tn, fp), (fn, tp) = m["confusion_matrix"]
    print(f"{name}: recall {m['recall']:.4f}, false-positive rate {fp / (fp + tn):.4f}, precision {m['precision']:.4f}")
PYTHON

# Stress: lighting and resolution on 400 validation images of the four sets, and evasion of 50 fakes, white box
# and transferred from MesoNet; draws runs/card/plots/stress.png, which README shows.
[ -n "${SKIP_STRESS:-}" ] || $PY evaluate.py --data "${SETS[@]/#/$D/}" --split val --weights "$W" --stress \
  --transfer-from "$OUT/meso/Meso4_DF.safetensors" --json "$OUT/stress.json" --plots "$OUT/plots"

# Face detectors (predict.py --faces): recall and speed of MTCNN and the Haar cascade on the shared face sets.
$PY experiments/face_detectors.py --per-class 200 --shared "$D" | tee "$OUT/face_detectors.md"
