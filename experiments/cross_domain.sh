#!/usr/bin/env bash
# Leave-one-set-out: train on three of the four shared sets, score every image of the fourth (never seen, never
# used to choose the threshold). One command per direction:
#   bash experiments/cross_domain.sh faces-stylegan | diffusion-coco | faceswap-frames | dfdc-faces
# The v2 recipe (tools/recipe.sh) at EPOCHS (default 2) epochs of EPOCH_SIZE (default 6000) images, plus any
# train.py flags in FLAGS under the name TAG, e.g. FLAGS="--pseudo-fakes sbi" TAG=sbi.
# Writes runs/xdomain[_TAG]_without_<set>/ and runs/card/xdomain[_TAG]_<set>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/recipe.sh
HELD_OUT=${1:?name the held-out set: ${SETS[*]}}
NAME=xdomain${TAG:+_$TAG}
TRAIN=()
for set in "${SETS[@]}"; do
  [ "$set" = "$HELD_OUT" ] || TRAIN+=("$D/$set")
done
[ ${#TRAIN[@]} -eq 3 ] || { echo "unknown set: $HELD_OUT (one of: ${SETS[*]})" >&2; exit 2; }
OUT=runs/${NAME}_without_$HELD_OUT
mkdir -p runs/card
$PY train.py --data "${TRAIN[@]}" "${RECIPE[@]}" --epochs "${EPOCHS:-2}" --epoch-size "${EPOCH_SIZE:-6000}" \
  ${EXTRA[@]+"${EXTRA[@]}"} --out "$OUT"
$PY evaluate.py --data "$D/$HELD_OUT" --split all --weights "$OUT/best.safetensors" \
  --json "runs/card/${NAME}_$HELD_OUT.json"
