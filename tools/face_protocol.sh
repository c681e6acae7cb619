#!/usr/bin/env bash
# The face model's protocol (issue 49): leave one face family out, each held-out family scored against its own
# reals, plus a reals-only row; docs/experiments.md ("The face model") holds the table.
#   ROW=sbi bash tools/face_protocol.sh          # one row: a run per held-out family, then its scores
# Rows (ROW): sbi (self-blended faces added), plain (the sets alone), sbi-v3 and plain-v3 (the same, started
# from the shipped whole-image model, v3), reals-only (the three sets' reals and their self-blends, never a
# real fake: one run, scored on every family). A run trains on the other two face sets as they are (they are
# face crops: --face-crops), at the whole-image model's recipe; its scores are each set's validation split
# (the split every checkpoint of the project records: the same images for every row), written to
# runs/faces/ROW/<run>_on_<set>.json. EPOCHS (default 2) x EPOCH_SIZE (default 3000) images per run; a finished
# run is not trained again, an interrupted one resumes. Self-blends are made once, in runs/pseudo_fakes.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/recipe.sh
FACE_SETS=(faceswap-frames dfdc-faces faces-stylegan)
ROW="${ROW:-sbi}"
OUT="runs/faces/$ROW"
FLAGS_OF_ROW=()
case "$ROW" in
  sbi) FLAGS_OF_ROW=(--pseudo-fakes sbi) ;;
  plain) ;;
  sbi-v3) FLAGS_OF_ROW=(--pseudo-fakes sbi --init-from weights/deepfake_cnn.safetensors --lr 1e-4) ;;
  plain-v3) FLAGS_OF_ROW=(--init-from weights/deepfake_cnn.safetensors --lr 1e-4) ;;
  reals-only) FLAGS_OF_ROW=(--pseudo-fakes sbi --reals-only) ;;
  *) echo "unknown ROW $ROW: sbi, plain, sbi-v3, plain-v3 or reals-only" >&2; exit 2 ;;
esac
mkdir -p "$OUT"

train() {  # RUN_NAME SET...
  local name=$1; shift
  local resume=()
  [ -f "$OUT/$name/finished" ] && return 0
  [ -f "$OUT/$name/last.pt" ] && resume=(--resume)
  SECONDS=0
  $PY train.py --data "${@/#/$D/}" "${RECIPE[@]}" --face-crops ${FLAGS_OF_ROW[@]+"${FLAGS_OF_ROW[@]}"} \
    --epochs "${EPOCHS:-2}" --epoch-size "${EPOCH_SIZE:-3000}" ${EXTRA[@]+"${EXTRA[@]}"} \
    ${resume[@]+"${resume[@]}"} --out "$OUT/$name"
  echo "$SECONDS" > "$OUT/$name/finished"  # the wall time, in seconds
}

score() {  # RUN_NAME SET
  local per_video=()
  [ "$2" = faceswap-frames ] && per_video=(--per-video)  # one folder per video: its figure per video too
  [ -f "$OUT/$1_on_$2.json" ] || $PY evaluate.py --data "$D/$2" --split val --weights "$OUT/$1/best.safetensors" \
    --json "$OUT/$1_on_$2.json" ${per_video[@]+"${per_video[@]}"} > /dev/null
}

if [ "$ROW" = reals-only ]; then
  train all "${FACE_SETS[@]}"
  for set in "${FACE_SETS[@]}"; do score all "$set"; done
  exit 0
fi
for held_out in "${FACE_SETS[@]}"; do
  others=()
  for set in "${FACE_SETS[@]}"; do [ "$set" != "$held_out" ] && others+=("$set"); done
  train "without-$held_out" "${others[@]}"
  for set in "${FACE_SETS[@]}"; do score "without-$held_out" "$set"; done
done
