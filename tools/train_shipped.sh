#!/usr/bin/env bash
# Rebuild the shipped weights (weights/deepfake_cnn.safetensors, detector v3) from nothing but the shared sets and
# the corpus, in two stages, and record the time:
#   bash tools/train_shipped.sh     # writes runs/v2/ and runs/v3/; copy runs/v3/best.safetensors to weights/
# 1. v2: the recipe (tools/recipe.sh) on the four shared sets, V2_EPOCHS (default 4) epochs of V2_EPOCH_SIZE
#    (default 8000) images, an equal share of each set.
# 2. v3: v2 fine-tuned (--init-from, --lr 1e-4) on every folder of the corpus, the four shared sets included (the
#    corpus links them), never on its real pool (kept for measuring): EPOCHS (default 2) epochs of EPOCH_SIZE
#    (default 6000) images, an equal share of each of the 23 folders. Starting from v2 keeps what it learnt of
#    the shared sets; trained from ImageNet at this budget they fell by 0.09-0.24 (docs/experiments.md).
# The corpus is built first if data/corpus is absent: MIRROR (default /work/.mirror) holds the repositories that
# data/sources.toml names, one bare git directory each (data/README.md says how to get them). STAGE=v2 runs
# stage 1 alone; STAGE=v3 stage 2 alone, from the v2 already at V2 (default runs/v2/best.safetensors). FLAGS adds
# train.py flags to both. The wall time of each stage is written to its folder's train_seconds.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/recipe.sh
V2="${V2:-runs/v2/best.safetensors}"
OUT="${OUT:-runs/v3}"
CORPUS="${CORPUS:-data/corpus}"
if [ "${STAGE:-all}" != v3 ]; then
  SECONDS=0
  $PY train.py --data "${SETS[@]/#/$D/}" "${RECIPE[@]}" --epochs "${V2_EPOCHS:-4}" --epoch-size "${V2_EPOCH_SIZE:-8000}" \
    ${EXTRA[@]+"${EXTRA[@]}"} --out "$(dirname "$V2")"
  echo "$SECONDS" > "$(dirname "$V2")/train_seconds.txt"
  [ "${STAGE:-all}" != v2 ] || exit 0
fi
[ -d "$CORPUS/sources" ] || $PY -m deepfake.corpus build --mirror "${MIRROR:-/work/.mirror}" --out "$CORPUS"
SECONDS=0
$PY train.py --data "$CORPUS"/sources/* "${RECIPE[@]}" --init-from "$V2" --lr 1e-4 --epochs "${EPOCHS:-2}" \
  --epoch-size "${EPOCH_SIZE:-6000}" ${EXTRA[@]+"${EXTRA[@]}"} --out "$OUT"
echo "$SECONDS" > "$OUT/train_seconds.txt"
echo "trained in $SECONDS s: $OUT/best.safetensors"
