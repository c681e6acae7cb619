#!/usr/bin/env bash
# Leave-one-set-out: train on two of the shared sets, score every image of the third (never seen, never
# used to choose the threshold). One command per direction:
#   bash tools/cross_domain.sh faces-stylegan      # train on diffusion-coco + faceswap-frames
#   bash tools/cross_domain.sh diffusion-coco      # train on faces-stylegan + faceswap-frames
#   bash tools/cross_domain.sh faceswap-frames     # train on faces-stylegan + diffusion-coco
# Same recipe as the shipped weights (see weights/MODEL_CARD.md) at EPOCHS epochs (default 8), plus any
# train.py flags in FLAGS under the name TAG, e.g. FLAGS="--mixup 0.2" TAG=mixup (later flags override the
# recipe's: FLAGS="--relight-probability 0 --weight-decay 1e-4" is the recipe shipped before).
# Writes runs/xdomain[_TAG]_without_<set>/ and runs/card/xdomain[_TAG]_<set>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
D=../shared/datasets
HELD_OUT=${1:?name the held-out set: faces-stylegan, diffusion-coco or faceswap-frames}
EPOCHS=${EPOCHS:-8}
read -ra EXTRA <<< "${FLAGS:-}"
NAME=xdomain${TAG:+_$TAG}
TRAIN=()
for set in faces-stylegan diffusion-coco faceswap-frames; do
  [ "$set" = "$HELD_OUT" ] || TRAIN+=("$D/$set")
done
[ ${#TRAIN[@]} -eq 2 ] || { echo "unknown set: $HELD_OUT" >&2; exit 2; }
OUT=runs/${NAME}_without_$HELD_OUT
mkdir -p runs/card
$PY train.py --data "${TRAIN[@]}" --arch artifact_cnn_deep --balance-sets --amp --resize 128 --epochs "$EPOCHS" \
  --relight-probability 0.3 --weight-decay 0.05 ${EXTRA[@]+"${EXTRA[@]}"} --out "$OUT"
$PY evaluate.py --data "$D/$HELD_OUT" --split all --weights "$OUT/best.safetensors" \
  --json "runs/card/${NAME}_$HELD_OUT.json"
