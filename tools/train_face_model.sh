#!/usr/bin/env bash
# Rebuild the shipped face model (weights/deepfake_faces.safetensors) from the three shared face sets, and record
# the time:
#   bash tools/train_face_model.sh    # writes runs/face_model/; copy its best.safetensors to weights/
# The whole-image recipe (tools/recipe.sh: MobileNetV2, 224 px, an equal share of each set), started from the
# shipped whole-image model (v3, --init-from, --lr 1e-4, as v3 started from v2), on faceswap-frames, dfdc-faces
# and faces-stylegan as they are (face crops: --face-crops, so that the checkpoint crops faces at prediction),
# every training face, real or fake, through the format-blind chain (--format-blind: one re-save must not move a
# verdict), EPOCHS (default 3) x EPOCH_SIZE (default 4000) images. No self-blended faces: the protocol's rule
# chose the face sets alone (docs/experiments.md, "The face model"). Interrupted, it resumes from its last.pt.
# FLAGS adds train.py flags.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/recipe.sh
OUT="${OUT:-runs/face_model}"
resume=()
[ -f "$OUT/last.pt" ] && resume=(--resume)
SECONDS=0
$PY train.py --data "$D/faceswap-frames" "$D/dfdc-faces" "$D/faces-stylegan" "${RECIPE[@]}" --face-crops \
  --format-blind --init-from weights/deepfake_cnn.safetensors --lr 1e-4 --epochs "${EPOCHS:-3}" \
  --epoch-size "${EPOCH_SIZE:-4000}" ${EXTRA[@]+"${EXTRA[@]}"} ${resume[@]+"${resume[@]}"} --out "$OUT"
echo "$SECONDS" > "$OUT/train_seconds.txt"
echo "trained in $SECONDS s: $OUT/best.safetensors"
