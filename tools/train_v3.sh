#!/usr/bin/env bash
# Detector v3, the candidate the rule picked (docs/experiments.md, "Detector v3"): the v2 recipe on every folder
# of the corpus, the four shared sets included (the corpus links them), never on its real pool (kept for measuring).
#   bash tools/train_v3.sh      # writes runs/v3/; not shipped yet: at this budget the four sets lose 0.09-0.24
# The corpus is built first if data/corpus is absent: MIRROR (default /work/.mirror) holds the repositories that
# data/sources.toml names, one bare git directory each (data/README.md says how to get them).
# EPOCHS (default 2) epochs of EPOCH_SIZE (default 6000) images each, an equal share of each of the 23 folders:
# the run measured there (2,029 s on 2 cores without bfloat16 instructions).
# The wall time is written to OUT/train_seconds.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/recipe.sh
OUT="${OUT:-runs/v3}"
CORPUS="${CORPUS:-data/corpus}"
SECONDS=0
[ -d "$CORPUS/sources" ] || $PY -m deepfake.corpus build --mirror "${MIRROR:-/work/.mirror}" --out "$CORPUS"
$PY train.py --data "$CORPUS"/sources/* "${RECIPE[@]}" --epochs "${EPOCHS:-2}" --epoch-size "${EPOCH_SIZE:-6000}" \
  ${EXTRA[@]+"${EXTRA[@]}"} --out "$OUT"
echo "$SECONDS" > "$OUT/train_seconds.txt"
echo "trained in $SECONDS s: $OUT/best.safetensors"
